/**
 * The node's rate-limit counters: a fixed-size hash table in one SharedArrayBuffer that the
 * supervisor creates once at start and hands to every worker thread (and to every
 * replacement thread), so counters survive config reloads and worker restarts and every
 * worker of the node sees the same numbers.
 *
 * Layout (src/shared/shm/layout.ts): a 128-byte header, then slots of 64 bytes (one cache
 * line each, against false sharing) grouped in buckets of 8. One slot counts one window
 * (second, minute, ... year) of one key: the key's 96-bit hash (two words + fingerprint),
 * the period, the window start, the count, the previous window's count (sliding windows)
 * and the second after which the slot may be reused.
 *
 * Placement: two-choice hashing. A key's hash picks two buckets; all the windows of the key
 * live in those 16 slots, and a new entry goes into the bucket with fewer live entries.
 * Probing is bounded by construction (16 slots, never more).
 *
 * Atomicity: a decision (check every window of the key, then count the request in all of
 * them, or in none) runs under the spin locks of the key's two buckets, taken in bucket
 * order (so two threads can never wait on each other in a cycle) and released right after:
 * a few dozen instructions, never across an await. Inside, plain reads and writes are
 * ordered by the locks' Atomics operations (the JS memory model's synchronizes-with).
 *
 * Eviction: an entry whose window is over (`expires` in the past) is free for reuse by any
 * key. When both buckets of a new key hold 16 live entries (the table is effectively full
 * around that key), the live entry that expires soonest is overwritten and the event is
 * counted (`stats().liveEvictions`): memory never grows, the new key is limited correctly,
 * and the evicted key restarts its window from zero (it may get up to one extra window of
 * requests). See README.md in this folder for capacity figures.
 *
 * Collisions: two different keys share a counter only if all 96 bits of their keyed hashes
 * match, and the period too (see keyed-hash.ts); with a million live keys the chance that
 * any such pair exists is below 1e-17.
 */
import { randomFillSync } from 'node:crypto';
import { hashPrefix, hashWith, type HashPrefix } from './keyed-hash.js';
import {
  BUCKET_SLOTS,
  DEFAULT_RATE_LIMIT_SLOTS,
  H_BUCKET_SLOTS,
  H_KEY0,
  H_KEY1,
  H_MAGIC,
  H_SLOTS,
  H_STAT_INSERTS_REFUSED,
  H_STAT_LIVE_EVICTIONS,
  H_STAT_LOCK_STEALS,
  H_VERSION,
  MAX_RATE_LIMIT_SLOTS,
  MIN_RATE_LIMIT_SLOTS,
  RL_HEADER_WORDS,
  RL_MAGIC,
  RL_VERSION,
  S_COUNT,
  S_EXPIRES,
  S_FP,
  S_HASH_HI,
  S_HASH_LO,
  S_LOCK,
  S_PREV,
  S_TAG,
  S_WINDOW,
  SLOT_WORDS,
  rateLimitTableBytes,
} from './layout.js';

export { DEFAULT_RATE_LIMIT_SLOTS, MAX_RATE_LIMIT_SLOTS, MIN_RATE_LIMIT_SLOTS, rateLimitTableBytes };

/** Most windows one decision can check (Kong's six periods). */
export const MAX_WINDOWS = 6;

/**
 * A spinning thread takes the lock anyway after this long. Only a thread killed inside its
 * few-instruction critical section (worker.terminate() at a hard shutdown) can hold a lock
 * that long; the steal is counted in stats().lockSteals.
 */
const STEAL_AFTER_MS = 2000;

const BUCKET_WORDS = BUCKET_SLOTS * SLOT_WORDS;

/** Rounds a requested size to the table size actually used (a power of two, within bounds). */
export function normalizeSlotCount(requested: number): number {
  if (!Number.isFinite(requested) || requested < 1) throw new RangeError(`rate-limit slots: expected a positive integer, got ${requested}`);
  let n = MIN_RATE_LIMIT_SLOTS;
  while (n < requested && n < MAX_RATE_LIMIT_SLOTS) n *= 2;
  return n;
}

/**
 * Creates the table's memory (supervisor, once per process): `slots` is rounded up to a
 * power of two. The hash key is drawn here, so every worker hashes alike.
 */
export function createRateLimitBuffer(slots = DEFAULT_RATE_LIMIT_SLOTS): SharedArrayBuffer {
  const n = normalizeSlotCount(slots);
  const sab = new SharedArrayBuffer(rateLimitTableBytes(n));
  const h = new Int32Array(sab, 0, RL_HEADER_WORDS);
  const key = new Int32Array(2);
  randomFillSync(key);
  h[H_MAGIC] = RL_MAGIC;
  h[H_VERSION] = RL_VERSION;
  h[H_SLOTS] = n;
  h[H_BUCKET_SLOTS] = BUCKET_SLOTS;
  h[H_KEY0] = key[0]!;
  h[H_KEY1] = key[1]!;
  return sab;
}

/**
 * One decision's input and output, allocated once per plugin instance and reused for
 * every request (JS runs one request at a time per thread): the hot path allocates nothing.
 */
export class RateLimitQuery {
  /** Windows checked by this query (1..6). */
  readonly n: number;
  /** Period code of each window (0 second .. 5 year): part of the entry's identity. */
  readonly period: Int32Array;
  /** Limit of each window: a request is refused when usage >= limit (Kong's remaining <= 0). */
  readonly limit: Float64Array;
  // ---- set per request by the caller ----
  /** The key's hash (hashWith output): words 0 and 1 also choose the buckets. */
  readonly hash = new Int32Array(3);
  /** Start of the current window (Unix seconds). */
  readonly window: Float64Array;
  /** Start of the window before it (Unix seconds): its count becomes `prev` on roll-over. */
  readonly prevWindow: Float64Array;
  /** Unix second after which the entry may be reused. */
  readonly expires: Float64Array;
  /** Share of the previous window's count that still counts (sliding); 0 for fixed windows. */
  readonly weight: Float64Array;
  // ---- results ----
  /** Count of the current window after the decision (this request included when allowed). */
  readonly count: Float64Array;
  /** Count of the previous window. */
  readonly prev: Float64Array;
  /** Scratch: the slot (Int32 index) found or taken for each window. */
  readonly slot: Int32Array;

  constructor(periods: readonly number[], limits: readonly number[]) {
    if (periods.length < 1 || periods.length > MAX_WINDOWS || periods.length !== limits.length) {
      throw new RangeError('a rate-limit query needs 1 to 6 windows, each with a limit');
    }
    this.n = periods.length;
    this.period = Int32Array.from(periods);
    this.limit = Float64Array.from(limits);
    this.window = new Float64Array(this.n);
    this.prevWindow = new Float64Array(this.n);
    this.expires = new Float64Array(this.n);
    this.weight = new Float64Array(this.n);
    this.count = new Float64Array(this.n);
    this.prev = new Float64Array(this.n);
    this.slot = new Int32Array(this.n);
  }

  /** Usage of window i as the decision saw it: count + weighted previous count. */
  usage(i: number): number {
    return this.count[i]! + this.prev[i]! * this.weight[i]!;
  }
}

export interface RateLimitTableStats {
  slots: number;
  bytes: number;
  /** Live entries overwritten because both buckets of a new key were full. */
  liveEvictions: number;
  /** Locks taken from a holder that never released them (see STEAL_AFTER_MS). */
  lockSteals: number;
  /** New entries not stored because every candidate slot was used by the same decision. */
  insertsRefused: number;
}

/** A worker's view of the shared table. */
export class RateLimitTable {
  readonly buffer: SharedArrayBuffer;
  readonly slots: number;
  private readonly i32: Int32Array;
  private readonly bucketMask: number;
  private readonly key0: number;
  private readonly key1: number;

  constructor(buffer: SharedArrayBuffer) {
    const h = new Int32Array(buffer, 0, RL_HEADER_WORDS);
    if (h[H_MAGIC] !== RL_MAGIC || h[H_VERSION] !== RL_VERSION) throw new Error('not a rate-limit table (bad magic or version)');
    const slots = h[H_SLOTS]!;
    if (h[H_BUCKET_SLOTS] !== BUCKET_SLOTS || buffer.byteLength !== rateLimitTableBytes(slots)) {
      throw new Error('rate-limit table: header does not match the buffer');
    }
    this.buffer = buffer;
    this.slots = slots;
    this.i32 = new Int32Array(buffer);
    this.bucketMask = slots / BUCKET_SLOTS - 1;
    this.key0 = h[H_KEY0]!;
    this.key1 = h[H_KEY1]!;
  }

  /** Hash state of the parts known at config time (e.g. route and service ids). */
  prefix(parts: readonly string[]): HashPrefix {
    return hashPrefix(this.key0, this.key1, parts);
  }

  /** Sets q.hash for the key `prefix` + `identifier` (no string is built). */
  hashKey(q: RateLimitQuery, prefix: HashPrefix, identifier: string): void {
    hashWith(prefix, identifier, q.hash);
  }

  stats(): RateLimitTableStats {
    return {
      slots: this.slots,
      bytes: this.buffer.byteLength,
      liveEvictions: Atomics.load(this.i32, H_STAT_LIVE_EVICTIONS),
      lockSteals: Atomics.load(this.i32, H_STAT_LOCK_STEALS),
      insertsRefused: Atomics.load(this.i32, H_STAT_INSERTS_REFUSED),
    };
  }

  /**
   * The atomic check-and-increment. With every window's usage below its limit, counts the
   * request in all of them and returns -1; otherwise counts nothing and returns the index of
   * the first window at its limit. Either way q.count / q.prev hold the counts the decision
   * was made on (plus this request when allowed). `now` is the current Unix second.
   */
  consume(q: RateLimitQuery, now: number): number {
    const i32 = this.i32;
    const n = q.n;
    const hLo = q.hash[0]!;
    const hHi = q.hash[1]!;
    const fp = q.hash[2]!;
    const b1 = hLo & this.bucketMask;
    let b2 = hHi & this.bucketMask;
    if (b2 === b1) b2 = b1 ^ 1;
    const first = b1 < b2 ? b1 : b2;
    const second = b1 < b2 ? b2 : b1;
    const lock1 = RL_HEADER_WORDS + first * BUCKET_WORDS + S_LOCK;
    const lock2 = RL_HEADER_WORDS + second * BUCKET_WORDS + S_LOCK;
    if (Atomics.compareExchange(i32, lock1, 0, 1) !== 0) this.lockSlow(lock1);
    if (Atomics.compareExchange(i32, lock2, 0, 1) !== 0) this.lockSlow(lock2);

    // ---- find this key's entries (and count live entries per bucket, for placement) ----
    const slot = q.slot;
    for (let i = 0; i < n; i++) slot[i] = -1;
    let missing = n;
    let live1 = 0;
    let live2 = 0;
    for (let b = 0; b < 2; b++) {
      const start = RL_HEADER_WORDS + (b === 0 ? b1 : b2) * BUCKET_WORDS;
      for (let s = 0; s < BUCKET_SLOTS; s++) {
        const base = start + s * SLOT_WORDS;
        const tag = i32[base + S_TAG]!;
        if (tag === 0) continue;
        if (i32[base + S_HASH_LO] === hLo && i32[base + S_HASH_HI] === hHi && i32[base + S_FP] === fp) {
          const p = tag - 1;
          for (let i = 0; i < n; i++) {
            if (slot[i] === -1 && q.period[i] === p) {
              slot[i] = base;
              missing--;
              break;
            }
          }
        }
        if (i32[base + S_EXPIRES]! >>> 0 > now) {
          if (b === 0) live1++;
          else live2++;
        }
      }
      if (missing === 0) break;
    }

    // ---- roll windows over, then decide on the counts ----
    let blocked = -1;
    for (let i = 0; i < n; i++) {
      const base = slot[i]!;
      let count = 0;
      let prev = 0;
      if (base >= 0) {
        const w = i32[base + S_WINDOW]! >>> 0;
        const cur = q.window[i]!;
        if (w < cur) {
          prev = w === q.prevWindow[i] ? i32[base + S_COUNT]! : 0;
          i32[base + S_PREV] = prev;
          i32[base + S_COUNT] = 0;
          i32[base + S_WINDOW] = cur;
          i32[base + S_EXPIRES] = q.expires[i]!;
        } else {
          // Same window, or one a thread with a later clock reading already opened: count here.
          count = i32[base + S_COUNT]!;
          prev = i32[base + S_PREV]!;
        }
      }
      q.count[i] = count;
      q.prev[i] = prev;
      if (blocked === -1 && count + prev * q.weight[i]! >= q.limit[i]!) blocked = i;
    }

    if (blocked === -1) {
      for (let i = 0; i < n; i++) {
        let base = slot[i]!;
        if (base >= 0) {
          i32[base + S_COUNT] = i32[base + S_COUNT]! + 1;
        } else {
          base = this.place(q, b1, b2, live1 <= live2, now, i);
          if (base < 0) continue;
          slot[i] = base;
          i32[base + S_TAG] = q.period[i]! + 1;
          i32[base + S_HASH_LO] = hLo;
          i32[base + S_HASH_HI] = hHi;
          i32[base + S_FP] = fp;
          i32[base + S_WINDOW] = q.window[i]!;
          i32[base + S_COUNT] = 1;
          i32[base + S_PREV] = 0;
          i32[base + S_EXPIRES] = q.expires[i]!;
        }
        q.count[i] = q.count[i]! + 1;
      }
    }

    Atomics.store(i32, lock2, 0);
    Atomics.store(i32, lock1, 0);
    return blocked;
  }

  /**
   * A slot for a new entry of window `w` (locks held): an empty or expired slot of the
   * preferred bucket, then of the other; failing both, the live entry that expires first.
   */
  private place(q: RateLimitQuery, b1: number, b2: number, preferFirst: boolean, now: number, w: number): number {
    const i32 = this.i32;
    let victim = -1;
    let victimExpires = Infinity;
    for (let b = 0; b < 2; b++) {
      const bucket = (b === 0) === preferFirst ? b1 : b2;
      const start = RL_HEADER_WORDS + bucket * BUCKET_WORDS;
      for (let s = 0; s < BUCKET_SLOTS; s++) {
        const base = start + s * SLOT_WORDS;
        if (this.claimed(q, base, w)) continue;
        const exp = i32[base + S_EXPIRES]! >>> 0;
        if (i32[base + S_TAG] === 0 || exp <= now) return base;
        if (exp < victimExpires) {
          victimExpires = exp;
          victim = base;
        }
      }
    }
    if (victim < 0) {
      Atomics.add(i32, H_STAT_INSERTS_REFUSED, 1);
      return -1;
    }
    Atomics.add(i32, H_STAT_LIVE_EVICTIONS, 1);
    return victim;
  }

  /** True when another window of the same decision already uses `base`. */
  private claimed(q: RateLimitQuery, base: number, w: number): boolean {
    for (let i = 0; i < q.n; i++) if (i !== w && q.slot[i] === base) return true;
    return false;
  }

  private lockSlow(index: number): void {
    const i32 = this.i32;
    let spins = 0;
    let deadline = 0;
    for (;;) {
      if (Atomics.load(i32, index) === 0 && Atomics.compareExchange(i32, index, 0, 1) === 0) return;
      if ((++spins & 1023) === 0) {
        const t = Date.now();
        if (deadline === 0) {
          deadline = t + STEAL_AFTER_MS;
        } else if (t > deadline) {
          Atomics.add(i32, H_STAT_LOCK_STEALS, 1);
          Atomics.store(i32, index, 1);
          return;
        }
      }
    }
  }
}
