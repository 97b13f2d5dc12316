/**
 * response-transformer through a real gateway in front of a real upstream: header edits in
 * Kong's order, JSON bodies edited whether the upstream sends them with a Content-Length,
 * chunked in several writes, gzip- or br-compressed; other types and non-JSON bodies passed
 * through; a JSON body over max_body_size or in a coding the gateway cannot decode never
 * reaches the client untransformed (the property to remove never leaves the gateway).
 * Kong semantics: kong/plugins/response-transformer/*.lua; differences in
 * workers/plugins/response-transformer/README.md.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { brotliCompressSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type Gateway } from '../helpers/gateway.js';
import { httpReq } from '../helpers/http-client.js';
import { rawGet } from '../helpers/raw-response.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

const DOC = '{"id":123456789012345678901,"internal_notes":"TOP-SECRET","status":"open","count":1,"price":10.50}';
const EDITED = '{"id":123456789012345678901,"count":7,"price":10.50,"state":"open","gateway":"portcullis"}';

/** /json, /chunked, /gzip, /br, /big, /big-chunked, /html, /text, /zstd, /empty. */
function handler(req: IncomingMessage, res: ServerResponse): void {
  const path = (req.url ?? '').split('?')[0]!;
  const common = { server: 'upstream/1.0', 'x-powered-by': 'php/8', 'x-chain': 'up' };
  const json = { ...common, 'content-type': 'application/json; charset=utf-8' };
  switch (path) {
    case '/json':
      res.writeHead(200, { ...json, 'content-length': Buffer.byteLength(DOC) });
      res.end(DOC);
      return;
    case '/chunked': {
      res.writeHead(201, json);
      const parts = [DOC.slice(0, 10), DOC.slice(10, 40), DOC.slice(40)];
      const next = (): void => {
        const p = parts.shift();
        if (p === undefined) res.end();
        else {
          res.write(p);
          setTimeout(next, 5);
        }
      };
      next();
      return;
    }
    case '/gzip':
    case '/br': {
      const body = path === '/gzip' ? gzipSync(DOC) : brotliCompressSync(Buffer.from(DOC));
      res.writeHead(200, { ...json, 'content-encoding': path.slice(1), vary: 'Accept-Encoding', 'content-length': body.length });
      res.end(body);
      return;
    }
    case '/big':
    case '/big-chunked': {
      const body = `{"internal_notes":"TOP-SECRET","pad":"${'x'.repeat(200_000)}"}`;
      res.writeHead(200, path === '/big' ? { ...json, 'content-length': body.length } : json);
      if (path === '/big') res.end(body);
      else {
        for (let i = 0; i < body.length; i += 16_384) res.write(body.slice(i, i + 16_384));
        res.end();
      }
      return;
    }
    case '/html':
      res.writeHead(502, { ...json });
      res.end('<html><body>internal_notes: bad gateway</body></html>');
      return;
    case '/text':
      res.writeHead(200, { ...common, 'content-type': 'text/plain' });
      res.end(DOC);
      return;
    case '/zstd':
      res.writeHead(200, { ...json, 'content-encoding': 'zstd' });
      res.end(Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x00]));
      return;
    default:
      res.writeHead(404);
      res.end();
  }
}

function config(upstreamUrl: string): string {
  return `_format_version: "3.0"
services:
  - name: api
    url: ${upstreamUrl}
    routes:
      - name: rs
        paths: [/rs]
        strip_path: true
        plugins:
          - name: response-transformer
            config:
              max_body_size: 65536
              remove: { headers: [Server, X-Powered-By], json: [internal_notes] }
              rename: { json: ["status:state"] }
              replace: { json: ["count:7"], json_types: [number] }
              add: { headers: ["x-env:test"], json: ["gateway:portcullis"] }
              append: { headers: ["x-chain:gw"] }
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

describe('response-transformer on the wire', () => {
  it('edits headers in order and the JSON body of a Content-Length response', async () => {
    const r = await httpReq(gw.proxyPort, '/rs/json');
    expect(r.status).toBe(200);
    expect(r.text).toBe(EDITED);
    expect(r.headers['server']).not.toBe('upstream/1.0');
    expect(r.headers['x-powered-by']).toBeUndefined();
    expect(r.headers['x-env']).toBe('test');
    expect(r.rawHeaders.filter((_, i, a) => i % 2 === 1 && a[i - 1]!.toLowerCase() === 'x-chain')).toEqual(['up', 'gw']);
    // The body changed length: it is framed by the gateway, not by the upstream's Content-Length.
    expect(r.headers['content-length'] === undefined || r.headers['content-length'] === String(Buffer.byteLength(EDITED))).toBe(true);
  });

  it('edits a JSON body the upstream sends chunked in several writes', async () => {
    const r = await httpReq(gw.proxyPort, '/rs/chunked');
    expect(r.status).toBe(201);
    expect(r.text).toBe(EDITED);
  });

  for (const coding of ['gzip', 'br']) {
    it(`decodes a ${coding} body, edits it, and sends it without Content-Encoding`, async () => {
      const r = await httpReq(gw.proxyPort, `/rs/${coding}`, { headers: [['Accept-Encoding', 'gzip, br']] });
      expect(r.status).toBe(200);
      expect(r.headers['content-encoding']).toBeUndefined();
      expect(r.headers['vary']).toBe('Accept-Encoding');
      expect(r.text).toBe(EDITED);
    });
  }

  it('passes other content types, and a "JSON" body that is not JSON, unchanged', async () => {
    const t = await httpReq(gw.proxyPort, '/rs/text');
    expect(t.text).toBe(DOC);
    expect(t.headers['x-env']).toBe('test');
    const h = await httpReq(gw.proxyPort, '/rs/html');
    expect(h.status).toBe(502);
    expect(h.text).toBe('<html><body>internal_notes: bad gateway</body></html>');
  });

  for (const path of ['/rs/big', '/rs/big-chunked']) {
    it(`never sends a JSON body over max_body_size untransformed (${path})`, async () => {
      const r = await rawGet(gw.proxyPort, path);
      expect(r.timedOut).toBe(false);
      expect(r.body.includes(Buffer.from('TOP-SECRET'))).toBe(false);
      if (r.status === 502) {
        // Refused before the head (when the runloop reports the upstream's Content-Length).
        expect(JSON.parse(r.body.toString()).message).toBe('An invalid response was received from the upstream server');
      } else {
        // Cut: the connection closes with no body (the head, held by the listener until the
        // first body byte, may not even have left).
        expect([null, 200]).toContain(r.status);
        expect(r.complete).toBe(false);
        expect(r.closed).toBe(true);
        expect(r.body.length).toBe(0);
      }
    });
  }

  it('refuses (502) a coding it cannot decode, before anything of it reaches the client', async () => {
    const r = await rawGet(gw.proxyPort, '/rs/zstd');
    expect(r.status).toBe(502);
    expect(JSON.parse(r.body.toString()).message).toBe('An invalid response was received from the upstream server');
    // The local answer is edited by the header filter like any other.
    expect(r.headers['x-env']).toBe('test');
    await new Promise((res) => setTimeout(res, 100));
    expect(gw.output()).toContain("response-transformer: Content-Encoding 'zstd' cannot be decoded");
  });

  it('keeps serving after refusals and cuts', async () => {
    for (let i = 0; i < 10; i++) expect((await httpReq(gw.proxyPort, '/rs/json')).text).toBe(EDITED);
    expect((await fetch(`http://127.0.0.1:${gw.adminPort}/status`)).status).toBe(200);
  });
});
