/**
 * Named offsets into the SharedArrayBuffers the supervisor creates once and hands to every
 * worker (piscina's kRequestCountField style): every index is an Int32Array index, every
 * stride a multiple of 64 bytes so that no two slots share a cache line.
 *
 * Rate-limit counter table (src/shared/shm/rate-limit-table.ts):
 *
 *   byte 0    header line 0: magic, version, slot count, bucket size, hash key (2 words)
 *   byte 64   header line 1: statistics written with Atomics.add (rare events only)
 *   byte 128  slot 0, slot 1, ... each 64 bytes (16 Int32 words)
 *
 * Slots are grouped in buckets of BUCKET_SLOTS (8 slots = 512 bytes). Word 0 of the first
 * slot of a bucket is that bucket's spin lock; word 0 of the other slots is unused.
 */

/** Bytes per cache line on every CPU we run on (x86-64, arm64 Neoverse). */
export const CACHE_LINE = 64;

// ---- header ------------------------------------------------------------------------------

export const RL_MAGIC = 0x524c5431; // 'RLT1'
export const RL_VERSION = 1;
export const RL_HEADER_BYTES = 2 * CACHE_LINE;
export const RL_HEADER_WORDS = RL_HEADER_BYTES / 4;

/** Int32 indices in the header. */
export const H_MAGIC = 0;
export const H_VERSION = 1;
export const H_SLOTS = 2;
export const H_BUCKET_SLOTS = 3;
/** 64-bit key of the keyed hash (HalfSipHash), random per process. */
export const H_KEY0 = 4;
export const H_KEY1 = 5;
/** Statistics, on their own cache line (Atomics.add; only bumped on rare events). */
export const H_STAT_LIVE_EVICTIONS = 16;
export const H_STAT_LOCK_STEALS = 17;
export const H_STAT_INSERTS_REFUSED = 18;

// ---- slots -------------------------------------------------------------------------------

export const SLOT_BYTES = CACHE_LINE;
export const SLOT_WORDS = SLOT_BYTES / 4;
export const BUCKET_SLOTS = 8;

/** Int32 offsets inside a slot. */
/** Bucket lock (first slot of a bucket only): 0 free, 1 held. */
export const S_LOCK = 0;
/** 0 empty (never used), else 1 + period code (0..5) of the window this slot counts. */
export const S_TAG = 1;
/** The 96-bit key hash: two words that also pick the buckets, plus a fingerprint. */
export const S_HASH_LO = 2;
export const S_HASH_HI = 3;
export const S_FP = 4;
/** Start of the current window, in Unix seconds (stored as uint32: good until 2106). */
export const S_WINDOW = 5;
/** Requests counted in the current window. */
export const S_COUNT = 6;
/** Requests counted in the previous window (sliding windows). */
export const S_PREV = 7;
/** Unix second after which the slot holds nothing useful and may be reused (uint32). */
export const S_EXPIRES = 8;
// words 9..15: padding to the cache line

/** Slots when no size is configured: 1,048,576 counters in 64 MiB (+128 bytes of header). */
export const DEFAULT_RATE_LIMIT_SLOTS = 1 << 20;
/** Smallest table: 4 buckets (tests use small tables to fill them). */
export const MIN_RATE_LIMIT_SLOTS = 4 * BUCKET_SLOTS;
/** Largest table: 2^25 slots = 2 GiB, the most a SharedArrayBuffer reliably gets. */
export const MAX_RATE_LIMIT_SLOTS = 1 << 25;

/** Bytes of a table with `slots` slots. */
export function rateLimitTableBytes(slots: number): number {
  return RL_HEADER_BYTES + slots * SLOT_BYTES;
}
