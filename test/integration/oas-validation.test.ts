/**
 * oas-validation through a real gateway process in front of a real upstream:
 * - a valid request reaches the upstream with its body byte for byte (Content-Length and
 *   chunked uploads); an invalid one is answered 400 (Kong's body shape, verbose details)
 *   and the upstream never sees it;
 * - include_base_path with a route that strips its prefix: the spec's paths are matched
 *   under the servers' base path, the upstream gets the stripped path;
 * - notify-only: the invalid request passes, the gateway's log says what failed;
 * - large bodies are validated in the worker's offload thread with the same verdicts as
 *   on the event loop;
 * - a reload to a 5,000-path spec (compiled in the config pool thread) keeps every worker
 *   serving: a ping loop against the workers and one against the admin API measure how
 *   long each event loop was blocked, and the new spec is enforced afterwards.
 */
import { createHash } from 'node:crypto';
import { request, type IncomingMessage, type ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type Gateway } from '../helpers/gateway.js';
import { httpReq } from '../helpers/http-client.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

const sha = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex');

interface Seen {
  method: string;
  url: string;
  sha256: string;
  bytes: number;
}

/** Records each request with a digest of its body; answers 200 with that digest. */
function recordingHandler(seen: Seen[]) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    const hash = createHash('sha256');
    let bytes = 0;
    req.on('data', (c: Buffer) => {
      bytes += c.length;
      hash.update(c);
    });
    req.on('end', () => {
      const rec = { method: req.method ?? '', url: req.url ?? '', sha256: hash.digest('hex'), bytes };
      seen.push(rec);
      const body = JSON.stringify(rec);
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  };
}

const petStore = {
  openapi: '3.0.3',
  info: { title: 'pets', version: '1' },
  servers: [{ url: 'https://api.example.com/v1' }],
  paths: {
    '/pets': {
      get: {
        parameters: [
          { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 100 } },
          { name: 'status', in: 'query', required: true, schema: { type: 'string', enum: ['available', 'sold'] } },
        ],
      },
      post: { requestBody: { required: true, content: { 'application/json': { schema: { $ref: '#/components/schemas/Pet' } } } } },
    },
    '/pets/{petId}': {
      parameters: [{ name: 'petId', in: 'path', required: true, schema: { type: 'integer', minimum: 1 } }],
      get: {},
    },
  },
  components: {
    schemas: {
      Pet: {
        type: 'object',
        required: ['name'],
        additionalProperties: false,
        properties: {
          name: { type: 'string', minLength: 1, maxLength: 40 },
          tag: { type: 'string', nullable: true },
          photos: { type: 'array', items: { type: 'string', maxLength: 200 } },
          children: { type: 'array', items: { $ref: '#/components/schemas/Pet' } },
        },
      },
    },
  },
};

/** The recording upstream's answer, as a response schema: at most 100 body bytes seen. */
const echoSpec = {
  openapi: '3.1.0',
  info: { title: 'echo', version: '1' },
  paths: {
    '/echo': {
      post: {
        requestBody: { content: { 'application/json': { schema: {} } } },
        responses: {
          '200': {
            description: 'what the upstream saw',
            content: { 'application/json': { schema: { type: 'object', required: ['method', 'url'], properties: { bytes: { type: 'integer', maximum: 100 } } } } },
          },
        },
      },
    },
  },
};

function config(upstreamUrl: string): string {
  const spec = JSON.stringify(petStore);
  return JSON.stringify({
    _format_version: '3.0',
    services: [
      {
        name: 'pets',
        url: upstreamUrl,
        routes: [
          {
            name: 'v1',
            paths: ['/v1'],
            strip_path: true,
            plugins: [{ name: 'oas-validation', config: { api_spec: spec, verbose_response: true, include_base_path: true, large_body_threshold: 65536 } }],
          },
          {
            name: 'quiet',
            paths: ['/quiet'],
            strip_path: true,
            plugins: [{ name: 'oas-validation', config: { api_spec: spec, include_base_path: true, custom_base_path: '/quiet' } }],
          },
          {
            name: 'notify',
            paths: ['/notify'],
            strip_path: true,
            plugins: [{ name: 'oas-validation', config: { api_spec: spec, include_base_path: true, custom_base_path: '/notify', notify_only_request_validation_failure: true } }],
          },
          {
            name: 'responses',
            paths: ['/resp'],
            strip_path: true,
            plugins: [{ name: 'oas-validation', config: { api_spec: JSON.stringify(echoSpec), include_base_path: true, custom_base_path: '/resp', validate_response_body: true } }],
          },
          {
            name: 'pooled',
            paths: ['/pooled'],
            strip_path: true,
            plugins: [{ name: 'oas-validation', config: { api_spec: spec, verbose_response: true, include_base_path: true, custom_base_path: '/pooled', large_body_threshold: 1024 } }],
          },
        ],
      },
    ],
  });
}

/** A chunked upload in `pieces` writes, a few ms apart (a real client streaming its body). */
function chunkedPost(port: number, path: string, body: Buffer, pieces: number): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'POST', headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' }, agent: false });
    req.on('error', reject);
    req.on('response', (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString('utf8')));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    const size = Math.ceil(body.length / pieces);
    let i = 0;
    const next = (): void => {
      if (i >= body.length) {
        req.end();
        return;
      }
      req.write(body.subarray(i, i + size));
      i += size;
      setTimeout(next, 2);
    };
    next();
  });
}

describe('oas-validation end to end', () => {
  let upstream: Upstream;
  let gw: Gateway;
  const seen: Seen[] = [];

  beforeAll(async () => {
    upstream = await startUpstream(recordingHandler(seen));
    gw = await startGateway(config(upstream.url), { workers: 2, env: { PORTCULLIS_LOG_LEVEL: 'info' } });
  });
  afterAll(async () => {
    await gw?.stop();
    await upstream?.close();
  });

  const json = (_body: unknown): Array<[string, string]> => [['Content-Type', 'application/json']];

  it('passes valid requests to the upstream unchanged (path stripped, body byte for byte)', async () => {
    const get = await httpReq(gw.proxyPort, '/v1/pets?status=sold&limit=5');
    expect(get.status).toBe(200);
    expect(get.json()).toMatchObject({ method: 'GET', url: '/pets?status=sold&limit=5' });
    // Odd spacing, escapes and non-ASCII: the upstream must get these exact bytes.
    const body = Buffer.from('{ "name" : "R\\u00e9x  the 🐕",\n  "tag": null, "children": [ {"name":"Kid"} ] }');
    const post = await httpReq(gw.proxyPort, '/v1/pets', { method: 'POST', headers: json(body), body });
    expect(post.status).toBe(200);
    expect(post.json()).toMatchObject({ url: '/pets', sha256: sha(body), bytes: body.length });
    const chunked = await chunkedPost(gw.proxyPort, '/v1/pets', body, 7);
    expect(chunked.status).toBe(200);
    expect(JSON.parse(chunked.text)).toMatchObject({ sha256: sha(body), bytes: body.length });
  });

  it('answers 400 with the reason and never calls the upstream for invalid requests', async () => {
    const before = seen.length;
    const cases: Array<[string, Parameters<typeof httpReq>[2], string]> = [
      ['/v1/pets?limit=5', {}, "query 'status' validation failed with error: 'required parameter value not found in request'"],
      ['/v1/pets?status=lost', {}, "query 'status' validation failed with error: 'must be equal to one of the allowed values: \"available\", \"sold\"'"],
      ['/v1/pets/0', {}, "path 'petId' validation failed with error: 'must be >= 1'"],
      ['/v1/owners', {}, 'path not found in api specification'],
      ['/v1/pets/3', { method: 'DELETE' }, 'method not allowed in api specification'],
      ['/v1/pets', { method: 'POST', headers: json(null), body: '{"name":"Rex","owner":"me"}' }, "request body validation failed with error: 'must NOT have additional properties ('owner')'"],
      ['/v1/pets', { method: 'POST', headers: json(null), body: '{"name":' }, "request body validation failed with error: 'the body is not valid JSON'"],
      ['/v1/pets', { method: 'POST', headers: json(null), body: '{"name":"Rex",}' }, "request body validation failed with error: 'the body is not valid JSON (error at character 14)'"],
      ['/v1/pets', { method: 'POST', headers: [['Content-Type', 'text/plain']], body: 'Rex' }, "request body validation failed with error: 'content type 'text/plain' is not allowed'"],
    ];
    for (const [path, opts, message] of cases) {
      const r = await httpReq(gw.proxyPort, path, opts);
      expect(r.status, path).toBe(400);
      expect(r.headers['content-type']).toMatch(/^application\/json/);
      expect(r.json()).toMatchObject({ message });
    }
    // Without verbose_response: Kong's generic messages.
    const quiet = await httpReq(gw.proxyPort, '/quiet/pets?status=lost');
    expect(quiet.status).toBe(400);
    expect(quiet.json()).toMatchObject({ message: "request param doesn't conform to schema" });
    const quietBody = await httpReq(gw.proxyPort, '/quiet/pets', { method: 'POST', headers: json(null), body: '{}' });
    expect(quietBody.json()).toMatchObject({ message: "request body doesn't conform to schema" });
    // A chunked upload whose content fails: answered 400, nothing reaches the upstream.
    const bad = Buffer.from(JSON.stringify({ name: 'Rex', children: [{ name: 'Kid', children: [{ tag: 'no name' }] }] }));
    const chunked = await chunkedPost(gw.proxyPort, '/v1/pets', bad, 5);
    expect(chunked.status).toBe(400);
    expect(JSON.parse(chunked.text)).toMatchObject({ message: "request body validation failed with error: '/children/0/children/0 must have required property 'name''" });
    await new Promise((r) => setTimeout(r, 100));
    expect(seen.length).toBe(before);
  });

  it('notify only: the invalid request reaches the upstream and the log says what failed (no values)', async () => {
    const before = seen.length;
    const r = await httpReq(gw.proxyPort, '/notify/pets?status=secret-value-42');
    expect(r.status).toBe(200);
    expect(seen.length).toBe(before + 1);
    await new Promise((res) => setTimeout(res, 200));
    const line = gw
      .output()
      .split('\n')
      .find((l) => l.includes('does not conform to the OpenAPI spec'));
    expect(line).toBeDefined();
    const entry = JSON.parse(line!) as { failures: Array<{ in: string; name: string }>; operation: string };
    expect(entry.operation).toBe('GET /pets');
    expect(entry.failures).toEqual([{ in: 'query', name: 'status', error: expect.stringContaining("query 'status' validation failed") }]);
    expect(gw.output()).not.toContain('secret-value-42');
  });

  it('validate_response_body: a conforming response arrives whole, a failing one is answered 406 (Kong) and logged', async () => {
    const small = JSON.stringify({ a: 1 });
    const ok = await httpReq(gw.proxyPort, '/resp/echo', { method: 'POST', headers: json(null), body: small });
    expect(ok.status).toBe(200);
    expect(ok.json()).toMatchObject({ url: '/echo', bytes: small.length, sha256: sha(small) });
    // The upstream answers bytes: 150, over the response schema's maximum. Nothing of the
    // response went out while it was held for validation: the client gets Kong's 406.
    const big = JSON.stringify({ a: 'x'.repeat(140) });
    const refused = await httpReq(gw.proxyPort, '/resp/echo', { method: 'POST', headers: json(null), body: big });
    expect(refused.status).toBe(406);
    expect(refused.json()).toMatchObject({ message: "response body doesn't conform to schema" });
    expect(refused.text).not.toContain('sha256');
    await new Promise((res) => setTimeout(res, 200));
    expect(gw.output()).toContain('upstream response does not conform to the OpenAPI spec: replaced with 406');
    expect(gw.output()).toContain('/bytes must be <= 100');
    // The gateway keeps serving on the same route.
    expect((await httpReq(gw.proxyPort, '/resp/echo', { method: 'POST', headers: json(null), body: small })).status).toBe(200);
  });

  it('validates large bodies in the offload thread, with the same verdicts as on the event loop', async () => {
    const photos = Array.from({ length: 1500 }, (_, i) => `https://img.example.com/${i}.jpg`);
    const good = Buffer.from(JSON.stringify({ name: 'Big', photos }));
    const bad = Buffer.from(JSON.stringify({ name: 'Big', photos: [...photos.slice(0, 1200), 'x'.repeat(201), ...photos.slice(1200)] }));
    expect(good.length).toBeGreaterThan(1024);
    expect(good.length).toBeLessThan(65536);
    const before = seen.length;
    for (const via of ['/pooled', '/v1']) {
      const ok = await httpReq(gw.proxyPort, `${via}/pets`, { method: 'POST', headers: json(null), body: good });
      expect(ok.status, via).toBe(200);
      expect(ok.json()).toMatchObject({ sha256: sha(good) });
      const no = await httpReq(gw.proxyPort, `${via}/pets`, { method: 'POST', headers: json(null), body: bad });
      expect(no.status, via).toBe(400);
      expect(no.json()).toMatchObject({ message: "request body validation failed with error: '/photos/1200 must NOT have more than 200 characters'" });
      const chunked = await chunkedPost(gw.proxyPort, `${via}/pets`, bad, 9);
      expect(chunked.status, via).toBe(400);
    }
    expect(seen.length).toBe(before + 2);
    await new Promise((res) => setTimeout(res, 200));
    expect(gw.output()).toContain('validating a large request body in the offload thread of this worker');
  });
});

/** N paths, each with a path parameter, query parameters and a JSON body of its own. */
function largeSpec(n: number, title: string): Record<string, unknown> {
  const paths: Record<string, unknown> = {};
  for (let i = 0; i < n; i++) {
    paths[`/r${i}/items/{id}`] = {
      parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'integer', minimum: 1 } }],
      get: { parameters: [{ name: 'limit', in: 'query', schema: { type: 'integer', maximum: 100 + (i % 7) } }] },
      post: {
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['name', `f${i}`],
                additionalProperties: false,
                properties: {
                  name: { type: 'string', maxLength: 64 },
                  [`f${i}`]: { type: 'integer', nullable: true },
                  owner: { $ref: '#/components/schemas/Person' },
                  tags: { type: 'array', items: { type: 'string', pattern: '^[a-z]+$' } },
                },
              },
            },
          },
        },
      },
    };
  }
  return {
    openapi: '3.0.3',
    info: { title, version: '1' },
    paths,
    components: { schemas: { Person: { type: 'object', required: ['name'], properties: { name: { type: 'string' }, friends: { type: 'array', items: { $ref: '#/components/schemas/Person' } } } } } },
  };
}

function reloadConfig(upstreamUrl: string, spec: Record<string, unknown> | null): string {
  return JSON.stringify({
    _format_version: '3.0',
    services: [
      {
        name: 'api',
        url: upstreamUrl,
        routes: [
          { name: 'ping', paths: ['/ping'], plugins: [{ name: 'request-termination', config: { status_code: 200, message: 'pong' } }] },
          {
            name: 'api',
            paths: ['/r'],
            strip_path: false,
            plugins: spec === null ? [] : [{ name: 'oas-validation', config: { api_spec: JSON.stringify(spec), verbose_response: true } }],
          },
        ],
      },
    ],
  });
}

/** Requests `url` back to back (a new connection each, so every worker gets some) until stopped; records each latency. */
function pingLoop(url: string): { stop: () => Promise<{ count: number; failures: number; maxMs: number; p99Ms: number }> } {
  let running = true;
  const latencies: number[] = [];
  let failures = 0;
  const loops = [0, 1, 2].map(async () => {
    while (running) {
      const t0 = performance.now();
      try {
        const res = await fetch(url, { headers: { connection: 'close' } });
        await res.arrayBuffer();
        if (res.status !== 200) failures++;
      } catch {
        failures++;
      }
      latencies.push(performance.now() - t0);
    }
  });
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
      const sorted = [...latencies].sort((a, b) => a - b);
      return {
        count: sorted.length,
        failures,
        maxMs: Math.round(sorted[sorted.length - 1] ?? 0),
        p99Ms: Math.round(sorted[Math.floor(sorted.length * 0.99)] ?? 0),
      };
    },
  };
}

describe('oas-validation: a reload to a 5,000-path spec', () => {
  let upstream: Upstream;
  let gw: Gateway;
  const seen: Seen[] = [];

  beforeAll(async () => {
    upstream = await startUpstream(recordingHandler(seen));
    gw = await startGateway(reloadConfig(upstream.url, null), { workers: 2 });
  });
  afterAll(async () => {
    await gw?.stop();
    await upstream?.close();
  });

  it('compiles off the event loops: the workers and the admin API keep answering, then the spec is enforced', async () => {
    const spec = largeSpec(5000, 'big');
    const text = reloadConfig(upstream.url, spec);
    // Baseline: the same loops with nothing else going on.
    const base = pingLoop(gw.url('/ping'));
    const baseAdmin = pingLoop(`http://127.0.0.1:${gw.adminPort}/status`);
    await new Promise((r) => setTimeout(r, 2000));
    const baseline = { proxy: await base.stop(), admin: await baseAdmin.stop() };

    const proxy = pingLoop(gw.url('/ping'));
    const adminLoop = pingLoop(`http://127.0.0.1:${gw.adminPort}/status`);
    const t0 = performance.now();
    const res = await fetch(`http://127.0.0.1:${gw.adminPort}/config`, { method: 'POST', body: text, headers: { 'content-type': 'application/json' } });
    const reloadMs = Math.round(performance.now() - t0);
    const answer = (await res.json()) as { changed: boolean };
    // Let the loops see the workers swap the config in.
    await new Promise((r) => setTimeout(r, 1000));
    const during = { proxy: await proxy.stop(), admin: await adminLoop.stop() };
    console.log(JSON.stringify({ specBytes: JSON.stringify(spec).length, configBytes: text.length, reloadMs, baseline, during }));
    expect(res.status).toBe(201);
    expect(answer.changed).toBe(true);
    expect(during.proxy.failures).toBe(0);
    expect(during.admin.failures).toBe(0);
    expect(during.proxy.count).toBeGreaterThan(10);

    // The new spec is enforced, on its last path too.
    const ok = await httpReq(gw.proxyPort, '/r4999/items/7', { method: 'POST', headers: [['Content-Type', 'application/json']], body: '{"name":"x","f4999":null,"owner":{"name":"a","friends":[{"name":"b"}]}}' });
    expect(ok.status).toBe(200);
    const bad = await httpReq(gw.proxyPort, '/r4999/items/7', { method: 'POST', headers: [['Content-Type', 'application/json']], body: '{"name":"x","f4999":null,"owner":{"friends":[{"name":"b"}]}}' });
    expect(bad.status).toBe(400);
    expect(bad.json()).toMatchObject({ message: "request body validation failed with error: '/owner must have required property 'name''" });
    // Path 2500's limit is at most 100 + 2500 % 7 = 101.
    const q = await httpReq(gw.proxyPort, '/r2500/items/1?limit=102');
    expect(q.json()).toMatchObject({ message: "query 'limit' validation failed with error: 'must be <= 101'" });
    expect((await httpReq(gw.proxyPort, '/r2500/items/1?limit=101')).status).toBe(200);

    // The compiled spec is derived data: the admin API never shows it, and GET /config loads back.
    const plugins = await (await fetch(`http://127.0.0.1:${gw.adminPort}/plugins`)).text();
    expect(plugins).toContain('oas-validation');
    expect(plugins).not.toContain('$compiled');
    const current = await (await fetch(`http://127.0.0.1:${gw.adminPort}/config`)).text();
    expect(current).not.toContain('$compiled');
    const again = await fetch(`http://127.0.0.1:${gw.adminPort}/config`, { method: 'POST', body: current, headers: { 'content-type': 'application/json' } });
    expect(again.status, await again.clone().text()).toBeLessThan(300);
  }, 300_000);
});
