/**
 * Caches of remote documents (the discovery document, the JWKS) with stale-while-revalidate,
 * and the JWKS cache built on them.
 *
 * One value per cache, with two deadlines:
 * - soft TTL (Cache-Control max-age clamped to [minTtl, maxTtl], defaultTtl without one):
 *   past it the value is still served, and one background refresh starts;
 * - hard TTL (soft TTL + staleTtl): past it the value is never used again, so an IdP that
 *   stays down eventually fails closed (503) instead of trusting keys forever.
 *
 * Every fetch goes through one in-flight promise, so concurrent callers share it. After a
 * failed fetch no new fetch starts for `failureBackoff` (an IdP that is down is not hit
 * once per request). A refresh asked for by a request (an unknown `kid`) starts at most
 * once per `minRefreshInterval` since the last fetch started: a flood of tokens with
 * made-up key ids costs the IdP one request per interval (lua-resty-openidc#468 is the
 * counter-example). Caches live per worker thread.
 */
import { createLocalJWKSet, type JSONWebKeySet, type JWK, type JWTVerifyGetKey } from 'jose';
import { fetchJson, type FetchedDocument } from './fetch-json.js';

export interface SwrPolicy {
  /** TTL when the response carries no Cache-Control max-age. */
  readonly defaultTtlMs: number;
  /** Bounds applied to max-age (and to the default). */
  readonly minTtlMs: number;
  readonly maxTtlMs: number;
  /** How long past the soft TTL a value may still be served while refreshes fail. */
  readonly staleTtlMs: number;
  /** No fetch at all for this long after a failed one. */
  readonly failureBackoffMs: number;
  /** Request-driven refreshes: at most one per this interval since the last fetch started. */
  readonly minRefreshIntervalMs: number;
}

export interface Loaded<T> {
  readonly value: T;
  readonly maxAgeSec: number | null;
}

interface Entry<T> {
  readonly value: T;
  readonly softExpiresAt: number;
  readonly hardExpiresAt: number;
}

function isPromise<T>(v: unknown): v is Promise<T> {
  return typeof (v as { then?: unknown } | null)?.then === 'function';
}

export class SwrCache<T extends object> {
  private entry: Entry<T> | null = null;
  private inflight: Promise<void> | null = null;
  private lastStartAt = Number.NEGATIVE_INFINITY;
  private lastFailureAt = Number.NEGATIVE_INFINITY;
  /** Why the last fetch failed (null after a success). */
  lastError: Error | null = null;
  /** Fetches started so far (diagnostics and tests). */
  fetches = 0;

  constructor(
    private readonly load: () => Promise<Loaded<T>>,
    readonly policy: SwrPolicy,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** The value if it can be used now (before its hard TTL), without fetching. */
  peek(): T | null {
    const e = this.entry;
    return e !== null && this.now() < e.hardExpiresAt ? e.value : null;
  }

  /**
   * The value to use now. Synchronous while one is usable (starting a background refresh
   * once it is past its soft TTL); a promise when the caller has to wait for a fetch;
   * null when there is no usable value and the last fetch failed too recently to retry.
   */
  get(): T | null | Promise<T | null> {
    const now = this.now();
    const e = this.entry;
    if (e !== null && now < e.hardExpiresAt) {
      if (now >= e.softExpiresAt && this.inflight === null && this.mayRetry(now)) void this.start(now);
      return e.value;
    }
    if (this.inflight !== null) return this.inflight.then(() => this.peek());
    if (!this.mayRetry(now)) return null;
    return this.start(now).then(() => this.peek());
  }

  /**
   * A refresh a request asks for (e.g. its key id is unknown): joins the fetch in flight,
   * or starts one unless one started less than `minRefreshInterval` ago or the last one
   * failed within the backoff; then answers like peek().
   */
  refresh(): T | null | Promise<T | null> {
    if (this.inflight !== null) return this.inflight.then(() => this.peek());
    const now = this.now();
    if (now - this.lastStartAt < this.policy.minRefreshIntervalMs || !this.mayRetry(now)) return this.peek();
    return this.start(now).then(() => this.peek());
  }

  /** Awaits whatever get() gives. */
  async require(): Promise<T | null> {
    return this.get();
  }

  private mayRetry(now: number): boolean {
    return now - this.lastFailureAt >= this.policy.failureBackoffMs;
  }

  private start(now: number): Promise<void> {
    this.lastStartAt = now;
    this.fetches++;
    let p: Promise<Loaded<T>>;
    try {
      p = this.load();
    } catch (err) {
      p = Promise.reject(err);
    }
    const done = p.then(
      (loaded) => {
        const at = this.now();
        const soft = this.ttlMs(loaded.maxAgeSec);
        this.entry = { value: loaded.value, softExpiresAt: at + soft, hardExpiresAt: at + soft + this.policy.staleTtlMs };
        this.lastError = null;
        this.inflight = null;
      },
      (err: unknown) => {
        this.lastFailureAt = this.now();
        this.lastError = err instanceof Error ? err : new Error(String(err));
        this.inflight = null;
      },
    );
    this.inflight = done;
    return done;
  }

  private ttlMs(maxAgeSec: number | null): number {
    const p = this.policy;
    const ttl = maxAgeSec === null ? p.defaultTtlMs : maxAgeSec * 1000;
    return Math.min(p.maxTtlMs, Math.max(p.minTtlMs, ttl));
  }
}

// ---------------------------------------------------------------------------------------
// JWKS

export interface JwksSnapshot {
  /** jose's key selector over this set: matches kid, kty/crv for the alg, use and key_ops. */
  readonly getKey: JWTVerifyGetKey;
  /** Key ids present in the set. */
  readonly kids: ReadonlySet<string>;
  readonly size: number;
}

const PUBLIC_MEMBERS = ['kty', 'kid', 'alg', 'use', 'key_ops', 'crv', 'x', 'y', 'n', 'e'] as const;
const ASYMMETRIC_KTY = new Set(['RSA', 'EC', 'OKP']);

/**
 * Keeps the usable keys of a fetched set, as public keys only: symmetric ('oct') keys,
 * encryption keys and unknown key types are dropped, and private members stripped (a
 * misconfigured IdP publishing `d` must not make us import a private key).
 */
export function toSnapshot(json: unknown): JwksSnapshot {
  const keys = (json as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys)) throw new Error('JWKS has no "keys" array');
  const kept: JWK[] = [];
  const kids = new Set<string>();
  for (const k of keys) {
    if (typeof k !== 'object' || k === null) continue;
    const src = k as Record<string, unknown>;
    if (typeof src['kty'] !== 'string' || !ASYMMETRIC_KTY.has(src['kty'])) continue;
    if (src['use'] !== undefined && src['use'] !== 'sig') continue;
    const jwk: Record<string, unknown> = {};
    for (const m of PUBLIC_MEMBERS) if (src[m] !== undefined) jwk[m] = src[m];
    if (typeof jwk['kid'] === 'string') kids.add(jwk['kid']);
    kept.push(jwk as JWK);
  }
  if (kept.length === 0) throw new Error('JWKS has no usable signing keys');
  const set: JSONWebKeySet = { keys: kept };
  return { getKey: createLocalJWKSet(set), kids, size: kept.length };
}

export async function loadJwks(uri: string, timeoutMs: number): Promise<Loaded<JwksSnapshot>> {
  const doc: FetchedDocument = await fetchJson(uri, timeoutMs);
  return { value: toSnapshot(doc.json), maxAgeSec: doc.maxAgeSec };
}

/** The JWKS of one issuer: SWR-cached, with rate-limited refreshes for unknown key ids. */
export class JwksCache {
  readonly swr: SwrCache<JwksSnapshot>;

  constructor(load: () => Promise<Loaded<JwksSnapshot>>, policy: SwrPolicy, now?: () => number) {
    this.swr = new SwrCache(load, policy, now);
  }

  /**
   * Keys to verify a token whose header names `kid` (or none). When the usable set does
   * not know the kid, a refresh is attempted (shared, rate-limited) and its result, or
   * the unchanged set, returned: the caller checks `kids` again. Null: no usable keys.
   */
  keysFor(kid: string | undefined): JwksSnapshot | null | Promise<JwksSnapshot | null> {
    const v = this.swr.get();
    if (v === null) return null;
    if (isPromise<JwksSnapshot | null>(v)) {
      return v.then((s) => (s === null || kid === undefined || s.kids.has(kid) ? s : this.swr.refresh()));
    }
    if (kid === undefined || v.kids.has(kid)) return v;
    return this.swr.refresh();
  }

  get fetches(): number {
    return this.swr.fetches;
  }

  get lastError(): Error | null {
    return this.swr.lastError;
  }
}
