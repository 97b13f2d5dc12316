/**
 * json-threat-protection through a real gateway process in front of a real upstream:
 * - a 10 MB chunked upload that breaks a limit 1 MB in is answered with the configured
 *   status while the client is still sending, and the upstream sees its request aborted,
 *   never a complete body;
 * - a valid 10 MB chunked upload reaches the upstream byte for byte;
 * - a Content-Length over max_body_size is refused before the body is read, a chunked body
 *   over it while streaming; malformed JSON and __proto__ are refused with Kong's error
 *   document; GET is not checked;
 * - log_only: the violating body reaches the upstream whole and the gateway logs the rule.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chunkedUpload } from '../helpers/chunked-upload.js';
import { startGateway, type Gateway } from '../helpers/gateway.js';
import { httpReq } from '../helpers/http-client.js';
import { rawRequest } from '../helpers/raw-http.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

const MB = 1024 * 1024;

interface UploadRecord {
  path: string;
  bytes: number;
  sha256: string | null;
  complete: boolean;
  aborted: boolean;
}

const uploads: UploadRecord[] = [];

/** Reads every body, records its size, digest and whether it ended or was cut. */
function handler(req: IncomingMessage, res: ServerResponse): void {
  const rec: UploadRecord = { path: (req.url ?? '/').split('?')[0]!, bytes: 0, sha256: null, complete: false, aborted: false };
  uploads.push(rec);
  const hash = createHash('sha256');
  req.on('data', (c: Buffer) => {
    rec.bytes += c.length;
    hash.update(c);
  });
  req.on('end', () => {
    rec.complete = true;
    rec.sha256 = hash.digest('hex');
    const body = JSON.stringify({ method: req.method, bytes: rec.bytes, sha256: rec.sha256 });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  req.on('close', () => {
    if (!rec.complete) rec.aborted = true;
  });
}

function config(upstreamUrl: string): string {
  return `_format_version: "3.0"
services:
  - name: backend
    url: ${upstreamUrl}
    routes:
      - name: big
        paths: [/big]
        plugins:
          - name: json-threat-protection
            config:
              max_body_size: -1
              max_container_depth: 4
              max_array_element_count: 200000
              max_object_entry_count: 10
              max_object_entry_name_length: 16
              max_string_value_length: 100
              allow_duplicate_object_entry_name: false
              error_status_code: 422
              error_message: Incorrect request format
      - name: defaults
        paths: [/defaults]
        plugins:
          - name: json-threat-protection
      - name: tap
        paths: [/tap]
        plugins:
          - name: json-threat-protection
            config: { max_container_depth: 2, enforcement_mode: log_only, max_body_size: -1 }
`;
}

let upstream: Upstream;
let gw: Gateway;

beforeAll(async () => {
  upstream = await startUpstream(handler);
  gw = await startGateway(config(upstream.url), { workers: 1 });
});

afterAll(async () => {
  await gw?.stop();
  await upstream?.close();
});

async function until(cond: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A 10 MB-ish JSON array of objects; with `violateAt`, one string value there is too long. */
function bigDocument(totalBytes: number, violateAt: number | null): Buffer {
  const parts: string[] = ['['];
  let size = 1;
  let i = 0;
  let violated = false;
  while (size < totalBytes) {
    const value = violateAt !== null && !violated && size >= violateAt ? 'x'.repeat(101) : `item ${i} é 😀`;
    if (value.length > 100) violated = true;
    const item = `${i === 0 ? '' : ','}{"id":${i},"name":${JSON.stringify(value)},"tags":["a","b"],"n":-1.5e3}`;
    parts.push(item);
    size += Buffer.byteLength(item);
    i++;
  }
  parts.push(']');
  return Buffer.from(parts.join(''), 'utf8');
}

function bodyOf(raw: string): string {
  return raw.slice(raw.indexOf('\r\n\r\n') + 4);
}

describe('json-threat-protection on a streamed 10 MB upload', () => {
  it('refuses a violating chunked upload early: the answer comes while the client still sends, the upstream never gets a complete body', async () => {
    const body = bigDocument(10 * MB, MB);
    expect(() => JSON.parse(body.toString())).not.toThrow();
    const before = uploads.length;
    const r = await chunkedUpload(gw.proxyPort, '/big', body, 'application/json');
    expect(r.status).toBe(422);
    const answer = JSON.parse(bodyOf(r.text));
    expect(answer.message).toBe('Incorrect request format');
    expect(typeof answer.request_id).toBe('string');
    expect(r.text).toMatch(/\r\ncontent-type: application\/json; charset=utf-8\r\n/i);
    expect(r.closed).toBe(true);
    expect(r.finishedSending).toBe(false);
    expect(r.sentAtAnswer).not.toBeNull();
    expect(r.sentAtAnswer!).toBeGreaterThanOrEqual(MB);
    expect(r.sentAtAnswer!).toBeLessThan(4 * MB);
    // The upstream got the start of the stream, then its request was aborted.
    await until(() => uploads.length > before && uploads[before]!.aborted);
    expect(uploads[before]!.complete).toBe(false);
    expect(uploads[before]!.bytes).toBeLessThan(2 * MB);
  });

  it('passes a valid 10 MB chunked upload to the upstream byte for byte', async () => {
    const body = bigDocument(10 * MB, null);
    const before = uploads.length;
    const r = await chunkedUpload(gw.proxyPort, '/big', body, 'application/json', 1);
    expect(r.status).toBe(200);
    expect(JSON.parse(bodyOf(r.text))).toEqual({ method: 'POST', bytes: body.length, sha256: createHash('sha256').update(body).digest('hex') });
    expect(uploads[before]).toMatchObject({ complete: true, aborted: false, bytes: body.length });
  });
});

describe('json-threat-protection answers', () => {
  it('refuses a Content-Length over max_body_size (default 8192) before the body is read; the upstream never sees it', async () => {
    const before = upstream.seen.length;
    const r = await rawRequest(gw.proxyPort, `POST /defaults HTTP/1.1\r\nHost: gateway.test\r\nContent-Type: application/json\r\nContent-Length: 8193\r\n\r\n`);
    expect(r.text).toMatch(/^HTTP\/1\.1 400 /);
    expect(JSON.parse(bodyOf(r.text)).message).toBe('Bad Request');
    await new Promise((res) => setTimeout(res, 100));
    expect(upstream.seen.length).toBe(before);
  });

  it('counts a chunked body against max_body_size while it streams', async () => {
    const over = `[${'1,'.repeat(4100)}1]`;
    expect(Buffer.byteLength(over)).toBeGreaterThan(8192);
    const r = await httpReq(gw.proxyPort, '/defaults', { method: 'POST', body: over, chunked: true, headers: [['Content-Type', 'application/json']] }).catch((e: Error) => e);
    // The answer can race the client's last write: either the 400 or a reset, never a 200.
    if (!(r instanceof Error)) expect(r.status).toBe(400);
    const ok = `[${'1,'.repeat(4000)}1]`;
    const passed = await httpReq(gw.proxyPort, '/defaults', { method: 'POST', body: ok, chunked: true, headers: [['Content-Type', 'application/json']] });
    expect(passed.status).toBe(200);
    expect(passed.json().bytes).toBe(ok.length);
  });

  it("refuses malformed JSON and __proto__ with Kong's error document, in the format Accept asks for", async () => {
    for (const body of ['{"a":01}', '{"a":1', '{"a":1} trailing', '{"__pro\\u0074o__":{"admin":true}}', '["\\ud800"]']) {
      const r = await httpReq(gw.proxyPort, '/defaults', { method: 'POST', body, headers: [['Content-Type', 'application/json']] });
      expect(r.status, body).toBe(400);
      expect(r.json().message).toBe('Bad Request');
    }
    const xml = await httpReq(gw.proxyPort, '/defaults', { method: 'PUT', body: '{"constructor":{}}', headers: [['Accept', 'application/xml']] });
    expect(xml.status).toBe(400);
    expect(xml.headers['content-type']).toBe('application/xml; charset=utf-8');
    expect(xml.text).toContain('<message>Bad Request</message>');
  });

  it('does not check GET, and passes a valid body whole', async () => {
    const get = await httpReq(gw.proxyPort, '/defaults', { method: 'GET' });
    expect(get.status).toBe(200);
    const body = '{"name":"Jason","age":20,"parents":["Joseph","Viva"]}';
    const r = await httpReq(gw.proxyPort, '/defaults', { method: 'PATCH', body, headers: [['Content-Type', 'application/merge-patch+json']] });
    expect(r.status).toBe(200);
    expect(r.json()).toEqual({ method: 'PATCH', bytes: body.length, sha256: createHash('sha256').update(body).digest('hex') });
  });
});

describe('json-threat-protection in log_only mode', () => {
  it('lets a violating body reach the upstream whole and logs which rule fired, without the body', async () => {
    const body = '{"a":{"b":{"c":"tap-secret-value"}}}';
    const r = await httpReq(gw.proxyPort, '/tap', { method: 'POST', body, chunked: true, headers: [['Content-Type', 'application/json']] });
    expect(r.status).toBe(200);
    expect(r.json()).toEqual({ method: 'POST', bytes: body.length, sha256: createHash('sha256').update(body).digest('hex') });
    await until(() => /json-threat-protection: request body violates the policy/.test(gw.output()));
    const line = gw.output().split('\n').find((l) => l.includes('json-threat-protection: request body violates'))!;
    expect(line).toContain('"rule":"max_container_depth"');
    expect(line).toContain('"enforcement_mode":"log_only"');
    expect(gw.output()).not.toContain('tap-secret-value');
  });
});
