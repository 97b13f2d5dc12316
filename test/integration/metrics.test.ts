/**
 * GET /metrics end to end (issue #5: "a test sends a known number of requests and finds
 * exactly that count in /metrics"): a real gateway with 2 workers, a known mix of proxied
 * 200s, 404s (no route), 401s (key-auth) and 502s (dead upstream), each on its own
 * connection so both workers serve. Once /metrics has counted N requests (polled: see
 * settled()) it must hold exactly those counts per label set and stay there, with histogram
 * counts equal to the request counts, the request body bytes, and parse as Prometheus text.
 * Counters survive a worker restart.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startGateway, type Gateway } from '../helpers/gateway.js';
import { httpReq } from '../helpers/http-client.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

const KEY = 'metrics-test-key';

function config(upstream: Upstream, deadPort: number): string {
  return `_format_version: "3.0"
services:
  - name: echo
    url: ${upstream.url}
    routes:
      - name: ok
        paths: [/ok]
      - name: key
        paths: [/key]
        plugins:
          - name: key-auth
  - name: dead
    url: http://127.0.0.1:${deadPort}
    routes:
      - name: dead
        paths: [/dead]
consumers:
  - username: alice
    keyauth_credentials:
      - key: ${KEY}
`;
}

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/**
 * A strict reader of the Prometheus text format (0.0.4) as we write it: HELP and TYPE
 * before a family's samples, each family once, label syntax with escapes, numeric values,
 * histogram buckets cumulative and ending in +Inf equal to _count.
 */
function parsePrometheus(text: string): Sample[] {
  expect(text.endsWith('\n')).toBe(true);
  const types = new Map<string, string>();
  const helped = new Set<string>();
  const samples: Sample[] = [];
  const sampleRe = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (-?(?:\d+(?:\.\d+)?(?:e[+-]?\d+)?|\+Inf|-Inf|NaN))$/;
  const labelRe = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)/y;
  for (const line of text.slice(0, -1).split('\n')) {
    if (line.startsWith('# HELP ')) {
      const name = line.split(' ')[2]!;
      expect(helped.has(name), `HELP twice for ${name}`).toBe(false);
      helped.add(name);
      continue;
    }
    if (line.startsWith('# TYPE ')) {
      const [, , name, type] = line.split(' ');
      expect(['counter', 'gauge', 'histogram', 'summary', 'untyped']).toContain(type);
      expect(helped.has(name!), `TYPE before HELP for ${name}`).toBe(true);
      expect(types.has(name!)).toBe(false);
      types.set(name!, type!);
      continue;
    }
    const m = sampleRe.exec(line);
    expect(m, `not a sample line: ${JSON.stringify(line)}`).not.toBeNull();
    const [, name, labelText = '', value] = m!;
    const family = types.has(name!) ? name! : name!.replace(/_(bucket|sum|count)$/, '');
    expect(types.has(family), `sample before TYPE: ${name}`).toBe(true);
    if (family !== name) expect(types.get(family)).toBe('histogram');
    const labels: Record<string, string> = {};
    labelRe.lastIndex = 0;
    while (labelRe.lastIndex < labelText.length) {
      const start = labelRe.lastIndex;
      const lm = labelRe.exec(labelText);
      expect(lm, `bad labels at ${start}: ${labelText}`).not.toBeNull();
      expect(labels[lm![1]!], 'repeated label').toBeUndefined();
      labels[lm![1]!] = lm![2]!.replace(/\\n/g, '\n').replace(/\\"/g, '"').replace(/\\\\/g, '\\');
    }
    samples.push({ name: name!, labels, value: Number(value) });
  }
  // Histograms: cumulative buckets, +Inf last and equal to _count.
  for (const [family, type] of types) {
    if (type !== 'histogram') continue;
    const groups = new Map<string, Sample[]>();
    for (const s of samples.filter((x) => x.name === `${family}_bucket`)) {
      const { le, ...rest } = s.labels;
      const key = JSON.stringify(rest);
      groups.set(key, [...(groups.get(key) ?? []), s]);
    }
    for (const [key, buckets] of groups) {
      for (let i = 1; i < buckets.length; i++) expect(buckets[i]!.value).toBeGreaterThanOrEqual(buckets[i - 1]!.value);
      expect(buckets.at(-1)!.labels.le).toBe('+Inf');
      const count = samples.find((x) => x.name === `${family}_count` && JSON.stringify(x.labels) === key);
      expect(count?.value).toBe(buckets.at(-1)!.value);
      expect(samples.some((x) => x.name === `${family}_sum` && JSON.stringify(x.labels) === key)).toBe(true);
    }
  }
  return samples;
}

function pick(samples: Sample[], name: string, where: Record<string, string>): Sample[] {
  return samples.filter((s) => s.name === name && Object.entries(where).every(([k, v]) => s.labels[k] === v));
}

function value(samples: Sample[], name: string, where: Record<string, string>): number {
  const found = pick(samples, name, where);
  expect(found, `${name} ${JSON.stringify(where)}`).toHaveLength(1);
  return found[0]!.value;
}

describe('GET /metrics', () => {
  let upstream: Upstream;
  let gw: Gateway;

  beforeAll(async () => {
    upstream = await startUpstream();
    gw = await startGateway(config(upstream, await freePort()), { workers: 2 });
  });

  afterAll(async () => {
    await gw?.stop();
    await upstream?.close();
  });

  async function scrape(): Promise<{ text: string; samples: Sample[] }> {
    const res = await fetch(`http://127.0.0.1:${gw.adminPort}/metrics`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const text = await res.text();
    return { text, samples: parsePrometheus(text) };
  }

  /**
   * Scrapes until kong_nginx_requests_total reaches `n` (never past it). A worker counts a
   * request right after handing its last bytes to the socket, in the same synchronous run;
   * on a busy machine the kernel can preempt the worker thread in that instant (the write
   * wakes the client), so a scrape sent the moment the response arrives may come a few
   * milliseconds early for the last requests.
   */
  async function settled(n: number): Promise<Sample[]> {
    const deadline = Date.now() + 5000;
    for (;;) {
      const { samples } = await scrape();
      const total = value(samples, 'kong_nginx_requests_total', {});
      expect(total).toBeLessThanOrEqual(n);
      if (total === n) return samples;
      if (Date.now() > deadline) throw new Error(`metrics stuck at ${total} requests, expected ${n}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  // One connection per request (agent: false): the kernel spreads them over both workers.
  const get = (path: string, headers: Array<[string, string]> = []) => httpReq(gw.proxyPort, path, { agent: false, headers });

  const plan = { ok: 40, okPost: 6, noRoute: 9, unauthorized: 13, authorized: 7, dead: 3 };
  const BODY = 'x'.repeat(123);

  it('counts exactly the requests sent, per service, route, code and source', async () => {
    const before = await scrape();
    expect(pick(before.samples, 'kong_http_requests_total', {})).toHaveLength(0);
    expect(value(before.samples, 'kong_nginx_requests_total', {})).toBe(0);

    const statuses: number[] = [];
    const jobs: Array<() => Promise<{ status: number }>> = [];
    for (let i = 0; i < plan.ok; i++) jobs.push(() => get(`/ok/${i}`));
    for (let i = 0; i < plan.okPost; i++) jobs.push(() => httpReq(gw.proxyPort, '/ok/post', { agent: false, method: 'POST', body: BODY }));
    for (let i = 0; i < plan.noRoute; i++) jobs.push(() => get(`/nowhere/${i}`));
    for (let i = 0; i < plan.unauthorized; i++) jobs.push(() => get('/key'));
    for (let i = 0; i < plan.authorized; i++) jobs.push(() => get('/key', [['apikey', KEY]]));
    for (let i = 0; i < plan.dead; i++) jobs.push(() => get('/dead'));
    // A few at a time, interleaved.
    for (let i = 0; i < jobs.length; i += 8) statuses.push(...(await Promise.all(jobs.slice(i, i + 8).map((j) => j()))).map((r) => r.status));
    const n = jobs.length;
    expect(statuses.filter((s) => s === 200)).toHaveLength(plan.ok + plan.okPost + plan.authorized);
    expect(statuses.filter((s) => s === 404)).toHaveLength(plan.noRoute);
    expect(statuses.filter((s) => s === 401)).toHaveLength(plan.unauthorized);
    expect(statuses.filter((s) => s === 502)).toHaveLength(plan.dead);

    const samples = await settled(n);
    // Nothing more arrives later: exactly n, not at least n.
    await new Promise((r) => setTimeout(r, 300));
    expect((await scrape()).text).toBe((await scrape()).text);
    expect(value((await scrape()).samples, 'kong_nginx_requests_total', {})).toBe(n);
    const req = (service: string, route: string, code: string, source: string) =>
      value(samples, 'kong_http_requests_total', { service, route, code, source, workspace: 'default', consumer: '' });
    expect(req('echo', 'ok', '200', 'service')).toBe(plan.ok + plan.okPost);
    expect(req('', '', '404', 'kong')).toBe(plan.noRoute);
    expect(req('echo', 'key', '401', 'kong')).toBe(plan.unauthorized);
    expect(req('echo', 'key', '200', 'service')).toBe(plan.authorized);
    expect(req('dead', 'dead', '502', 'kong')).toBe(plan.dead);
    const all = pick(samples, 'kong_http_requests_total', {});
    expect(all).toHaveLength(5);
    expect(all.reduce((a, s) => a + s.value, 0)).toBe(n);
    expect(value(samples, 'kong_nginx_requests_total', { subsystem: 'http' })).toBe(n);
    // Both workers served (one connection per request) and their counts add up.
    const perWorker = pick(samples, 'portcullis_worker_requests_total', {});
    expect(perWorker.map((s) => s.labels.worker)).toEqual(['0', '1']);
    for (const w of perWorker) expect(w.value).toBeGreaterThan(0);
    expect(perWorker[0]!.value + perWorker[1]!.value).toBe(n);

    // Histograms: every request once in request and kong latency; upstream latency only
    // for responses that came from an upstream.
    const countOf = (name: string, service: string, route: string) => value(samples, `${name}_count`, { service, route, workspace: 'default' });
    expect(countOf('kong_request_latency_ms', 'echo', 'ok')).toBe(plan.ok + plan.okPost);
    expect(countOf('kong_request_latency_ms', 'echo', 'key')).toBe(plan.unauthorized + plan.authorized);
    expect(countOf('kong_request_latency_ms', '', '')).toBe(plan.noRoute);
    expect(countOf('kong_request_latency_ms', 'dead', 'dead')).toBe(plan.dead);
    const total = (name: string) => pick(samples, name, {}).reduce((a, s) => a + s.value, 0);
    expect(total('kong_request_latency_ms_count')).toBe(n);
    expect(total('kong_kong_latency_ms_count')).toBe(n);
    expect(total('kong_upstream_latency_ms_count')).toBe(plan.ok + plan.okPost + plan.authorized);
    expect(pick(samples, 'kong_upstream_latency_ms_count', { route: 'dead' })).toHaveLength(0);
    // Kong's bucket edges.
    expect(pick(samples, 'kong_kong_latency_ms_bucket', { route: 'ok' }).map((s) => s.labels.le)).toEqual(
      ['1', '2', '5', '7', '10', '15', '20', '30', '50', '75', '100', '200', '500', '750', '1000', '+Inf'],
    );
    expect(pick(samples, 'kong_request_latency_ms_bucket', { route: 'ok' }).map((s) => s.labels.le)).toEqual(
      ['25', '50', '80', '100', '250', '400', '700', '1000', '2000', '5000', '10000', '30000', '60000', '+Inf'],
    );

    // Bandwidth: request bodies exactly; responses carry bodies.
    expect(value(samples, 'kong_bandwidth_bytes', { service: 'echo', route: 'ok', direction: 'ingress' })).toBe(plan.okPost * BODY.length);
    expect(value(samples, 'kong_bandwidth_bytes', { service: 'echo', route: 'ok', direction: 'egress' })).toBeGreaterThan(0);
    expect(value(samples, 'kong_bandwidth_bytes', { service: 'echo', route: 'key', direction: 'egress' })).toBeGreaterThan(0);

    expect(value(samples, 'portcullis_worker_restarts_total', {})).toBe(0);
    expect(value(samples, 'portcullis_config_reloads_total', {})).toBe(0);
  });

  it('keeps counting across a worker restart, and counts the restart', async () => {
    const before = await scrape();
    const totalBefore = value(before.samples, 'kong_nginx_requests_total', {});
    const okBefore = value(before.samples, 'kong_http_requests_total', { route: 'ok', code: '200' });
    const restart = await fetch(`http://127.0.0.1:${gw.adminPort}/workers/0/restart`, { method: 'POST' });
    expect(restart.status).toBe(200);
    for (let i = 0; i < 20; i++) expect((await get('/ok/after')).status).toBe(200);
    const samples = await settled(totalBefore + 20);
    expect(value(samples, 'kong_http_requests_total', { route: 'ok', code: '200' })).toBe(okBefore + 20);
    expect(value(samples, 'portcullis_worker_restarts_total', {})).toBe(1);
  });

  it('keeps counting across a config reload (same labels, same series), and counts the reload', async () => {
    const before = await scrape();
    const totalBefore = value(before.samples, 'kong_nginx_requests_total', {});
    const okBefore = value(before.samples, 'kong_http_requests_total', { route: 'ok', code: '200' });
    const next = config(upstream, await freePort()).replace('      - name: ok\n', '      - name: extra\n        paths: [/extra]\n      - name: ok\n');
    const posted = await fetch(`http://127.0.0.1:${gw.adminPort}/config`, { method: 'POST', headers: { 'content-type': 'text/yaml' }, body: next });
    expect(posted.status).toBe(201);
    for (let i = 0; i < 10; i++) expect((await get('/ok/reloaded')).status).toBe(200);
    for (let i = 0; i < 4; i++) expect((await get('/extra')).status).toBe(200);
    const samples = await settled(totalBefore + 14);
    expect(value(samples, 'kong_http_requests_total', { route: 'ok', code: '200' })).toBe(okBefore + 10);
    expect(value(samples, 'kong_http_requests_total', { service: 'echo', route: 'extra', code: '200', source: 'service' })).toBe(4);
    expect(value(samples, 'portcullis_config_reloads_total', {})).toBe(1);
  });

  it('answers HEAD without a body and refuses other methods', async () => {
    const head = await fetch(`http://127.0.0.1:${gw.adminPort}/metrics`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
    const post = await fetch(`http://127.0.0.1:${gw.adminPort}/metrics`, { method: 'POST' });
    expect(post.status).toBe(405);
  });
});
