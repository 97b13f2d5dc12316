import { createServer, type Server } from 'node:http';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ResponseParser } from './response-parser.js';

function parseAll(chunks: Buffer[]): { statuses: number[]; errors: string[] } {
  const statuses: number[] = [];
  const errors: string[] = [];
  const p = new ResponseParser(
    (s) => statuses.push(s),
    (e) => errors.push(e),
  );
  for (const c of chunks) p.feed(c);
  return { statuses, errors };
}

/** Every way to cut `buf` in two, plus one byte at a time. */
function splits(buf: Buffer): Buffer[][] {
  const out: Buffer[][] = [];
  for (let i = 1; i < buf.length; i++) out.push([buf.subarray(0, i), buf.subarray(i)]);
  out.push([...buf].map((b) => Buffer.from([b])));
  return out;
}

const CONTENT_LENGTH = 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello';
const CHUNKED = 'HTTP/1.1 201 Created\r\ntransfer-encoding: chunked\r\n\r\n4;ext=1\r\nwiki\r\n5\r\npedia\r\n0\r\nx-trailer: yes\r\n\r\n';
const NO_BODY = 'HTTP/1.1 204 No Content\r\nX-A: b\r\n\r\n';
const EMPTY = 'HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n';

describe('ResponseParser', () => {
  it('frames Content-Length, chunked (with extensions and trailers), 204 and empty responses back to back', () => {
    const stream = Buffer.from(CONTENT_LENGTH + CHUNKED + NO_BODY + EMPTY + CONTENT_LENGTH, 'latin1');
    expect(parseAll([stream])).toEqual({ statuses: [200, 201, 204, 404, 200], errors: [] });
  });

  it('gives the same answer however the bytes are split across reads', () => {
    const stream = Buffer.from(CHUNKED + CONTENT_LENGTH + NO_BODY, 'latin1');
    for (const chunks of splits(stream)) expect(parseAll(chunks)).toEqual({ statuses: [201, 200, 204], errors: [] });
  });

  it('does not end a response early when the head terminator straddles two reads', () => {
    const head = 'HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r';
    expect(parseAll([Buffer.from(head), Buffer.from('\nabc')]).statuses).toEqual([200]);
    expect(parseAll([Buffer.from('HTTP/1.1 200 OK\r\ncontent-length: 3\r\n'), Buffer.from('\r\nab')]).statuses).toEqual([]);
  });

  it('reports garbage and unframed bodies instead of hanging', () => {
    expect(parseAll([Buffer.from('garbage garbage\r\n\r\n')]).errors[0]).toMatch(/not an HTTP response/);
    expect(parseAll([Buffer.from('HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nbody')]).errors[0]).toMatch(/without Content-Length or chunked/);
    expect(parseAll([Buffer.from('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n')]).errors[0]).toMatch(/bad chunk size/);
  });
});

describe('ResponseParser on a real Node server', () => {
  let server: Server;
  let port: number;

  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url === '/chunked') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('{"a":');
        res.end('1}');
      } else if (req.url === '/large') {
        res.writeHead(200, { 'content-length': String(200_000) });
        res.end(Buffer.alloc(200_000, 0x61));
      } else {
        res.writeHead(418, { 'content-length': '2' });
        res.end('no');
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('frames chunked, large and error responses on one keep-alive connection, one request at a time', async () => {
    const statuses: number[] = [];
    const errors: string[] = [];
    const paths = ['/chunked', '/large', '/other', '/chunked', '/large'];
    await new Promise<void>((resolve, reject) => {
      const s = connect(port, '127.0.0.1');
      let i = 0;
      const send = (): void => void s.write(`GET ${paths[i]} HTTP/1.1\r\nhost: x\r\n\r\n`);
      const parser = new ResponseParser(
        (status) => {
          statuses.push(status);
          if (++i < paths.length) send();
          else {
            s.end();
            resolve();
          }
        },
        (e) => {
          errors.push(e);
          reject(new Error(e));
        },
      );
      s.on('data', (d: Buffer) => parser.feed(d));
      s.on('error', reject);
      s.on('connect', send);
    });
    expect(errors).toEqual([]);
    expect(statuses).toEqual([200, 200, 418, 200, 200]);
  });
});
