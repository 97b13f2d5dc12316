/**
 * The shared-memory metrics table: several worker threads record at once (two of them on
 * the same slice, as a worker and its replacement do during a restart) and the reader's
 * sums are exact; 64-bit carries; series registration across threads; overflow.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import {
  C_CODES,
  C_EGRESS,
  C_INGRESS,
  C_KONG_LAT,
  C_REQUEST_LAT,
  C_UPSTREAM_LAT,
  CODE_OTHER,
  CODE_SLOTS,
  KONG_LATENCY_BUCKETS,
  MetricsReader,
  MetricsRecorder,
  OVERFLOW_LABEL,
  SERIES_NO_ROUTE,
  SERIES_OVERFLOW,
  UPSTREAM_LATENCY_BUCKETS,
  createMetricsBuffer,
  type RequestSample,
} from './metrics.js';

function sample(over: Partial<RequestSample>): RequestSample {
  return { series: 0, status: 200, fromService: true, requestMs: 3, kongMs: 1, upstreamMs: 2, ingressBytes: 0, egressBytes: 0, ...over };
}

function find(reader: MetricsReader, service: string, route: string) {
  const s = reader.read().find((x) => x.service === service && x.route === route);
  if (s === undefined) throw new Error(`no series ${service}/${route}`);
  return s.counters;
}

describe('metrics table (one thread)', () => {
  it('counts codes by source, latency buckets with Kong edges (le inclusive), sums and bandwidth', () => {
    const sab = createMetricsBuffer(2, 16);
    const rec = new MetricsRecorder(sab, 1);
    const s = rec.series('svc', 'r1');
    expect(s).toBe(2);
    rec.record(sample({ series: s, status: 200, requestMs: 25, kongMs: 1, upstreamMs: 26, ingressBytes: 10, egressBytes: 100 }));
    rec.record(sample({ series: s, status: 401, fromService: false, requestMs: 70000, kongMs: 1001, upstreamMs: -1, egressBytes: 50 }));
    rec.record(sample({ series: s, status: 42, fromService: false }));
    const c = find(new MetricsReader(sab), 'svc', 'r1');
    expect(c[C_CODES + 200 - 100]).toBe(1);
    expect(c[C_CODES + CODE_SLOTS + 401 - 100]).toBe(1);
    expect(c[C_CODES + CODE_SLOTS + CODE_OTHER]).toBe(1);
    // 25 ms falls in le="25" (edges are inclusive, as Prometheus's le); 70000 in +Inf.
    expect(c[C_REQUEST_LAT + 0]).toBe(2); // 25 and the third sample's 3
    expect(c[C_REQUEST_LAT + UPSTREAM_LATENCY_BUCKETS.length]).toBe(1); // +Inf raw bucket: 70000
    expect(c[C_REQUEST_LAT + UPSTREAM_LATENCY_BUCKETS.length + 1]).toBe(25 + 70000 + 3);
    // kong: 1 ms -> le="1" (twice counting the default sample's 1), 1001 -> +Inf
    expect(c[C_KONG_LAT + 0]).toBe(2);
    expect(c[C_KONG_LAT + KONG_LATENCY_BUCKETS.length]).toBe(1);
    // upstream: 26 -> le="50"; -1 not recorded; default 2 -> le="25"
    expect(c[C_UPSTREAM_LAT + 1]).toBe(1);
    expect(c[C_UPSTREAM_LAT + 0]).toBe(1);
    expect(c[C_INGRESS]).toBe(10);
    expect(c[C_EGRESS]).toBe(150);
  });

  it('carries into the high word: 64-bit exact past 2^32', () => {
    const sab = createMetricsBuffer(1, 4);
    const rec = new MetricsRecorder(sab, 0);
    const s = rec.series('a', 'b');
    for (let i = 0; i < 3; i++) rec.record(sample({ series: s, egressBytes: 0xffffffff }));
    rec.record(sample({ series: s, egressBytes: 2 ** 40 + 7 }));
    expect(find(new MetricsReader(sab), 'a', 'b')[C_EGRESS]).toBe(3 * 0xffffffff + 2 ** 40 + 7);
  });

  it('registers a label pair once; a full table sends new routes to the overflow series', () => {
    const sab = createMetricsBuffer(1, 4); // 2 reserved + 2 routes
    const a = new MetricsRecorder(sab, 0);
    const b = new MetricsRecorder(sab, 0);
    expect(a.series('s', 'r1')).toBe(2);
    expect(b.series('s', 'r1')).toBe(2);
    expect(b.series('s', 'r2')).toBe(3);
    expect(a.series('s', 'r2')).toBe(3);
    expect(a.series('s', 'r3')).toBe(SERIES_OVERFLOW);
    a.record(sample({ series: SERIES_OVERFLOW }));
    a.record(sample({ series: SERIES_NO_ROUTE, status: 404, fromService: false }));
    const reader = new MetricsReader(sab);
    expect(reader.usage()).toEqual({ registered: 4, capacity: 4 });
    expect(find(reader, OVERFLOW_LABEL, OVERFLOW_LABEL)[C_CODES + 100]).toBe(1);
    expect(find(reader, '', '')[C_CODES + CODE_SLOTS + 304]).toBe(1);
  });

  it('keeps labels apart that only differ by where the separator would fall, and cuts long names at a character', () => {
    const sab = createMetricsBuffer(1, 8);
    const rec = new MetricsRecorder(sab, 0);
    expect(rec.series('ab', 'c')).not.toBe(rec.series('a', 'bc'));
    const long = 'é'.repeat(200); // 400 bytes
    const s = rec.series(long, 'r');
    const reader = new MetricsReader(sab);
    const got = reader.read()[s]!;
    expect(Buffer.byteLength(got.service)).toBeLessThanOrEqual(248);
    expect(got.service).toBe('é'.repeat(124));
  });
});

const DIST = fileURLToPath(new URL('../../../dist/src/shared/shm/metrics.js', import.meta.url));

/** Worker body: register the routes, wait for the go signal, record `iterations` requests. */
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
import(workerData.module).then(({ MetricsRecorder }) => {
  const { sab, go, workerId, routes, iterations } = workerData;
  const rec = new MetricsRecorder(sab, workerId);
  const series = routes.map((r) => rec.series('svc', r));
  const g = new Int32Array(go);
  Atomics.add(g, 1, 1);
  Atomics.wait(g, 0, 0);
  const x = { series: 0, status: 200, fromService: true, requestMs: 0, kongMs: 0, upstreamMs: 0, ingressBytes: 0, egressBytes: 0 };
  for (let i = 0; i < iterations; i++) {
    x.series = series[i % series.length];
    x.status = i % 3 === 0 ? 429 : 200;
    x.fromService = x.status === 200;
    x.requestMs = i % 100;
    x.kongMs = i % 7;
    x.upstreamMs = x.fromService ? i % 50 : -1;
    x.egressBytes = 1000;
    rec.record(x);
  }
  parentPort.postMessage('done');
});
`;

describe('metrics table (several threads)', () => {
  it('sums exactly what 4 threads recorded, two of them sharing one slice', async () => {
    expect(existsSync(DIST), `${DIST} missing: run npx tsc -p tsconfig.json first`).toBe(true);
    const sab = createMetricsBuffer(3, 64);
    const go = new SharedArrayBuffer(8);
    const g = new Int32Array(go);
    const routes = ['r0', 'r1', 'r2', 'r3', 'r4'];
    const iterations = 150_000;
    const ids = [0, 1, 2, 2];
    const module = new URL(`file://${DIST}`).href;
    const workers = ids.map((workerId, i) => new Worker(WORKER, { eval: true, workerData: { module, sab, go, workerId, routes: i % 2 ? [...routes].reverse() : routes, iterations } }));
    const done = workers.map((w) => new Promise((resolve, reject) => (w.once('message', resolve), w.once('error', reject))));
    while (Atomics.load(g, 1) < workers.length) await new Promise((r) => setTimeout(r, 5));
    const reader = new MetricsReader(sab);
    Atomics.store(g, 0, 1);
    Atomics.notify(g, 0);
    // Read while they write: values only ever grow.
    let prev = 0;
    for (let k = 0; k < 20; k++) {
      const t = reader.read().reduce((a, s) => a + s.counters[C_EGRESS]!, 0);
      expect(t).toBeGreaterThanOrEqual(prev);
      prev = t;
      await new Promise((r) => setImmediate(r));
    }
    await Promise.all(done);
    await Promise.all(workers.map((w) => w.terminate()));

    const series = reader.read();
    expect(series).toHaveLength(2 + routes.length);
    expect(series.slice(2).map((s) => s.route).sort()).toEqual([...routes].sort());
    let total = 0;
    let r429 = 0;
    let upstreamCount = 0;
    let requestSum = 0;
    for (const s of series.slice(2)) {
      const c = s.counters;
      total += c[C_CODES + 100]! + c[C_CODES + CODE_SLOTS + 329]!;
      r429 += c[C_CODES + CODE_SLOTS + 329]!;
      for (let i = 0; i <= UPSTREAM_LATENCY_BUCKETS.length; i++) upstreamCount += c[C_UPSTREAM_LAT + i]!;
      requestSum += c[C_REQUEST_LAT + UPSTREAM_LATENCY_BUCKETS.length + 1]!;
      expect(c[C_EGRESS]).toBe(c[C_CODES + 100]! * 1000 + c[C_CODES + CODE_SLOTS + 329]! * 1000);
    }
    const n = ids.length * iterations;
    expect(total).toBe(n);
    expect(r429).toBe(ids.length * Math.ceil(iterations / 3));
    expect(upstreamCount).toBe(n - r429);
    let perThreadSum = 0;
    for (let i = 0; i < iterations; i++) perThreadSum += i % 100;
    expect(requestSum).toBe(ids.length * perThreadSum);
    // Each route got an equal share from each thread.
    for (const s of series.slice(2)) expect(s.counters[C_CODES + 100]! + s.counters[C_CODES + CODE_SLOTS + 329]!).toBe(n / routes.length);
  });
});
