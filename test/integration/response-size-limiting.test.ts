/**
 * response-size-limiting through a real gateway in front of a real upstream that sends
 * large bodies, with a Content-Length and chunked: bodies up to the limit arrive whole;
 * a larger body never reaches the client as a clean response (a chunked one is cut
 * while it streams: no last chunk, a closed connection, at most the limit's bytes; the
 * upstream request is dropped); the gateway keeps serving.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type Gateway } from '../helpers/gateway.js';
import { httpReq } from '../helpers/http-client.js';
import { rawGet } from '../helpers/raw-response.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

const KB = 1024;
const LIMIT = 64 * KB;

/** Deterministic body bytes: position-dependent, so a truncation or a reorder shows. */
function pattern(n: number): Buffer {
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + (i >> 8)) & 0xff;
  return b;
}

function sha(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

interface Sent {
  path: string;
  /** The upstream finished writing its response. */
  finished: boolean;
  /** The connection closed before the response finished (the gateway dropped it). */
  aborted: boolean;
}

const sent: Sent[] = [];

/** /cl/<n>: n bytes with Content-Length; /chunked/<n>: n bytes in 8 KB writes, one per tick. */
function handler(req: IncomingMessage, res: ServerResponse): void {
  const [, kind, size] = (req.url ?? '').split('?')[0]!.split('/');
  const n = Number(size);
  const rec: Sent = { path: req.url ?? '', finished: false, aborted: false };
  sent.push(rec);
  res.on('finish', () => void (rec.finished = true));
  res.on('close', () => void (rec.aborted = !rec.finished));
  const body = pattern(n);
  if (kind === 'burst') {
    // Chunked, the whole body in one write: the gateway's first read already holds more than a small limit.
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    res.end(body);
    return;
  }
  if (kind === 'cl') {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': n });
    res.end(req.method === 'HEAD' ? undefined : body);
    return;
  }
  res.writeHead(200, { 'content-type': 'application/octet-stream' });
  let pos = 0;
  const next = (): void => {
    if (res.destroyed) return;
    if (pos >= n) {
      res.end();
      return;
    }
    const piece = body.subarray(pos, pos + 8 * KB);
    pos += piece.length;
    if (res.write(piece)) setTimeout(next, 1);
    else res.once('drain', next);
  };
  next();
}

function config(upstreamUrl: string): string {
  return `_format_version: "3.0"
services:
  - name: big
    url: ${upstreamUrl}
    routes:
      - name: limited
        paths: [/limited]
        strip_path: true
        plugins:
          - name: response-size-limiting
            config: { allowed_payload_size: 64, size_unit: kilobytes }
      - name: tiny
        paths: [/tiny]
        strip_path: true
        plugins:
          - name: response-size-limiting
            config: { allowed_payload_size: 4, size_unit: kilobytes }
      - name: open
        paths: [/open]
        strip_path: true
`;
}

let upstream: Upstream;
let gw: Gateway;

beforeAll(async () => {
  upstream = await startUpstream(handler);
  gw = await startGateway(config(upstream.url), { workers: 2 });
});

afterAll(async () => {
  await gw?.stop();
  await upstream?.close();
});

async function waitFor(what: string, cond: () => boolean, ms = 5000): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`${what}: not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('response-size-limiting on the wire', () => {
  for (const kind of ['cl', 'chunked']) {
    it(`passes ${kind === 'cl' ? 'Content-Length' : 'chunked'} bodies up to the limit whole, byte for byte`, async () => {
      for (const n of [0, 1, LIMIT - 1, LIMIT]) {
        const r = await rawGet(gw.proxyPort, `/limited/${kind}/${n}`);
        expect(r.status).toBe(200);
        expect(r.complete, `${kind} ${n}`).toBe(true);
        expect(r.body.length).toBe(n);
        expect(sha(r.body)).toBe(sha(pattern(n)));
      }
    });
  }

  it('cuts a chunked body the moment it crosses the limit: no last chunk, a closed connection, the upstream request dropped', async () => {
    const total = 4 * 1024 * KB;
    const r = await rawGet(gw.proxyPort, `/limited/chunked/${total}`);
    expect(r.timedOut).toBe(false);
    expect(r.status).toBe(200);
    expect(r.headers['transfer-encoding']).toBe('chunked');
    expect(r.complete).toBe(false);
    expect(r.closed).toBe(true);
    expect(r.body.length).toBeLessThanOrEqual(LIMIT);
    // What did arrive is the start of the upstream's body, unaltered.
    expect(r.body.equals(pattern(total).subarray(0, r.body.length))).toBe(true);
    await waitFor('the upstream sees its response dropped', () => sent.some((s) => s.path === `/chunked/${total}` && s.aborted));
    expect(sent.find((s) => s.path === `/chunked/${total}`)!.finished).toBe(false);
    expect(gw.output()).toContain('response-size-limiting: upstream body crossed the limit while streaming; response stopped');
  });

  it('answers a clean 502 when a chunked body crosses the limit before any of it was sent', async () => {
    const total = 64 * KB;
    const r = await rawGet(gw.proxyPort, `/tiny/burst/${total}`);
    expect(r.timedOut).toBe(false);
    // The head waits for the first body byte; the first chunk read already crosses 4 KB.
    expect(r.status).toBe(502);
    expect(r.complete).toBe(true);
    expect(JSON.parse(r.body.toString()).message).toBe('Response size limit exceeded');
    const open = await rawGet(gw.proxyPort, `/open/burst/${total}`);
    expect(open.complete).toBe(true);
    expect(sha(open.body)).toBe(sha(pattern(total)));
  });

  it('answers a clean 502 for a Content-Length body over the limit: none of the upstream’s body is sent', async () => {
    const total = 1024 * KB;
    const r = await rawGet(gw.proxyPort, `/limited/cl/${total}`);
    expect(r.timedOut).toBe(false);
    // Refused before the head: the upstream's Content-Length is known to the header filter.
    expect(r.status).toBe(502);
    expect(r.complete).toBe(true);
    expect(JSON.parse(r.body.toString()).message).toBe('Response size limit exceeded');
    // The same body on a route without the plugin arrives whole (the upstream is not the cause).
    const open = await rawGet(gw.proxyPort, `/open/cl/${total}`);
    expect(open.complete).toBe(true);
    expect(sha(open.body)).toBe(sha(pattern(total)));
  });

  it('does not refuse a HEAD answer, whose Content-Length announces a body that never comes', async () => {
    const r = await rawGet(gw.proxyPort, `/limited/cl/${1024 * KB}`, { method: 'HEAD' });
    expect(r.status).toBe(200);
    expect(r.complete).toBe(true);
    // The upstream's length is reported as it is (RFC 9110 9.3.2), and no body follows.
    expect(r.headers['content-length']).toBe(String(1024 * KB));
    expect(r.body.length).toBe(0);
  });

  it('keeps serving: many cut and whole responses later, every worker answers, keep-alive works', async () => {
    const cuts = await Promise.all(Array.from({ length: 8 }, () => rawGet(gw.proxyPort, `/limited/chunked/${512 * KB}`)));
    expect(cuts.every((c) => !c.complete && c.closed)).toBe(true);
    for (let i = 0; i < 20; i++) {
      const r = await httpReq(gw.proxyPort, `/limited/cl/${1000 + i}`);
      expect(r.status).toBe(200);
      expect(r.body.length).toBe(1000 + i);
    }
    const status = await fetch(`http://127.0.0.1:${gw.adminPort}/status`);
    const doc = (await status.json()) as { workers: Array<{ state: string }> };
    expect(doc.workers.map((w) => w.state)).toEqual(['ready', 'ready']);
    expect(gw.proc.exitCode).toBeNull();
  });
});
