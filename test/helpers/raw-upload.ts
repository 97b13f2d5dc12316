/**
 * Uploads a generated body over a raw TCP socket while reading whatever the server answers,
 * for scenarios an HTTP client library handles badly: an answer that arrives (and a
 * connection that closes) while the body is still going out, or a client that vanishes
 * halfway through its own upload.
 */
import { connect } from 'node:net';
import { patternStream } from './payload.js';

export interface RawUploadResult {
  /** Status of the first response seen, or null. */
  status: number | null;
  /** Everything received (latin1). */
  text: string;
  /** Body bytes handed to the socket. */
  sent: number;
  /** The server closed the connection. */
  closed: boolean;
  /** The deadline hit before the server answered and closed. */
  timedOut: boolean;
  /** ms from the start to the first response byte (null if none). */
  answeredAfterMs: number | null;
}

export interface RawUploadOptions {
  method?: string;
  path: string;
  /** Body size; with `chunked`, sent as chunks of the generated stream. */
  total: number;
  chunked?: boolean;
  /** Destroy the socket ourselves once this many body bytes went out (client abort). */
  abortAfter?: number;
  /** Awaited (with the upload paused) just before the abort, e.g. until the upstream saw the body start. */
  beforeAbort?: () => Promise<void>;
  /** Give up (and destroy the socket) after this long. */
  deadlineMs?: number;
  /** Resolve as soon as a complete response (head + Content-Length body) arrived. */
  resolveOnResponse?: boolean;
}

export function rawUpload(port: number, opts: RawUploadOptions): Promise<RawUploadResult> {
  return new Promise((resolve) => {
    const started = Date.now();
    const sock = connect(port, '127.0.0.1');
    const body = patternStream(opts.total);
    let text = '';
    let sent = 0;
    let closed = false;
    let answeredAt: number | null = null;
    let settled = false;

    const finish = (timedOut: boolean): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      body.destroy();
      sock.destroy();
      const m = /^HTTP\/1\.1 (\d{3})/.exec(text);
      resolve({ status: m ? Number(m[1]) : null, text, sent, closed, timedOut, answeredAfterMs: answeredAt === null ? null : answeredAt - started });
    };
    const timer = setTimeout(() => finish(true), opts.deadlineMs ?? 10_000);

    sock.on('data', (d: Buffer) => {
      answeredAt ??= Date.now();
      text += d.toString('latin1');
      if (opts.resolveOnResponse) {
        const headEnd = text.indexOf('\r\n\r\n');
        const cl = /\r\ncontent-length: *(\d+)/i.exec(text.slice(0, headEnd));
        if (headEnd >= 0 && cl !== null && text.length >= headEnd + 4 + Number(cl[1])) finish(false);
      }
    });
    sock.on('error', () => undefined);
    sock.on('close', () => {
      closed = true;
      finish(false);
    });

    sock.once('connect', () => {
      const framing = opts.chunked ? 'Transfer-Encoding: chunked' : `Content-Length: ${opts.total}`;
      sock.write(`${opts.method ?? 'POST'} ${opts.path} HTTP/1.1\r\nHost: gateway.test\r\nContent-Type: application/octet-stream\r\n${framing}\r\n\r\n`);
      body.on('data', (chunk: Buffer) => {
        if (settled || sock.destroyed) return;
        if (opts.abortAfter !== undefined && sent + chunk.length > opts.abortAfter) {
          // Vanish partway through this chunk (for chunked framing: after announcing its full
          // size), so what reached the server can never parse as a complete body.
          body.pause();
          const part = chunk.subarray(0, Math.max(1, opts.abortAfter - sent));
          const framed = opts.chunked ? Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), part]) : part;
          void (opts.beforeAbort?.() ?? Promise.resolve()).then(
            () => {
              if (settled || sock.destroyed) return;
              sent += part.length;
              sock.write(framed, () => sock.destroy());
            },
            () => sock.destroy(),
          );
          return;
        }
        sent += chunk.length;
        const ok = sock.write(opts.chunked ? Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n')]) : chunk);
        if (!ok) {
          body.pause();
          sock.once('drain', () => body.resume());
        }
      });
      body.on('end', () => {
        if (!settled && !sock.destroyed && opts.chunked) sock.write('0\r\n\r\n');
      });
    });
  });
}
