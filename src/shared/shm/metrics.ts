/**
 * The node's request metrics: one SharedArrayBuffer the supervisor creates once at start and
 * hands to every worker thread (replacement threads included), so counts survive config
 * reloads and worker restarts. Workers only add; the supervisor only reads and sums.
 *
 * Layout (Uint32 words):
 *
 *   words 0..15                         header: magic, version, series capacity, slices,
 *                                       registered series (published with Atomics.store), lock
 *   NAME region: capacity x 128 words   per series: byte lengths of the service and route
 *                                       labels, then their UTF-8 bytes (at most 248 bytes each)
 *   COUNTER region: slices x capacity x SERIES_WORDS
 *                                       one slice per worker id: every worker adds into its own
 *                                       slice only (no cache line shared between workers)
 *
 * A series is one (service, route) label pair. Series 0 is "no route" (404s and requests
 * answered before routing), series 1 is the overflow series that counts every request of a
 * route that found the table full (labels service="_overflow", route="_overflow"). Routes
 * are registered in the shared name table the first time a worker sees a route object
 * (under a spin lock: once per route per worker per config, never per request); the
 * route -> series index is then cached in a WeakMap keyed by the route object.
 *
 * Each series holds 64-bit counters (two words, low then high):
 *   - status codes 100..599 individually, one array per source (upstream "service", or the
 *     gateway's own reply "kong"), plus one "other" slot per source;
 *   - three latency histograms with Kong's bucket edges (bucket counts, not cumulative, and
 *     the sum in whole milliseconds);
 *   - bandwidth in bytes, ingress and egress.
 *
 * Writes are Atomics.add on the low word, carrying into the high word when the low word
 * wraps: exact and safe even when two threads write one slice (a worker being replaced
 * drains while its replacement, with the same id, already serves). A reader can see a
 * carry half done (low wrapped, high not yet bumped), i.e. a value 2^32 too small for a
 * few nanoseconds once every 4 billion increments; MetricsReader keeps every merged value
 * monotonic so such a read never shows as a counter reset.
 */

/** Kong's `kong_kong_latency_ms` bucket edges (kong/plugins/prometheus/exporter.lua, 3.x). */
export const KONG_LATENCY_BUCKETS: readonly number[] = [1, 2, 5, 7, 10, 15, 20, 30, 50, 75, 100, 200, 500, 750, 1000];
/** Kong's `kong_upstream_latency_ms` and `kong_request_latency_ms` bucket edges. */
export const UPSTREAM_LATENCY_BUCKETS: readonly number[] = [25, 50, 80, 100, 250, 400, 700, 1000, 2000, 5000, 10000, 30000, 60000];

export const METRICS_MAGIC = 0x4d545231; // 'MTR1'
export const METRICS_VERSION = 1;

const HEADER_WORDS = 16;
const H_MAGIC = 0;
const H_VERSION = 1;
const H_CAPACITY = 2;
const H_SLICES = 3;
const H_REGISTERED = 4;
const H_LOCK = 5;

const NAME_WORDS = 128;
/** Longest label value kept, in UTF-8 bytes (longer names are cut at a character boundary). */
export const MAX_LABEL_BYTES = 248;

/** Status code slots per source: 100..599, then "other". */
export const CODE_SLOTS = 501;
export const CODE_OTHER = 500;
export const SOURCE_SERVICE = 0;
export const SOURCE_KONG = 1;

// Counter indices inside a series (each counter is two words).
export const C_CODES = 0; // 2 x CODE_SLOTS
export const C_KONG_LAT = C_CODES + 2 * CODE_SLOTS; // buckets (edges + Inf), then the sum
export const C_UPSTREAM_LAT = C_KONG_LAT + KONG_LATENCY_BUCKETS.length + 2;
export const C_REQUEST_LAT = C_UPSTREAM_LAT + UPSTREAM_LATENCY_BUCKETS.length + 2;
export const C_INGRESS = C_REQUEST_LAT + UPSTREAM_LATENCY_BUCKETS.length + 2;
export const C_EGRESS = C_INGRESS + 1;
export const SERIES_COUNTERS = C_EGRESS + 1;
/** Words per series, padded to whole cache lines. */
export const SERIES_WORDS = Math.ceil((2 * SERIES_COUNTERS) / 16) * 16;

export const SERIES_NO_ROUTE = 0;
export const SERIES_OVERFLOW = 1;
export const OVERFLOW_LABEL = '_overflow';

/** Series slots when none is configured: 2 reserved + 510 routes (~4.3 MB per worker, committed as used). */
export const DEFAULT_METRICS_SERIES = 512;
export const MAX_METRICS_SERIES = 1 << 16;

const TWO32 = 0x100000000;

export function metricsBufferBytes(slices: number, capacity: number): number {
  return 4 * (HEADER_WORDS + capacity * NAME_WORDS + slices * capacity * SERIES_WORDS);
}

/** Supervisor: the buffer, once, with the two reserved series registered. */
export function createMetricsBuffer(slices: number, capacity = DEFAULT_METRICS_SERIES): SharedArrayBuffer {
  if (!Number.isInteger(slices) || slices < 1) throw new Error(`metrics: slices must be a positive integer, got ${slices}`);
  if (!Number.isInteger(capacity) || capacity < 3 || capacity > MAX_METRICS_SERIES) {
    throw new Error(`metrics: series capacity must be an integer from 3 to ${MAX_METRICS_SERIES}, got ${capacity}`);
  }
  const sab = new SharedArrayBuffer(metricsBufferBytes(slices, capacity));
  const w = new Uint32Array(sab);
  w[H_MAGIC] = METRICS_MAGIC;
  w[H_VERSION] = METRICS_VERSION;
  w[H_CAPACITY] = capacity;
  w[H_SLICES] = slices;
  writeNames(w, new Uint8Array(sab), SERIES_NO_ROUTE, '', '');
  writeNames(w, new Uint8Array(sab), SERIES_OVERFLOW, OVERFLOW_LABEL, OVERFLOW_LABEL);
  Atomics.store(w, H_REGISTERED, 2);
  return sab;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function nameOffsetWords(series: number): number {
  return HEADER_WORDS + series * NAME_WORDS;
}

/** UTF-8 bytes of `s`, cut at a character boundary to MAX_LABEL_BYTES. */
function labelBytes(s: string): Uint8Array {
  let b = encoder.encode(s);
  if (b.length <= MAX_LABEL_BYTES) return b;
  let end = MAX_LABEL_BYTES;
  while (end > 0 && (b[end]! & 0xc0) === 0x80) end--;
  b = b.subarray(0, end);
  return b;
}

function writeNames(w: Uint32Array, bytes: Uint8Array, series: number, service: string, route: string): void {
  const s = labelBytes(service);
  const r = labelBytes(route);
  const off = nameOffsetWords(series);
  w[off] = s.length;
  w[off + 1] = r.length;
  const b = (off + 2) * 4;
  bytes.set(s, b);
  bytes.set(r, b + s.length);
}

function readNames(w: Uint32Array, bytes: Uint8Array, series: number): [string, string] {
  const off = nameOffsetWords(series);
  const sl = w[off]!;
  const rl = w[off + 1]!;
  const b = (off + 2) * 4;
  // TextDecoder refuses views of shared memory: copy first (supervisor side, per scrape).
  return [decoder.decode(bytes.slice(b, b + sl)), decoder.decode(bytes.slice(b + sl, b + sl + rl))];
}

function checkHeader(w: Uint32Array): void {
  if (w[H_MAGIC] !== METRICS_MAGIC || w[H_VERSION] !== METRICS_VERSION) throw new Error('metrics: not a metrics buffer (bad magic or version)');
}

/** Adds n (a non-negative integer) to the 64-bit counter at word i. */
function add64(a: Uint32Array, i: number, n: number): void {
  if (n < TWO32) {
    const old = Atomics.add(a, i, n);
    if (old + n >= TWO32) Atomics.add(a, i + 1, 1);
    return;
  }
  const lo = n % TWO32;
  const old = Atomics.add(a, i, lo);
  Atomics.add(a, i + 1, (n - lo) / TWO32 + (old + lo >= TWO32 ? 1 : 0));
}

function read64(a: Uint32Array, i: number): number {
  for (;;) {
    const hi = Atomics.load(a, i + 1);
    const lo = Atomics.load(a, i);
    if (Atomics.load(a, i + 1) === hi) return hi * TWO32 + lo;
  }
}

function bucketIndex(edges: readonly number[], v: number): number {
  let i = 0;
  while (i < edges.length && v > edges[i]!) i++;
  return i; // edges.length is +Inf
}

/** What one finished request adds (all latencies in whole ms; -1 = not measured). */
export interface RequestSample {
  series: number;
  status: number;
  /** true when the response came from the upstream (Kong's source="service"). */
  fromService: boolean;
  requestMs: number;
  kongMs: number;
  upstreamMs: number;
  ingressBytes: number;
  egressBytes: number;
}

/**
 * Worker side: registers series and records finished requests into this worker's slice.
 * Recording is a handful of Atomics.add on precomputed offsets: no allocation, no lookup.
 */
export class MetricsRecorder {
  private readonly words: Uint32Array;
  private readonly bytes: Uint8Array;
  readonly capacity: number;
  private readonly sliceBase: number;
  /** Label key -> series, for series this thread already resolved (registration only). */
  private readonly known = new Map<string, number>();
  /** Stored (truncated) label key -> series, for every series registered so far by any thread. */
  private readonly byStored = new Map<string, number>();
  /** Entries of the shared name table already read into byStored. */
  private seen = 0;

  constructor(sab: SharedArrayBuffer, workerId: number) {
    this.words = new Uint32Array(sab);
    this.bytes = new Uint8Array(sab);
    checkHeader(this.words);
    this.capacity = this.words[H_CAPACITY]!;
    const slices = this.words[H_SLICES]!;
    // Ids past the slice count share a slice: still exact, since every write is atomic.
    this.sliceBase = HEADER_WORDS + this.capacity * NAME_WORDS + (workerId % slices) * this.capacity * SERIES_WORDS;
  }

  /**
   * The series of a (service, route) label pair, registering it in the shared name table if
   * no thread did yet; SERIES_OVERFLOW once the table is full. Called once per route object,
   * not per request.
   */
  series(service: string, route: string): number {
    const key = `${service}\u0000${route}`;
    const cached = this.known.get(key);
    if (cached !== undefined) return cached;
    const w = this.words;
    // Labels as the table stores them (truncated to their byte budget), so equal keys match.
    const s = decoder.decode(labelBytes(service));
    const r = decoder.decode(labelBytes(route));
    const stored = `${s}\u0000${r}`;
    // Registration is rare and the critical section short: spin. Only a thread terminated
    // inside it (worker.terminate() at a forced shutdown) can hold the lock for long; after
    // 2 s take it anyway rather than hang every worker.
    let deadline = 0;
    while (Atomics.compareExchange(w, H_LOCK, 0, 1) !== 0) {
      const now = Date.now();
      if (deadline === 0) deadline = now + 2000;
      else if (now > deadline) break;
    }
    let found = -1;
    try {
      // Learn the series other threads registered since our last look (each name is decoded
      // once per thread, never rescanned: a config with thousands of routes stays cheap).
      const n = Atomics.load(w, H_REGISTERED);
      for (let i = Math.max(2, this.seen); i < n; i++) {
        const [si, ri] = readNames(w, this.bytes, i);
        const k = `${si}\u0000${ri}`;
        if (!this.byStored.has(k)) this.byStored.set(k, i);
      }
      this.seen = n;
      found = this.byStored.get(stored) ?? -1;
      if (found < 0 && n < this.capacity) {
        writeNames(w, this.bytes, n, s, r);
        Atomics.store(w, H_REGISTERED, n + 1);
        this.seen = n + 1;
        this.byStored.set(stored, n);
        found = n;
      }
    } finally {
      Atomics.store(w, H_LOCK, 0);
    }
    // A full table: later labels share the overflow series (cached too, so asking is cheap).
    if (found < 0) found = SERIES_OVERFLOW;
    this.known.set(key, found);
    return found;
  }

  record(x: RequestSample): void {
    const a = this.words;
    const base = this.sliceBase + x.series * SERIES_WORDS;
    const code = x.status >= 100 && x.status <= 599 ? x.status - 100 : CODE_OTHER;
    add64(a, base + 2 * (C_CODES + (x.fromService ? 0 : CODE_SLOTS) + code), 1);
    if (x.requestMs >= 0) {
      add64(a, base + 2 * (C_REQUEST_LAT + bucketIndex(UPSTREAM_LATENCY_BUCKETS, x.requestMs)), 1);
      add64(a, base + 2 * (C_REQUEST_LAT + UPSTREAM_LATENCY_BUCKETS.length + 1), x.requestMs);
    }
    if (x.kongMs >= 0) {
      add64(a, base + 2 * (C_KONG_LAT + bucketIndex(KONG_LATENCY_BUCKETS, x.kongMs)), 1);
      add64(a, base + 2 * (C_KONG_LAT + KONG_LATENCY_BUCKETS.length + 1), x.kongMs);
    }
    if (x.upstreamMs >= 0) {
      add64(a, base + 2 * (C_UPSTREAM_LAT + bucketIndex(UPSTREAM_LATENCY_BUCKETS, x.upstreamMs)), 1);
      add64(a, base + 2 * (C_UPSTREAM_LAT + UPSTREAM_LATENCY_BUCKETS.length + 1), x.upstreamMs);
    }
    if (x.ingressBytes > 0) add64(a, base + 2 * C_INGRESS, x.ingressBytes);
    if (x.egressBytes > 0) add64(a, base + 2 * C_EGRESS, x.egressBytes);
  }
}

export interface SeriesTotals {
  readonly service: string;
  readonly route: string;
  /** SERIES_COUNTERS values summed over every slice (see the C_* indices). */
  readonly counters: Float64Array;
}

/**
 * Supervisor side: sums every slice with Atomics.load. Keeps each merged value monotonic
 * across reads (see the file comment on half-done carries).
 */
export class MetricsReader {
  private readonly words: Uint32Array;
  private readonly bytes: Uint8Array;
  private readonly capacity: number;
  private readonly slices: number;
  private readonly last: Float64Array;
  private readonly names: Array<[string, string]> = [];

  constructor(sab: SharedArrayBuffer) {
    this.words = new Uint32Array(sab);
    this.bytes = new Uint8Array(sab);
    checkHeader(this.words);
    this.capacity = this.words[H_CAPACITY]!;
    this.slices = this.words[H_SLICES]!;
    this.last = new Float64Array(this.capacity * SERIES_COUNTERS);
  }

  /** Series slots in use (including the two reserved ones) and the table's capacity. */
  usage(): { registered: number; capacity: number } {
    return { registered: Atomics.load(this.words, H_REGISTERED), capacity: this.capacity };
  }

  read(): SeriesTotals[] {
    const w = this.words;
    const n = Atomics.load(w, H_REGISTERED);
    // Names are written before the count is published and never change afterwards.
    for (let i = this.names.length; i < n; i++) this.names.push(readNames(w, this.bytes, i));
    const out: SeriesTotals[] = [];
    const countersBase = HEADER_WORDS + this.capacity * NAME_WORDS;
    const bySlice = new Array<number>(this.slices).fill(0);
    for (let s = 0; s < n; s++) {
      const sum = new Float64Array(SERIES_COUNTERS);
      for (let k = 0; k < this.slices; k++) {
        const base = countersBase + (k * this.capacity + s) * SERIES_WORDS;
        for (let c = 0; c < SERIES_COUNTERS; c++) {
          if (w[base + 2 * c] === 0 && w[base + 2 * c + 1] === 0) continue;
          const v = read64(w, base + 2 * c);
          sum[c] = sum[c]! + v;
          if (c < C_KONG_LAT) bySlice[k] = bySlice[k]! + v;
        }
      }
      const last = this.last;
      const lb = s * SERIES_COUNTERS;
      for (let c = 0; c < SERIES_COUNTERS; c++) {
        if (sum[c]! < last[lb + c]!) sum[c] = last[lb + c]!;
        else last[lb + c] = sum[c]!;
      }
      const [service, route] = this.names[s]!;
      out.push({ service, route, counters: sum });
    }
    this.requestsBySlice = bySlice;
    return out;
  }

  /** Requests counted by each worker id (slice), as of the last read(). */
  requestsBySlice: number[] = [];
}
