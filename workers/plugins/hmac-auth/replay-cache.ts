/**
 * Signatures already accepted, for `replay_protection` (not in Kong). One table per worker
 * thread (module state), shared by every hmac-auth instance of that worker and kept across
 * config reloads: a signature that only covers `date` is as valid on another route as on
 * the one it was made for, and a reload must not reopen the window.
 *
 * An entry lives until its request's date plus the largest clock_skew of the instances
 * using the table: after that the date check refuses the request anyway. The table is
 * bounded: past MAX_ENTRIES the oldest entry goes first (insertion order), so under a
 * flood of valid signatures an evicted one could be replayed; the README says so.
 *
 * Workers share nothing: a replay that reaches another worker thread is not seen here.
 */

/** ~100 bytes per entry (22-character key, small-integer value, Map slot): ~10 MB when full. */
export const MAX_ENTRIES = 100_000;

/**
 * The key is the first 16 bytes (128 bits) of the HMAC, in base64 without padding. HMAC
 * outputs do not collide in practice, across credentials too (each has its own secret),
 * so the credential is not part of the key; a short key keeps the table small.
 */
const KEY_BYTES = 16;
const KEY_CHARS = 22;

// Expiry times are stored relative to this base so they stay small integers (no boxing).
const BASE = Math.floor(Date.now() / 1000);

const seen = new Map<string, number>();
let maxSkew = 0;

/** Called by each instance with replay protection at create() time. */
export function registerSkew(clockSkew: number): void {
  if (clockSkew > maxSkew) maxSkew = clockSkew;
}

/**
 * Records the signature (its raw HMAC bytes) of a request dated `date` (seconds) unless it
 * was recorded before and has not expired; returns false for a replay.
 */
export function firstUse(mac: Buffer, date: number, now: number): boolean {
  const key = mac.toString('base64', 0, KEY_BYTES).slice(0, KEY_CHARS);
  const rel = now - BASE;
  const prev = seen.get(key);
  if (prev !== undefined && prev >= rel) return false;
  if (prev !== undefined) seen.delete(key);
  // Drop a few expired entries from the old end on each insert (amortised sweep).
  let n = 0;
  for (const [k, exp] of seen) {
    if (exp >= rel || ++n > 4) break;
    seen.delete(k);
  }
  if (seen.size >= MAX_ENTRIES) seen.delete(seen.keys().next().value!);
  seen.set(key, Math.ceil(date + maxSkew) - BASE);
  return true;
}

/** Entries currently held (tests and diagnostics). */
export function replayCacheSize(): number {
  return seen.size;
}
