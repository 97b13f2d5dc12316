/**
 * request-transformer through a real gateway process in front of a real upstream that
 * echoes what it received (method, path and query, headers, body): Kong's operations on
 * headers, query, JSON / form / multipart bodies (sent with Content-Length and chunked),
 * templates from headers, query arguments and URI captures, replace.uri, http_method and
 * Host; and the refusals a client can trigger (a body that does not parse, one over
 * max_body_size, a template that would inject a header line or walk up the path), each
 * answered without the upstream ever seeing the request.
 * Kong semantics: kong/plugins/request-transformer/access.lua; differences in
 * workers/plugins/request-transformer/README.md.
 */
import { connect } from 'node:net';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type Gateway } from '../helpers/gateway.js';
import { httpReq, type Reply } from '../helpers/http-client.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

interface Echo {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string;
  bodyBase64: string;
}

function echo(req: IncomingMessage, res: ServerResponse): void {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const b = Buffer.concat(chunks);
    const out = JSON.stringify({ method: req.method, url: req.url, headers: req.headers, body: b.toString('utf8'), bodyBase64: b.toString('base64') });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(out) });
    res.end(out);
  });
}

function config(upstreamUrl: string): string {
  return `_format_version: "3.0"
services:
  - name: echo
    url: ${upstreamUrl}
    routes:
      - name: rt-headers
        paths: ["~/rt/orders/(?<order_id>\\\\d+)$"]
        strip_path: false
        plugins:
          - name: request-transformer
            config:
              remove: { headers: [x-secret], querystring: [debug] }
              rename: { headers: ["x-old:x-new"], querystring: ["q:search"] }
              replace: { headers: ["user-agent:portcullis-test"], querystring: ["page:1"] }
              add:
                headers: ["X-Order-Id:$(uri_captures.order_id)", "x-user:$(headers.x_user or 'anonymous')", "x-secret-seen:$(headers['x-secret'])"]
                querystring: ["source:$(query_params.from or 'direct')"]
              append: { headers: ["x-trace:gw"], querystring: ["tag:gw"] }
      - name: rt-inject
        paths: [/rt/inject]
        strip_path: false
        plugins:
          - name: request-transformer
            config: { add: { headers: ["x-name:$(query_params.name)"] } }
      - name: rt-json
        paths: [/rt/json]
        strip_path: false
        plugins:
          - name: request-transformer
            config:
              max_body_size: 65536
              remove: { body: [is_admin] }
              rename: { body: ["usr:user"] }
              replace: { body: ["plan:basic"] }
              add: { body: ["order:$(query_params.order)", "via:gateway"] }
              append: { body: ["roles:reader"] }
      - name: rt-form
        paths: [/rt/form]
        strip_path: false
        plugins:
          - name: request-transformer
            config:
              remove: { body: [password] }
              add: { body: ["client:$(headers.x_client)"] }
              append: { body: ["tag:b"] }
      - name: rt-multipart
        paths: [/rt/multipart]
        strip_path: false
        plugins:
          - name: request-transformer
            config:
              rename: { body: ["upload:document"] }
              remove: { body: [secret] }
              add: { body: ["source:gateway"] }
      - name: rt-uri
        paths: ["~/rt/users/(\\\\d+)/(?<rest>.*)$"]
        strip_path: false
        plugins:
          - name: request-transformer
            config: { replace: { uri: "/v2/users/$(uri_captures[1])/$(uri_captures.rest)" } }
      - name: rt-file
        paths: [/rt/file]
        strip_path: false
        plugins:
          - name: request-transformer
            config: { replace: { uri: "/files/$(query_params.name)" } }
      - name: rt-method
        paths: [/rt/method]
        strip_path: false
        plugins:
          - name: request-transformer
            config: { http_method: GET }
      - name: rt-host
        paths: [/rt/host]
        strip_path: false
        preserve_host: true
        plugins:
          - name: request-transformer
            config: { replace: { headers: ["host:internal.example:8443"] } }
      - name: rt-host-plain
        paths: [/rt/plain-host]
        strip_path: false
        plugins:
          - name: request-transformer
            config: { replace: { headers: ["host:internal.example:8443"] } }
`;
}

let upstream: Upstream;
let gw: Gateway;

beforeAll(async () => {
  upstream = await startUpstream(echo);
  gw = await startGateway(config(upstream.url), { workers: 2 });
});

afterAll(async () => {
  await gw?.stop();
  await upstream?.close();
});

function echoOf(r: Reply): Echo {
  expect(r.status, r.text).toBe(200);
  return r.json<Echo>();
}

/** Kong's error document, with the message. */
function expectError(r: Reply, status: number, message: string): void {
  expect(r.status, r.text).toBe(status);
  expect(r.json<{ message: string }>().message).toBe(message);
}

function seenCount(path: string): number {
  return upstream.seen.filter((s) => s.url.startsWith(path)).length;
}

/**
 * A chunked JSON upload over a raw socket, one 16 KB chunk every few ms until the gateway
 * answers (or `total` bytes went out). Paced, and stopped at the first answer byte, so the
 * answer is read before the gateway closes a connection whose body it did not read (a
 * flood would have that close turn into a reset that discards the answer).
 */
function chunkedJsonUpload(path: string, total: number): Promise<{ status: number | null; text: string; sent: number }> {
  return new Promise((resolve) => {
    const sock = connect(gw.proxyPort, '127.0.0.1');
    let text = '';
    let sent = 1; // the opening "{" chunk
    let answered = false;
    const piece = Buffer.alloc(16 * 1024, 0x20); // JSON whitespace
    const framed = Buffer.concat([Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from('\r\n')]);
    const finish = () => {
      clearInterval(pump);
      clearTimeout(timer);
      sock.destroy();
      const m = /^HTTP\/1\.1 (\d{3})/.exec(text);
      resolve({ status: m ? Number(m[1]) : null, text, sent });
    };
    const timer = setTimeout(finish, 10_000);
    const pump = setInterval(() => {
      if (answered || sock.destroyed || sent >= total) return;
      sent += piece.length;
      sock.write(framed);
    }, 3);
    sock.on('data', (d) => {
      answered = true;
      text += d.toString('latin1');
    });
    sock.on('error', () => undefined);
    sock.on('close', finish);
    sock.write(`POST ${path} HTTP/1.1\r\nHost: gw.test\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n1\r\n{\r\n`);
  });
}

describe('request-transformer on the wire: headers and query', () => {
  it("applies Kong's operations in order, with templates from captures, headers and query", async () => {
    const r = await httpReq(gw.proxyPort, '/rt/orders/42?debug=1&q=shoes&page=7&from=mail&tag=a', {
      headers: [
        ['X-Secret', 'hunter2'],
        ['X-Old', 'o'],
        ['User-Agent', 'curl/8'],
        ['X-User', 'alice'],
        ['X-Trace', 'client'],
      ],
    });
    const e = echoOf(r);
    expect(e.headers['x-secret']).toBeUndefined();
    expect(e.headers['x-old']).toBeUndefined();
    expect(e.headers['x-new']).toBe('o');
    expect(e.headers['user-agent']).toBe('portcullis-test');
    expect(e.headers['x-order-id']).toBe('42');
    expect(e.headers['x-user']).toBe('alice');
    // Templates read the request as it arrived: the removed header is still seen.
    expect(e.headers['x-secret-seen']).toBe('hunter2');
    expect(e.headers['x-trace']).toBe('client, gw');
    expect(e.url).toBe('/rt/orders/42?search=shoes&page=1&from=mail&tag=a&source=mail&tag=gw');
  });

  it('uses the template defaults when the request has nothing to fill them', async () => {
    const e = echoOf(await httpReq(gw.proxyPort, '/rt/orders/7'));
    expect(e.headers['x-user']).toBe('anonymous');
    expect(e.headers['x-secret-seen']).toBe('');
    expect(e.url).toBe('/rt/orders/7?source=direct&tag=gw');
  });

  it('refuses (400) a query value that would inject a header line; the upstream never sees it; the log names the header only', async () => {
    const before = seenCount('/rt/inject');
    const r = await httpReq(gw.proxyPort, '/rt/inject?name=a%0D%0AX-Admin%3A%20true');
    expectError(r, 400, 'Bad request');
    expect(seenCount('/rt/inject')).toBe(before);
    const ok = echoOf(await httpReq(gw.proxyPort, '/rt/inject?name=caf%C3%A9'));
    expect(Buffer.from(ok.headers['x-name']!, 'latin1').toString('utf8')).toBe('café');
    await new Promise((res) => setTimeout(res, 100));
    expect(gw.output()).toContain('request-transformer: a template rendered a value that cannot be a header');
    expect(gw.output()).toContain('"header":"x-name"');
    expect(gw.output()).not.toContain('X-Admin');
  });
});

describe('request-transformer on the wire: bodies', () => {
  const json = '{"usr":"bob","is_admin":true,"id":123456789012345678901234567890,"plan":"gold","roles":["writer"],"amount":10.50}';
  const expected = '{"id":123456789012345678901234567890,"plan":"basic","roles":["writer","reader"],"amount":10.50,"user":"bob","order":"A-1","via":"gateway"}';

  it('edits a JSON body sent with Content-Length; untouched values (a 30-digit id, 10.50) arrive byte for byte', async () => {
    const e = echoOf(await httpReq(gw.proxyPort, '/rt/json?order=A-1', { method: 'POST', headers: [['Content-Type', 'application/json']], body: json }));
    expect(e.body).toBe(expected);
    expect(e.headers['content-length']).toBe(String(Buffer.byteLength(expected)));
    expect(e.headers['transfer-encoding']).toBeUndefined();
  });

  it('edits the same JSON body sent chunked, in two pieces', async () => {
    const e = echoOf(await httpReq(gw.proxyPort, '/rt/json?order=A-1', { method: 'POST', headers: [['Content-Type', 'application/json']], body: json, chunked: true }));
    expect(e.body).toBe(expected);
  });

  it('refuses (400) a JSON body that does not parse instead of forwarding it with is_admin inside', async () => {
    const before = seenCount('/rt/json');
    const r = await httpReq(gw.proxyPort, '/rt/json', { method: 'POST', headers: [['Content-Type', 'application/json']], body: '{"is_admin":true,}' });
    expectError(r, 400, 'Invalid request body');
    expect(seenCount('/rt/json')).toBe(before);
  });

  it('answers 413 to a JSON body over max_body_size, by Content-Length or while a chunked one streams', async () => {
    const before = seenCount('/rt/json');
    const big = `{"pad":"${'x'.repeat(70_000)}"}`;
    expectError(await httpReq(gw.proxyPort, '/rt/json', { method: 'POST', headers: [['Content-Type', 'application/json']], body: big }), 413, 'Request size limit exceeded');
    const r = await chunkedJsonUpload('/rt/json', 1024 * 1024);
    expect(r.status).toBe(413);
    expect(JSON.parse(r.text.slice(r.text.indexOf('\r\n\r\n') + 4)).message).toBe('Request size limit exceeded');
    // Answered once the limit was crossed, long before the whole upload.
    expect(r.sent).toBeGreaterThan(65536);
    expect(r.sent).toBeLessThan(1024 * 1024);
    expect(seenCount('/rt/json')).toBe(before);
  });

  it('edits a form body: untouched arguments arrive as the client encoded them', async () => {
    const e = echoOf(
      await httpReq(gw.proxyPort, '/rt/form', {
        method: 'POST',
        headers: [
          ['Content-Type', 'application/x-www-form-urlencoded'],
          ['X-Client', 'web app'],
        ],
        body: 'user=a%2Bb&password=p%40ss&note=caf%C3%A9+au+lait&tag=a',
        chunked: true,
      }),
    );
    expect(e.body).toBe('user=a%2Bb&note=caf%C3%A9+au+lait&tag=a&client=web%20app&tag=b');
  });

  it('edits a multipart body: the file part arrives byte for byte under its new name', async () => {
    const B = '----portcullis-7d1';
    const file = Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 37) % 256));
    const body = Buffer.concat([
      Buffer.from(`--${B}\r\nContent-Disposition: form-data; name="upload"; filename="blob.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`),
      file,
      Buffer.from(`\r\n--${B}\r\nContent-Disposition: form-data; name="secret"\r\n\r\ns3cr3t\r\n--${B}--\r\n`),
    ]);
    const e = echoOf(await httpReq(gw.proxyPort, '/rt/multipart', { method: 'POST', headers: [['Content-Type', `multipart/form-data; boundary=${B}`]], body }));
    const got = Buffer.from(e.bodyBase64, 'base64');
    expect(got).toEqual(
      Buffer.concat([
        Buffer.from(`--${B}\r\nContent-Disposition: form-data; name="document"; filename="blob.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`),
        file,
        Buffer.from(`\r\n--${B}\r\nContent-Disposition: form-data; name="source"\r\n\r\ngateway\r\n--${B}--\r\n`),
      ]),
    );
    expect(got.includes(Buffer.from('s3cr3t'))).toBe(false);
  });
});

describe('request-transformer on the wire: path, method, Host', () => {
  it('replaces the upstream path from captures; the query follows', async () => {
    const e = echoOf(await httpReq(gw.proxyPort, '/rt/users/17/profile/photo?size=2'));
    expect(e.url).toBe('/v2/users/17/profile/photo?size=2');
  });

  it("refuses (400) a rendered path that walks up with '..', and encodes what would start a query", async () => {
    const before = seenCount('/files');
    expectError(await httpReq(gw.proxyPort, '/rt/file?name=..%2Fadmin'), 400, 'Bad request');
    expect(seenCount('/files')).toBe(before);
    const e = echoOf(await httpReq(gw.proxyPort, '/rt/file?name=a%3Fb%3D1%23c'));
    expect(e.url).toBe('/files/a%3Fb=1%23c?name=a%3Fb%3D1%23c');
  });

  it('sends GET upstream and moves the urlencoded body into the query', async () => {
    const e = echoOf(await httpReq(gw.proxyPort, '/rt/method?a=1', { method: 'POST', headers: [['Content-Type', 'application/x-www-form-urlencoded']], body: 'a=2&b=x+y' }));
    expect(e.method).toBe('GET');
    expect(e.url).toBe('/rt/method?a=1&a=2&b=x%20y');
  });

  it('replaces the upstream Host (route with preserve_host)', async () => {
    const e = echoOf(await httpReq(gw.proxyPort, '/rt/host', { headers: [['Host', 'public.example']] }));
    expect(e.headers['host']).toBe('internal.example:8443');
    expect(e.headers['x-forwarded-host']).toBe('public.example');
  });

  it('replaces the upstream Host on a route without preserve_host too (Kong upstream_host)', async () => {
    const e = echoOf(await httpReq(gw.proxyPort, '/rt/plain-host', { headers: [['Host', 'public.example']] }));
    expect(e.headers['host']).toBe('internal.example:8443');
  });

  it('keeps serving after all of the above', async () => {
    const status = await fetch(`http://127.0.0.1:${gw.adminPort}/status`);
    expect(status.status).toBe(200);
    expect(echoOf(await httpReq(gw.proxyPort, '/rt/orders/1')).headers['x-order-id']).toBe('1');
  });
});
