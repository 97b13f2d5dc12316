/**
 * request-termination and correlation-id through a real gateway process in front of a real
 * upstream, checked against Kong's semantics (kong/plugins/{request-termination,
 * correlation-id}/handler.lua and kong.response.exit; see workers/plugins/<name>/README.md
 * for the documented differences).
 */
import { Agent } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type Gateway } from '../helpers/gateway.js';
import { httpReq, rawSequence, type Reply } from '../helpers/http-client.js';
import { rawRequest } from '../helpers/raw-http.js';
import { echoHandler, startUpstream, type Upstream } from '../helpers/upstream.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const JSON_TYPE = 'application/json; charset=utf-8';

let upstream: Upstream;
let gw: Gateway;
let gatewayPid: number;

function config(upstreamUrl: string): string {
  return `_format_version: "3.0"
services:
  - name: backend
    url: ${upstreamUrl}
    routes:
      - name: rt-message
        paths: [/rt/message]
        plugins:
          - name: request-termination
            config: { status_code: 403, message: "So long and thanks for all the fish!" }
      - name: rt-default
        paths: [/rt/default]
        plugins:
          - name: request-termination
      - name: rt-not-found
        paths: [/rt/not-found]
        plugins:
          - name: request-termination
            config: { status_code: 404 }
      - name: rt-body
        paths: [/rt/body]
        plugins:
          - name: request-termination
            config: { status_code: 451, body: "<h1>Ünavailable — for legal reasons</h1>", content_type: "text/html; charset=utf-8" }
      - name: rt-body-no-type
        paths: [/rt/body-no-type]
        plugins:
          - name: request-termination
            config: { status_code: 200, body: '{"ok":true}' }
      - name: rt-no-content
        paths: [/rt/no-content]
        plugins:
          - name: request-termination
            config: { status_code: 204 }
      - name: rt-echo
        paths: [/rt/echo]
        plugins:
          - name: request-termination
            config: { status_code: 200, echo: true }
      - name: rt-echo-message
        paths: [/rt/echo-message]
        plugins:
          - name: request-termination
            config: { status_code: 202, echo: true, message: echoed }
      - name: rt-trigger
        paths: [/rt/trigger]
        strip_path: false
        plugins:
          - name: request-termination
            config: { status_code: 503, message: maintenance, trigger: X-Maint }
      - name: rt-trigger-echo
        paths: [/rt/debug]
        strip_path: false
        plugins:
          - name: request-termination
            config: { status_code: 200, echo: true, trigger: x-debug }
      - name: cid-default
        paths: [/cid/default]
        plugins:
          - name: correlation-id
      - name: cid-uuid
        paths: [/cid/uuid]
        plugins:
          - name: correlation-id
            config: { header_name: X-Request-ID, generator: uuid, echo_downstream: true }
      - name: cid-counter
        paths: [/cid/counter]
        plugins:
          - name: correlation-id
            config: { header_name: X-Trace, generator: "uuid#counter", echo_downstream: true }
      - name: cid-tracker
        paths: [/cid/tracker]
        plugins:
          - name: correlation-id
            config: { header_name: X-Tracker, generator: tracker, echo_downstream: true }
      - name: cid-terminated
        paths: [/cid/terminated]
        plugins:
          - name: correlation-id
            config: { header_name: X-Request-ID, generator: uuid, echo_downstream: true }
          - name: request-termination
            config: { status_code: 200, echo: true }
routes:
  - name: echo-no-service
    paths: [/standalone]
    plugins:
      - name: request-termination
        config: { status_code: 200, echo: true }
`;
}

beforeAll(async () => {
  upstream = await startUpstream((req, res) => {
    // An upstream that sets its own X-Request-ID, to see echo_downstream replace it.
    if ((req.url ?? '').includes('upstream-sets-id')) res.setHeader('X-Request-ID', 'from-upstream');
    echoHandler(req, res);
  });
  gw = await startGateway(config(upstream.url), { workers: 2 });
  const status = (await (await fetch(`http://127.0.0.1:${gw.adminPort}/status`)).json()) as { pid: number };
  gatewayPid = status.pid;
});

afterAll(async () => {
  const code = await gw?.stop();
  await upstream?.close();
  expect(code).toBe(0);
});

const get = (path: string, headers: Array<[string, string]> = [], agent?: Agent) => httpReq(gw.proxyPort, path, { headers, agent });

/** Paths the upstream saw since `mark` (upstream.seen.length at that time). */
function seenSince(mark: number): string[] {
  return upstream.seen.slice(mark).map((s) => s.url);
}

function expectGatewayReply(r: Reply): void {
  expect(r.headers.server).toMatch(/^portcullis\//);
  expect(r.headers['x-kong-request-id']).toMatch(/^[0-9a-f]{32}$/);
  expect(r.headers['x-kong-response-latency']).toMatch(/^\d+$/);
  expect(r.headers.via).toBeUndefined();
}

describe('request-termination', () => {
  it('answers status_code with {"message": message} as JSON, without contacting the upstream', async () => {
    const mark = upstream.seen.length;
    const r = await get('/rt/message/anything?x=1');
    expect(r.status).toBe(403);
    expect(r.headers['content-type']).toBe(JSON_TYPE);
    expect(r.json()).toEqual({ message: 'So long and thanks for all the fish!' });
    expect(Number(r.headers['content-length'])).toBe(r.body.length);
    expectGatewayReply(r);
    const post = await httpReq(gw.proxyPort, '/rt/message', { method: 'POST', body: '{"a":1}', headers: [['content-type', 'application/json']] });
    expect(post.status).toBe(403);
    expect(seenSince(mark)).toEqual([]);
  });

  it("uses Kong's default message for the status when none is configured (503 by default)", async () => {
    const d = await get('/rt/default');
    expect(d.status).toBe(503);
    expect(d.json()).toEqual({ message: 'Service unavailable' });
    const nf = await get('/rt/not-found');
    expect(nf.status).toBe(404);
    expect(nf.json()).toEqual({ message: 'Not found' });
    expect(nf.headers['content-type']).toBe(JSON_TYPE);
  });

  it('sends body byte for byte with its content_type', async () => {
    const r = await get('/rt/body');
    expect(r.status).toBe(451);
    expect(r.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(r.text).toBe('<h1>Ünavailable — for legal reasons</h1>');
    expect(Number(r.headers['content-length'])).toBe(Buffer.byteLength('<h1>Ünavailable — for legal reasons</h1>'));
    const plain = await get('/rt/body-no-type');
    expect(plain.status).toBe(200);
    expect(plain.text).toBe('{"ok":true}');
    // Documented: a body without content_type is labelled JSON.
    expect(plain.headers['content-type']).toBe(JSON_TYPE);
  });

  it('answers HEAD with the headers of GET and no body; the connection stays usable', async () => {
    const body = '{"message":"So long and thanks for all the fish!"}';
    const req = (method: string) => `${method} /rt/message HTTP/1.1\r\nHost: x\r\n\r\n`;
    // HEAD, then (once its head is in) GET on the same kept-alive connection.
    const [head, getRes] = await rawSequence(gw.proxyPort, [req('HEAD'), req('GET')], [0, body.length], 1500);
    expect(head).toMatch(/^HTTP\/1\.1 403 /);
    expect(head).toMatch(new RegExp(`\r\ncontent-length: ${body.length}\r\n`, 'i'));
    expect(getRes, 'the GET after a HEAD on the same connection').toMatch(/^HTTP\/1\.1 403 /);
    expect(getRes!.endsWith(`\r\n\r\n${body}`)).toBe(true);
  });

  it('with a status that has no default message (204) sends no body, as kong.response.exit(204) does', async () => {
    const req = 'GET /rt/no-content HTTP/1.1\r\nHost: x\r\n\r\nGET /rt/message HTTP/1.1\r\nHost: x\r\n\r\n';
    const r = await rawRequest(gw.proxyPort, req, 1500);
    const responses = r.text.split(/(?=HTTP\/1\.1 )/);
    expect(responses[0]).toMatch(/^HTTP\/1\.1 204 /);
    // Nothing after the head of a 204: the next response starts right after it.
    expect(responses[0]!.endsWith('\r\n\r\n'), JSON.stringify(r.text)).toBe(true);
    expect(responses[1]).toMatch(/^HTTP\/1\.1 403 /);
  });

  it('echo: answers with the request as Kong describes it, without contacting the upstream', async () => {
    const mark = upstream.seen.length;
    const r = await get('/rt/echo/a/b?tag=a&tag=b&debug&name=J%C3%BCrgen', [
      ['Host', 'api.example.com:1234'],
      ['X-Multi', 'one'],
      ['X-Multi', 'two'],
      ['User-Agent', 'e2e-test'],
    ]);
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe(JSON_TYPE);
    expectGatewayReply(r);
    const e = r.json();
    expect(e.kong).toEqual({ node_id: expect.stringMatching(UUID), worker_pid: gatewayPid, hostname: expect.any(String) });
    expect(e.request).toMatchObject({
      scheme: 'http',
      host: 'api.example.com',
      // kong.request.get_port(): the port the request arrived on, not the one written in Host.
      port: gw.proxyPort,
      method: 'GET',
      path: '/rt/echo/a/b',
      query: { tag: ['a', 'b'], debug: true, name: 'Jürgen' },
      body: null,
    });
    expect(e.request.headers).toMatchObject({ host: 'api.example.com:1234', 'x-multi': ['one', 'two'], 'user-agent': 'e2e-test' });
    // Kong's cjson leaves a nil message out (no message configured, none by default for 200).
    expect(e).not.toHaveProperty('message');
    expect(e.matched_route).toMatchObject({ name: 'rt-echo', paths: ['/rt/echo'], strip_path: true });
    expect(e.matched_service).toMatchObject({ name: 'backend', host: '127.0.0.1', port: upstream.port, protocol: 'http' });
    expect(seenSince(mark)).toEqual([]);
  });

  it('echo: request.path is the normalised path the router matched (kong.request.get_path)', async () => {
    const r = await get('/rt/echo//a/./b/../%63?q=1');
    expect(r.status).toBe(200);
    expect(r.json().request.path).toBe('/rt/echo/a/c');
  });

  it('echo: includes the request body, parsed for JSON and forms, raw otherwise; chunked bodies too', async () => {
    const post = (path: string, body: string, type: string, chunked = false) =>
      httpReq(gw.proxyPort, path, { method: 'POST', body, chunked, headers: [['Content-Type', type]] });
    const json = (await post('/rt/echo', '{"qty":3,"items":["a"]}', 'application/json')).json();
    expect(json.request).toMatchObject({ method: 'POST', body: { qty: 3, items: ['a'] }, raw_body: '{"qty":3,"items":["a"]}' });
    const form = (await post('/rt/echo', 'a=1&a=2&b=x+y', 'application/x-www-form-urlencoded')).json();
    expect(form.request.body).toEqual({ a: ['1', '2'], b: 'x y' });
    const text = (await post('/rt/echo', 'just text', 'text/plain')).json();
    expect(text.request).toMatchObject({ body: null, raw_body: 'just text' });
    const chunked = await post('/rt/echo', '{"chunked":true,"pad":"' + 'x'.repeat(5000) + '"}', 'application/json', true);
    expect(chunked.status).toBe(200);
    expect(chunked.json().request.body).toMatchObject({ chunked: true });
  });

  it('echo: message is the configured one, with the configured status; works on a route without a service', async () => {
    const r = await get('/rt/echo-message');
    expect(r.status).toBe(202);
    expect(r.json()).toMatchObject({ message: 'echoed', matched_route: { name: 'rt-echo-message' } });
    const s = await get('/standalone');
    expect(s.status).toBe(200);
    expect(s.json()).toMatchObject({ matched_route: { name: 'echo-no-service', service: null }, matched_service: null });
  });

  it('trigger: proxies normally without it; terminates when the header or query argument is present', async () => {
    const mark = upstream.seen.length;
    const through = await get('/rt/trigger/x');
    expect(through.status).toBe(200);
    expect(through.json()).toMatchObject({ url: '/rt/trigger/x' });
    expect(seenSince(mark)).toEqual(['/rt/trigger/x']);

    for (const [path, headers] of [
      ['/rt/trigger/h', [['X-Maint', '1']]],
      ['/rt/trigger/h', [['x-maint', '']]], // any case, even empty: present
      ['/rt/trigger/q?X-Maint=yes', []],
      ['/rt/trigger/q?X-Maint', []], // a bare flag
      ['/rt/trigger/q?a=1&X-Maint=&b=2', []],
    ] as Array<[string, Array<[string, string]>]>) {
      const r = await get(path, headers);
      expect(r.status, `${path} ${JSON.stringify(headers)}`).toBe(503);
      expect(r.json()).toEqual({ message: 'maintenance' });
    }
    // Query argument names are case-sensitive (kong.request.get_query), and a value is not a name.
    expect((await get('/rt/trigger/q?x-maint=1')).status).toBe(200);
    expect((await get('/rt/trigger/q?flag=X-Maint')).status).toBe(200);
    expect((await get('/rt/trigger/h', [['X-Maintenance', '1']])).status).toBe(200);
    expect(seenSince(mark)).toEqual(['/rt/trigger/x', '/rt/trigger/q?x-maint=1', '/rt/trigger/q?flag=X-Maint', '/rt/trigger/h']);
  });

  it('trigger + echo: echoes only the requests that carry the trigger', async () => {
    const mark = upstream.seen.length;
    const plain = await get('/rt/debug/orders');
    expect(plain.status).toBe(200);
    expect(plain.json()).toMatchObject({ url: '/rt/debug/orders' });
    const debug = await get('/rt/debug/orders?x-debug');
    expect(debug.status).toBe(200);
    expect(debug.json()).toMatchObject({ request: { path: '/rt/debug/orders', query: { 'x-debug': true } }, matched_route: { name: 'rt-trigger-echo' } });
    expect(seenSince(mark)).toEqual(['/rt/debug/orders']);
  });
});

describe('correlation-id', () => {
  it('by default adds Kong-Request-ID: <worker uuid>#<counter> upstream, and does not echo it', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 }); // one connection: one worker
    try {
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        const r = await get('/cid/default', [], agent);
        expect(r.status).toBe(200);
        const sent = r.json().headers['kong-request-id'] as string;
        ids.push(sent);
        expect(r.headers['kong-request-id']).toBeUndefined();
      }
      const parsed = ids.map((id) => /^([0-9a-f-]{36})#(\d+)$/.exec(id));
      expect(parsed.every((m) => m !== null && UUID.test(m[1]!)), ids.join(' ')).toBe(true);
      expect(new Set(parsed.map((m) => m![1])).size).toBe(1);
      const counters = parsed.map((m) => Number(m![2]));
      for (let i = 1; i < counters.length; i++) expect(counters[i]).toBe(counters[i - 1]! + 1);
    } finally {
      agent.destroy();
    }
  });

  it('uuid#counter ids are unique across workers and connections', async () => {
    const ids = await Promise.all(Array.from({ length: 40 }, () => get('/cid/counter').then((r) => r.headers['x-trace'] as string)));
    expect(new Set(ids).size).toBe(40);
    const prefixes = new Set(ids.map((id) => id.split('#')[0]));
    expect(prefixes.size).toBeGreaterThanOrEqual(1);
    expect(prefixes.size).toBeLessThanOrEqual(2); // one uuid per worker
  });

  it('generator uuid: a fresh UUID per request, the same one upstream and echoed downstream', async () => {
    const seen = new Set<string>();
    for (let i = 0; i < 5; i++) {
      const r = await get('/cid/uuid');
      expect(r.status).toBe(200);
      const upstreamId = r.json().headers['x-request-id'] as string;
      expect(upstreamId).toMatch(UUID);
      expect(r.headers['x-request-id']).toBe(upstreamId);
      seen.add(upstreamId);
    }
    expect(seen.size).toBe(5);
  });

  it('keeps an incoming id (header name in any case); an empty one is replaced', async () => {
    const r = await get('/cid/uuid', [['x-REQUEST-id', 'client-id-42']]);
    expect(r.json().headers['x-request-id']).toBe('client-id-42');
    expect(r.headers['x-request-id']).toBe('client-id-42');
    const empty = await get('/cid/uuid', [['X-Request-ID', '']]);
    expect(empty.json().headers['x-request-id']).toMatch(UUID);
    expect(empty.headers['x-request-id']).toBe(empty.json().headers['x-request-id']);
  });

  it("echo_downstream replaces the upstream's own value of the header", async () => {
    const r = await get('/cid/uuid/upstream-sets-id');
    const sent = r.json().headers['x-request-id'] as string;
    expect(sent).toMatch(UUID);
    expect(r.rawHeaders.filter((h) => h.toLowerCase() === 'x-request-id')).toHaveLength(1);
    expect(r.headers['x-request-id']).toBe(sent);
  });

  it('generator tracker: address-port-pid-n-1-seconds.millis', async () => {
    const before = Date.now() / 1000;
    const r = await get('/cid/tracker');
    const id = r.json().headers['x-tracker'] as string;
    expect(r.headers['x-tracker']).toBe(id);
    const m = /^(.+)-(\d+)-(\d+)-(\d+)-(\d+)-(\d+\.\d{3})$/.exec(id);
    expect(m, id).not.toBeNull();
    expect(m![1]).toBe('127.0.0.1');
    expect(Number(m![2])).toBe(gw.proxyPort);
    expect(Number(m![3])).toBe(gatewayPid);
    expect(Number(m![6])).toBeGreaterThanOrEqual(Math.floor(before) - 1);
    expect(Number(m![6])).toBeLessThanOrEqual(Date.now() / 1000 + 1);
  });

  it('runs before request-termination: the echoed request already carries the id, and the reply echoes it', async () => {
    const mark = upstream.seen.length;
    const r = await get('/cid/terminated');
    expect(r.status).toBe(200);
    const echoed = r.json().request.headers['x-request-id'] as string;
    expect(echoed).toMatch(UUID);
    expect(r.headers['x-request-id']).toBe(echoed);
    const kept = await get('/cid/terminated', [['X-Request-ID', 'abc']]);
    expect(kept.json().request.headers['x-request-id']).toBe('abc');
    expect(kept.headers['x-request-id']).toBe('abc');
    expect(seenSince(mark)).toEqual([]);
  });
});
