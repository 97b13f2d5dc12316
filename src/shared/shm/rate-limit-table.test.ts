/**
 * The shared-memory rate-limit table: exact check-and-increment, windows and their
 * roll-over, expiry, a table filled far past its capacity, and real worker threads
 * hammering the same keys through one SharedArrayBuffer (the threads load the built
 * module from dist/, like the gateway's workers: `npx tsc -p tsconfig.json` first).
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { hashPrefix, hashWith } from './keyed-hash.js';
import { BUCKET_SLOTS, DEFAULT_RATE_LIMIT_SLOTS, RL_HEADER_BYTES, SLOT_BYTES } from './layout.js';
import { RateLimitQuery, RateLimitTable, createRateLimitBuffer, normalizeSlotCount, rateLimitTableBytes } from './rate-limit-table.js';
import { rateLimitSlots } from '../../supervisor/supervisor.js';

const T0 = 1_800_000_000; // a fixed Unix second, aligned to nothing in particular

function table(slots = 1024): RateLimitTable {
  return new RateLimitTable(createRateLimitBuffer(slots));
}

/** A one-window query (period code `period`) with fixed windows of `len` seconds. */
function query(limit: number, period = 1, len = 60): RateLimitQuery & { at(now: number): void } {
  const q = new RateLimitQuery([period], [limit]) as RateLimitQuery & { at(now: number): void };
  q.at = (now: number) => {
    const start = now - (now % len);
    q.window[0] = start;
    q.prevWindow[0] = start - len;
    q.expires[0] = start + len;
    q.weight[0] = 0;
  };
  return q;
}

function hit(t: RateLimitTable, q: RateLimitQuery & { at(now: number): void }, key: string, now: number): number {
  q.at(now);
  t.hashKey(q, t.prefix(['route', 'service']), key);
  return t.consume(q, now);
}

describe('rate-limit table: layout and sizing', () => {
  it('has 64-byte slots after a 128-byte header; the default is 1,048,576 slots in 64 MiB', () => {
    expect(SLOT_BYTES).toBe(64);
    expect(RL_HEADER_BYTES).toBe(128);
    expect(DEFAULT_RATE_LIMIT_SLOTS).toBe(1_048_576);
    expect(rateLimitTableBytes(DEFAULT_RATE_LIMIT_SLOTS)).toBe(64 * 1024 * 1024 + 128);
  });

  it('rounds sizes up to a power of two, at least 4 buckets', () => {
    expect(normalizeSlotCount(1)).toBe(4 * BUCKET_SLOTS);
    expect(normalizeSlotCount(1000)).toBe(1024);
    expect(normalizeSlotCount(1024)).toBe(1024);
    expect(() => normalizeSlotCount(0)).toThrow(/positive integer/);
    const t = table(3000);
    expect(t.slots).toBe(4096);
    expect(t.buffer.byteLength).toBe(128 + 4096 * 64);
  });

  it('takes its size from PORTCULLIS_RATE_LIMIT_SLOTS (supervisor), refusing nonsense', () => {
    expect(rateLimitSlots({})).toBe(DEFAULT_RATE_LIMIT_SLOTS);
    expect(rateLimitSlots({ PORTCULLIS_RATE_LIMIT_SLOTS: '65536' })).toBe(65536);
    expect(() => rateLimitSlots({ PORTCULLIS_RATE_LIMIT_SLOTS: 'lots' })).toThrow(/PORTCULLIS_RATE_LIMIT_SLOTS: expected an integer from 1 to 33554432, got 'lots'/);
    expect(() => rateLimitSlots({ PORTCULLIS_RATE_LIMIT_SLOTS: '0' })).toThrow(/expected an integer/);
    expect(() => rateLimitSlots({ PORTCULLIS_RATE_LIMIT_SLOTS: String(2 ** 26) })).toThrow(/expected an integer/);
  });

  it('refuses a buffer that is not a table', () => {
    expect(() => new RateLimitTable(new SharedArrayBuffer(4096))).toThrow(/not a rate-limit table/);
  });

  it('hashes the same parts alike in one table, differently with another key, and keeps part boundaries', () => {
    const a = new Int32Array(3);
    const b = new Int32Array(3);
    hashWith(hashPrefix(1, 2, ['ab']), 'c', a);
    hashWith(hashPrefix(1, 2, ['ab']), 'c', b);
    expect([...a]).toEqual([...b]);
    hashWith(hashPrefix(1, 2, ['a']), 'bc', b);
    expect([...a]).not.toEqual([...b]);
    hashWith(hashPrefix(1, 3, ['ab']), 'c', b);
    expect([...a]).not.toEqual([...b]);
    hashWith(hashPrefix(1, 2, ['ab', '']), 'c', b);
    expect([...a]).not.toEqual([...b]);
  });
});

describe('rate-limit table: decisions', () => {
  it('allows exactly `limit` requests per window and counts nothing once refused', () => {
    const t = table();
    const q = query(5);
    const got = Array.from({ length: 8 }, () => hit(t, q, 'alice', T0));
    expect(got).toEqual([-1, -1, -1, -1, -1, 0, 0, 0]);
    expect(q.count[0]).toBe(5);
    // Another key has its own counter.
    expect(hit(t, q, 'bob', T0)).toBe(-1);
    expect(q.count[0]).toBe(1);
    // Same identifier under another route: another counter.
    q.at(T0);
    t.hashKey(q, t.prefix(['other-route', 'service']), 'alice');
    expect(t.consume(q, T0)).toBe(-1);
    expect(q.count[0]).toBe(1);
  });

  it('starts the next window from zero and remembers the previous count', () => {
    const t = table();
    const q = query(3);
    const start = T0 - (T0 % 60);
    for (let i = 0; i < 3; i++) hit(t, q, 'k', start + 10);
    expect(hit(t, q, 'k', start + 59)).toBe(0);
    expect(hit(t, q, 'k', start + 60)).toBe(-1);
    expect(q.count[0]).toBe(1);
    expect(q.prev[0]).toBe(3);
    // Two windows later the previous window was empty.
    expect(hit(t, q, 'k', start + 180)).toBe(-1);
    expect(q.prev[0]).toBe(0);
  });

  it('weighs the previous window for sliding windows', () => {
    const t = table();
    const q = query(10);
    const start = T0 - (T0 % 60);
    for (let i = 0; i < 10; i++) hit(t, q, 's', start + 1);
    // 15 s into the next window: 75 % of the previous 10 still count -> 7.5; 2 more fit.
    const at = (now: number, weight: number) => {
      q.at(now);
      q.weight[0] = weight;
      t.hashKey(q, t.prefix(['route', 'service']), 's');
      return t.consume(q, now);
    };
    expect(at(start + 75, 0.75)).toBe(-1);
    expect(at(start + 75, 0.75)).toBe(-1);
    expect(q.count[0]).toBe(2);
    expect(q.usage(0)).toBe(9.5);
    expect(at(start + 75, 0.75)).toBe(-1); // 9.5 < 10
    expect(at(start + 75, 0.75)).toBe(0); // 10.5 >= 10
  });

  it('decides several windows atomically: a refusal by one window counts in none', () => {
    const t = table();
    const q = new RateLimitQuery([0, 1], [3, 5]);
    const at = (now: number) => {
      q.window[0] = now;
      q.prevWindow[0] = now - 1;
      q.expires[0] = now + 1;
      q.window[1] = now - (now % 60);
      q.prevWindow[1] = q.window[1]! - 60;
      q.expires[1] = q.window[1]! + 60;
      t.hashKey(q, t.prefix(['r', 's']), 'multi');
      return t.consume(q, now);
    };
    const start = T0 - (T0 % 60);
    expect([at(start), at(start), at(start), at(start)]).toEqual([-1, -1, -1, 0]);
    expect([...q.count]).toEqual([3, 3]);
    expect([at(start + 1), at(start + 1), at(start + 1)]).toEqual([-1, -1, 1]);
    expect([...q.count]).toEqual([2, 5]);
  });
});

describe('rate-limit table: capacity', () => {
  it('reuses expired slots before evicting anything live', () => {
    const t = table(64);
    const q = query(100, 0, 1);
    for (let i = 0; i < 40; i++) expect(hit(t, q, `old-${i}`, T0)).toBe(-1);
    const before = t.stats().liveEvictions;
    // One second later every old entry has expired: 40 new keys fit without evictions.
    for (let i = 0; i < 40; i++) expect(hit(t, q, `new-${i}`, T0 + 1)).toBe(-1);
    expect(t.stats().liveEvictions).toBe(before);
  });

  it('filled far past capacity: memory stays fixed, new keys are limited exactly, evictions are counted', () => {
    const t = table(256);
    const bytes = t.buffer.byteLength;
    const q = query(1000);
    // 20,000 live keys in a 256-slot table.
    for (let i = 0; i < 20_000; i++) expect(hit(t, q, `flood-${i}`, T0)).toBe(-1);
    expect(t.buffer.byteLength).toBe(bytes);
    expect(t.stats().liveEvictions).toBeGreaterThan(19_000);
    // A new key still gets exactly its limit (nobody evicts it meanwhile).
    const q3 = query(3);
    expect([0, 1, 2, 3, 4].map(() => hit(t, q3, 'newcomer', T0))).toEqual([-1, -1, -1, 0, 0]);
  });
});

const DIST = fileURLToPath(new URL('../../../dist/src/shared/shm/rate-limit-table.js', import.meta.url));

/** Worker body: wait for the start signal, then run `iterations` decisions on `keys`. */
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
import(workerData.module).then(({ RateLimitTable, RateLimitQuery }) => {
  const t = new RateLimitTable(workerData.sab);
  const { keys, limits, periods, iterations, now } = workerData;
  const q = new RateLimitQuery(periods, limits);
  for (let i = 0; i < q.n; i++) { q.window[i] = now; q.prevWindow[i] = now - 1; q.expires[i] = now + 3600; q.weight[i] = 0; }
  const prefix = t.prefix(['route', 'service']);
  const go = new Int32Array(workerData.go);
  Atomics.add(go, 1, 1);
  Atomics.wait(go, 0, 0);
  const allowed = new Array(keys.length).fill(0);
  for (let i = 0; i < iterations; i++) {
    const k = i % keys.length;
    t.hashKey(q, prefix, keys[k]);
    if (t.consume(q, now) === -1) allowed[k]++;
  }
  parentPort.postMessage(allowed);
});
`;

async function hammer(threads: number, opts: { keys: string[]; limits: number[]; periods: number[]; iterations: number; slots?: number }) {
  const sab = createRateLimitBuffer(opts.slots ?? 1024);
  const go = new SharedArrayBuffer(8);
  const goView = new Int32Array(go);
  const now = T0;
  const workers = Array.from(
    { length: threads },
    () => new Worker(WORKER, { eval: true, workerData: { module: new URL(`file://${DIST}`).href, sab, go, now, ...opts } }),
  );
  const results = workers.map(
    (w) =>
      new Promise<number[]>((resolve, reject) => {
        w.once('message', resolve);
        w.once('error', reject);
      }),
  );
  while (Atomics.load(goView, 1) < threads) await new Promise((r) => setTimeout(r, 5));
  Atomics.store(goView, 0, 1);
  Atomics.notify(goView, 0);
  const allowed = await Promise.all(results);
  await Promise.all(workers.map((w) => w.terminate()));
  // Read the final counts with a query that refuses everything (it counts nothing).
  const t = new RateLimitTable(sab);
  const peek = new RateLimitQuery(opts.periods, opts.periods.map(() => 1e-9));
  for (let i = 0; i < peek.n; i++) {
    peek.window[i] = now;
    peek.prevWindow[i] = now - 1;
    peek.expires[i] = now + 3600;
  }
  const counts = opts.keys.map((k) => {
    t.hashKey(peek, t.prefix(['route', 'service']), k);
    t.consume(peek, now);
    return [...peek.count];
  });
  return { allowed, counts, stats: t.stats() };
}

describe('rate-limit table: worker threads on one SharedArrayBuffer', () => {
  it('needs the built module (npx tsc -p tsconfig.json)', () => {
    expect(existsSync(DIST), `${DIST} is missing: build first`).toBe(true);
  });

  it('4 threads x 200,000 increments on 3 shared keys: totals exact, no lost update', async () => {
    const { allowed, counts } = await hammer(4, { keys: ['a', 'b', 'c'], limits: [1e12], periods: [5], iterations: 200_000 });
    const perKey = [0, 1, 2].map((k) => allowed.reduce((s, a) => s + a[k]!, 0));
    const expected = [0, 1, 2].map((k) => 4 * Math.floor(200_000 / 3) + (k < 200_000 % 3 ? 4 : 0));
    expect(perKey).toEqual(expected);
    expect(counts.map((c) => c[0])).toEqual(expected);
  });

  it('4 threads racing for a limit of 1,000: exactly 1,000 allowed in total per key', async () => {
    const { allowed, counts } = await hammer(4, { keys: ['x', 'y'], limits: [1000], periods: [0], iterations: 50_000 });
    expect([0, 1].map((k) => allowed.reduce((s, a) => s + a[k]!, 0))).toEqual([1000, 1000]);
    expect(counts.map((c) => c[0])).toEqual([1000, 1000]);
  });

  it('several windows under contention: the tighter one decides, both count exactly', async () => {
    const { allowed, counts } = await hammer(3, { keys: ['m'], limits: [700, 1000], periods: [0, 1], iterations: 30_000 });
    expect(allowed.reduce((s, a) => s + a[0]!, 0)).toBe(700);
    expect(counts[0]).toEqual([700, 700]);
  });

  it('threads filling a small table with distinct keys: bounded, no lock ever stolen', async () => {
    const keys = Array.from({ length: 500 }, (_, i) => `key-${i}`);
    const { stats } = await hammer(4, { keys, limits: [1e12], periods: [1], iterations: 20_000, slots: 64 });
    expect(stats.bytes).toBe(rateLimitTableBytes(64));
    expect(stats.lockSteals).toBe(0);
    expect(stats.liveEvictions).toBeGreaterThan(0);
  });
});
