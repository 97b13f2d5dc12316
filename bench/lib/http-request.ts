/**
 * A bench request as the bytes an HTTP/1.1 keep-alive client sends: request line, Host, the
 * scenario's headers, Content-Length when there is a body, then the body. Built once per request
 * variant before a load starts (wrk's request file, the open-loop generator), never per request.
 */
import type { BenchRequest } from '../scenarios/types.js';

/** `host` is the default Host header; a scenario's own `host` header wins (host-based routes). */
export function rawRequest(req: BenchRequest, host: string): Buffer {
  const body = req.body === undefined ? null : Buffer.from(req.body, 'utf8');
  const headers = Object.entries(req.headers ?? {}).filter(([name]) => name.toLowerCase() !== 'content-length');
  let head = `${req.method} ${req.path} HTTP/1.1\r\n`;
  if (!headers.some(([name]) => name.toLowerCase() === 'host')) head += `host: ${host}\r\n`;
  for (const [name, value] of headers) head += `${name}: ${value}\r\n`;
  if (body !== null) head += `content-length: ${body.length}\r\n`;
  head += '\r\n';
  return body === null ? Buffer.from(head, 'latin1') : Buffer.concat([Buffer.from(head, 'latin1'), body]);
}
