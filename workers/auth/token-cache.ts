/**
 * Cache of tokens that passed signature verification, so an RS256/ES256 token is not
 * re-verified on every request (the verification is ~50-100x the cost of a lookup).
 *
 * Bounded twice: by total size (sum of token lengths, so large tokens cannot blow the
 * memory budget) and in time: an entry never outlives the token's `exp`, nor `maxTtlMs`
 * (a token without `exp`, or a key rotated out of the JWKS, is re-checked at least that
 * often). Keys are the exact token strings: any changed byte is a miss. One cache per
 * plugin instance and config generation, so a reload (new keys, new rules) starts empty.
 *
 * Only the cryptographic verdict is cached. Time-based claims (exp, nbf) are enforced by
 * the TTL, but callers re-run cheap per-request checks (scopes, headers) on a hit.
 */
import { LRUCache } from 'lru-cache';

export interface TokenCacheOptions {
  /** Sum of cached token lengths, in bytes. */
  maxBytes?: number;
  /** Upper bound on an entry's lifetime. */
  maxTtlMs?: number;
}

export class VerifiedTokenCache<V extends object> {
  private readonly lru: LRUCache<string, V>;
  private readonly maxTtlMs: number;

  constructor(opts: TokenCacheOptions = {}) {
    this.maxTtlMs = opts.maxTtlMs ?? 300_000;
    this.lru = new LRUCache<string, V>({
      maxSize: opts.maxBytes ?? 8 * 1024 * 1024,
      sizeCalculation: (_v, k) => k.length + 64,
      ttl: this.maxTtlMs,
      ttlAutopurge: false,
      allowStale: false,
      updateAgeOnGet: false,
    });
  }

  get(token: string): V | undefined {
    return this.lru.get(token);
  }

  /**
   * Remembers a verified token. `expSeconds` is its `exp` claim (seconds since the epoch)
   * or null; an already-expired token is not stored.
   */
  set(token: string, value: V, expSeconds: number | null, nowMs: number = Date.now()): void {
    let ttl = this.maxTtlMs;
    if (expSeconds !== null) {
      const left = expSeconds * 1000 - nowMs;
      if (left <= 0) return;
      if (left < ttl) ttl = left;
    }
    if (token.length > this.lru.maxSize / 4) return; // one oversized token must not evict everything
    this.lru.set(token, value, { ttl });
  }

  get size(): number {
    return this.lru.size;
  }

  clear(): void {
    this.lru.clear();
  }
}
