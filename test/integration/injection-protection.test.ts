/**
 * injection-protection through a real gateway process in front of a real upstream:
 * - block: attacks in the query, the path, a header, a JSON body (sent with Content-Length
 *   and as real chunked uploads with the payload cut across chunks), a gzip body: each
 *   answered by the gateway with Kong's error document and never seen by the upstream;
 * - benign requests (names with apostrophes, JSON with quotes) reach the upstream byte for byte;
 * - the configured status and message; 413 for a body too large to inspect;
 * - log_only: the attack reaches the upstream, and the gateway's log has the finding
 *   (type, rule, location, field) and never the value.
 */
import { connect } from 'node:net';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type Gateway } from '../helpers/gateway.js';
import { httpReq } from '../helpers/http-client.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

interface Seen {
  url: string;
  body: string;
  complete: boolean;
}
const seen: Seen[] = [];

/** Records each request and its body, answers with what it got. */
function handler(req: IncomingMessage, res: ServerResponse): void {
  const rec: Seen = { url: req.url ?? '', body: '', complete: false };
  seen.push(rec);
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    rec.complete = true;
    rec.body = Buffer.concat(chunks).toString('utf8');
    const body = JSON.stringify({ url: rec.url, body: rec.body });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
}

let upstream: Upstream;
let gw: Gateway;

function config(url: string): string {
  return `_format_version: "3.0"
services:
  - name: backend
    url: ${url}
    routes:
      - name: block
        paths: [/block]
        plugins:
          - name: injection-protection
            config:
              injection_types: [sql, js, ssi, xpath_abbreviated, xpath_extended, java_exception]
              locations: [path_and_query, headers, body]
      - name: custom
        paths: [/custom]
        plugins:
          - name: injection-protection
            config:
              injection_types: []
              custom_injections:
                - name: template-injection
                  regex: '\\{\\{.*\\}\\}'
              locations: [query, body]
              error_status_code: 422
              error_message: Injection detected
      - name: log
        paths: [/log]
        plugins:
          - name: injection-protection
            config:
              injection_types: [sql, js]
              locations: [path_and_query, headers, body]
              enforcement_mode: log_only
`;
}

beforeAll(async () => {
  upstream = await startUpstream(handler);
  gw = await startGateway(config(upstream.url), { workers: 1 });
});

afterAll(async () => {
  await gw?.stop();
  await upstream?.close();
});

const ATTACK = "' OR '1'='1";
const JSON_CT: [string, string] = ['Content-Type', 'application/json'];

function reachedUpstream(marker: string): boolean {
  return seen.some((s) => s.url.includes(marker) || s.body.includes(marker));
}

/** Sends a chunked upload over a raw socket, one chunk per piece, a few ms apart; resolves with the status line. */
function chunkedUpload(path: string, pieces: string[], contentType = 'application/json'): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const sock = connect(gw.proxyPort, '127.0.0.1');
    let buf = '';
    sock.on('data', (d) => (buf += d.toString('latin1')));
    sock.on('error', () => undefined);
    sock.on('close', () => {
      const m = /^HTTP\/1\.1 (\d{3})/.exec(buf);
      if (m === null) reject(new Error(`no response: ${JSON.stringify(buf)}`));
      else resolve({ status: Number(m[1]), text: buf });
    });
    sock.write(`POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: ${contentType}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n`);
    let i = 0;
    const next = (): void => {
      if (sock.destroyed) return;
      if (i === pieces.length) {
        sock.write('0\r\n\r\n');
        return;
      }
      const p = Buffer.from(pieces[i++]!);
      sock.write(`${p.length.toString(16)}\r\n`);
      sock.write(p);
      sock.write('\r\n');
      setTimeout(next, 5);
    };
    next();
  });
}

describe('injection-protection (block) end to end', () => {
  it('lets clean requests through to the upstream, JSON with quotes and names with apostrophes byte for byte', async () => {
    const body = JSON.stringify({ name: "O'Brien", quote: 'He said "hi" and left', note: 'select a seat; drop me a line' });
    const r = await httpReq(gw.proxyPort, `/block/users/D'Angelo?q=${encodeURIComponent("Shaquille O'Neal")}&marker=clean-1`, {
      method: 'POST',
      headers: [JSON_CT, ['X-Note', "It's 'fine' or not"]],
      body,
    });
    expect(r.status).toBe(200);
    // strip_path (Kong's default) removes the /block prefix.
    expect(r.json()).toEqual({ url: `/users/D'Angelo?q=${encodeURIComponent("Shaquille O'Neal")}&marker=clean-1`, body });
  });

  it('refuses an attack in the query with 400 and Kong’s error document; the upstream never sees it', async () => {
    const r = await httpReq(gw.proxyPort, `/block/search?marker=q-1&q=${encodeURIComponent(ATTACK)}`);
    expect(r.status).toBe(400);
    expect(r.headers['content-type']).toBe('application/json; charset=utf-8');
    const doc = r.json();
    expect(doc).toEqual({ message: 'Bad Request', request_id: r.headers['x-kong-request-id'] });
    expect(doc.request_id).toMatch(/^[0-9a-f]{32}$/);
    expect(reachedUpstream('q-1')).toBe(false);
  });

  it('renders the refusal for the Accept header (text/html)', async () => {
    const r = await httpReq(gw.proxyPort, `/block/x?q=${encodeURIComponent('<script>alert(1)</script>')}`, { headers: [['Accept', 'text/html']] });
    expect(r.status).toBe(400);
    expect(r.headers['content-type']).toMatch(/^text\/html/);
    expect(r.text).toContain('Bad Request');
  });

  it('refuses attacks in the path, a header, a JSON body and a gzip body', async () => {
    expect((await httpReq(gw.proxyPort, `/block/items/${encodeURIComponent('1 UNION SELECT username, password FROM users--')}?marker=p-1`)).status).toBe(400);
    expect((await httpReq(gw.proxyPort, '/block/h?marker=h-1', { headers: [['Referer', 'https://x.example/<!--#exec cmd="id"-->']] })).status).toBe(400);
    expect((await httpReq(gw.proxyPort, '/block/b?marker=b-1', { method: 'POST', headers: [JSON_CT], body: JSON.stringify({ q: ATTACK }) })).status).toBe(400);
    const gz = gzipSync(JSON.stringify({ trace: 'Exception in thread "main" java.lang.IllegalStateException' }));
    expect((await httpReq(gw.proxyPort, '/block/gz?marker=gz-1', { method: 'POST', headers: [JSON_CT, ['Content-Encoding', 'gzip']], body: gz })).status).toBe(400);
    for (const m of ['p-1', 'h-1', 'b-1', 'gz-1']) expect(reachedUpstream(m), m).toBe(false);
  });

  it('refuses a chunked upload whose payload is cut across chunks, wherever the cuts fall; the upstream never gets it', async () => {
    const text = JSON.stringify({ id: 7, comment: `chunked-attack ${ATTACK}`, tail: 'x'.repeat(64) });
    const at = text.indexOf(ATTACK);
    for (const cut of [at - 3, at + 1, at + 4, at + ATTACK.length - 1]) {
      const r = await chunkedUpload('/block/upload', [text.slice(0, cut), text.slice(cut, cut + 5), text.slice(cut + 5)]);
      expect(r.status, `cut at ${cut}`).toBe(400);
      expect(r.text).toContain('"message":"Bad Request"');
    }
    // One byte per chunk.
    const r = await chunkedUpload('/block/upload', [...text]);
    expect(r.status).toBe(400);
    expect(seen.some((s) => s.body.includes('chunked-attack'))).toBe(false);
    // The same upload without the payload goes through whole.
    const clean = text.replace(ATTACK, "O'Brien said 'hi'");
    const ok = await chunkedUpload('/block/upload', [clean.slice(0, 10), clean.slice(10, 40), clean.slice(40)]);
    expect(ok.status).toBe(200);
    expect(seen.some((s) => s.body === clean && s.complete)).toBe(true);
  });

  it('answers 413 for a body too large to inspect, before the upstream sees it', async () => {
    const big = JSON.stringify({ pad: 'a'.repeat(1024 * 1024) });
    const r = await httpReq(gw.proxyPort, '/block/big?marker=big-1', { method: 'POST', headers: [JSON_CT], body: big });
    expect(r.status).toBe(413);
    expect(r.json().message).toBe('Request body too large to inspect');
    expect(reachedUpstream('big-1')).toBe(false);
  });

  it('uses the configured status and message, and custom regexes (RE2)', async () => {
    const r = await httpReq(gw.proxyPort, `/custom/render?t=${encodeURIComponent('{{7*7}}')}`);
    expect(r.status).toBe(422);
    expect(r.json().message).toBe('Injection detected');
    expect((await httpReq(gw.proxyPort, `/custom/render?t=${encodeURIComponent("' OR '1'='1")}`)).status).toBe(200);
  });
});

describe('injection-protection (log_only) end to end', () => {
  it('lets the attack through to the upstream and logs the finding without the value', async () => {
    const payload = `<script>steal('log-secret-value')</script>`;
    const r = await httpReq(gw.proxyPort, `/log/x?marker=log-1&c=${encodeURIComponent(payload)}`, {
      method: 'POST',
      headers: [JSON_CT],
      body: JSON.stringify({ q: "x' OR 1=1-- log-secret-body" }),
    });
    expect(r.status).toBe(200);
    expect(reachedUpstream('log-1')).toBe(true);
    expect(seen.some((s) => s.body.includes('log-secret-body'))).toBe(true);
    // The log lines are written by the worker thread; give them a moment to reach stdout.
    const deadline = Date.now() + 3000;
    while (!gw.output().includes('action taken: log_only, found in body') && Date.now() < deadline) await new Promise((res) => setTimeout(res, 25));
    const lines = gw
      .output()
      .split('\n')
      .filter((l) => l.includes('injection-protection'));
    const query = lines.find((l) => l.includes("threat detected: 'js', action taken: log_only, found in query"));
    const body = lines.find((l) => l.includes("threat detected: 'sql', action taken: log_only, found in body"));
    expect(query, gw.output()).toBeDefined();
    expect(body, gw.output()).toBeDefined();
    expect(JSON.parse(query!)).toMatchObject({ plugin: 'injection-protection', injection: 'js', rule: 'js.script_tag', location: 'query', field: 'c', part: 'value', action: 'log_only' });
    expect(JSON.parse(body!)).toMatchObject({ injection: 'sql', location: 'body', field: '$.q', action: 'log_only' });
    expect(gw.output()).not.toContain('log-secret-value');
    expect(gw.output()).not.toContain('log-secret-body');
  });
});
