/**
 * The discovery/JWKS caches against a real HTTP server on loopback: stale-while-revalidate
 * (one background refresh, hard TTL), Cache-Control max-age within bounds, one shared
 * in-flight fetch, the unknown-kid refresh rate limit, the failure backoff, and what a
 * fetched key set is allowed to contain. Time is a fake clock; the network is real.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { fetchJson, maxAgeOf } from './fetch-json.js';
import { JwksCache, loadJwks, SwrCache, toSnapshot, type JwksSnapshot, type SwrPolicy } from './jwks-cache.js';

interface KeyServer {
  url: string;
  /** GET /jwks count. */
  hits: number;
  /** What /jwks answers next. */
  keys: JWK[];
  cacheControl: string | null;
  status: number;
  delayMs: number;
  /** Body override (raw). */
  raw: string | null;
  close(): Promise<void>;
}

async function startKeyServer(): Promise<KeyServer> {
  const state: KeyServer = {
    url: '',
    hits: 0,
    keys: [],
    cacheControl: null,
    status: 200,
    delayMs: 0,
    raw: null,
    close: async () => undefined,
  };
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    state.hits++;
    const send = () => {
      const body = state.raw ?? JSON.stringify({ keys: state.keys });
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (state.cacheControl !== null) headers['cache-control'] = state.cacheControl;
      res.writeHead(state.status, headers);
      res.end(body);
    };
    if (state.delayMs > 0) setTimeout(send, state.delayMs);
    else send();
    req.resume();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  state.url = `http://127.0.0.1:${(server.address() as { port: number }).port}/jwks`;
  state.close = () =>
    new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    });
  return state;
}

async function publicJwk(kid: string): Promise<JWK> {
  const { publicKey } = await generateKeyPair('ES256', { extractable: true });
  return { ...(await exportJWK(publicKey)), kid, alg: 'ES256', use: 'sig' };
}

const POLICY: SwrPolicy = {
  defaultTtlMs: 60_000,
  minTtlMs: 10_000,
  maxTtlMs: 600_000,
  staleTtlMs: 120_000,
  failureBackoffMs: 1_000,
  minRefreshIntervalMs: 30_000,
};

let srv: KeyServer;
let k1: JWK;
let k2: JWK;
let t: number;
const clock = () => t;

function cache(policy: SwrPolicy = POLICY): JwksCache {
  return new JwksCache(() => loadJwks(srv.url, 2_000), policy, clock);
}

async function settle<T>(v: T | Promise<T>): Promise<T> {
  return v;
}

/** Lets background fetches reach the server and finish. */
const idle = (ms = 150) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  srv = await startKeyServer();
  k1 = await publicJwk('k1');
  k2 = await publicJwk('k2');
});
afterAll(() => srv.close());
beforeEach(async () => {
  await idle(); // nothing from the previous test may still be in flight
  t = 1_000_000;
  srv.hits = 0;
  srv.keys = [k1];
  srv.cacheControl = null;
  srv.status = 200;
  srv.delayMs = 0;
  srv.raw = null;
});

describe('stale-while-revalidate', () => {
  it('fetches once, then serves from memory synchronously until the soft TTL', async () => {
    const c = cache();
    const first = await settle(c.keysFor('k1'));
    expect(first?.kids.has('k1')).toBe(true);
    t += 59_000;
    const again = c.keysFor('k1');
    expect(again).toBe(first); // synchronous, same snapshot
    expect(srv.hits).toBe(1);
  });

  it('past the soft TTL: serves the stale keys at once and refreshes once in the background', async () => {
    const c = cache();
    const first = await settle(c.keysFor('k1'));
    srv.keys = [k1, k2];
    srv.delayMs = 100;
    t += 61_000;
    // Many requests during the refresh: all get the stale set synchronously, one fetch runs.
    const during = Array.from({ length: 50 }, () => c.keysFor('k1'));
    for (const s of during) expect(s).toBe(first);
    expect(c.fetches).toBe(2);
    await new Promise((r) => setTimeout(r, 300));
    const after = c.keysFor('k2');
    expect(after).not.toBe(first);
    expect((after as JwksSnapshot).kids.has('k2')).toBe(true);
    expect(c.fetches).toBe(2);
    expect(srv.hits).toBe(2);
  });

  it('keeps serving stale keys while the IdP is down, until the hard TTL, then fails closed', async () => {
    const c = cache();
    const first = await settle(c.keysFor('k1'));
    srv.status = 503;
    t += 61_000; // soft TTL passed: background refresh fails
    expect(c.keysFor('k1')).toBe(first);
    await new Promise((r) => setTimeout(r, 50));
    expect(c.lastError?.message).toMatch(/HTTP 503/);
    t += 60_000; // still inside soft + stale (60 s + 120 s)
    expect(c.keysFor('k1')).toBe(first);
    await new Promise((r) => setTimeout(r, 50));
    t += 70_000; // past the hard TTL
    expect(await settle(c.keysFor('k1'))).toBeNull();
  });

  it('uses Cache-Control max-age as the soft TTL, clamped to [min, max]', async () => {
    srv.cacheControl = 'public, max-age=120';
    const c = cache();
    await settle(c.keysFor('k1'));
    t += 119_000;
    c.keysFor('k1');
    expect(c.fetches).toBe(1);
    t += 2_000;
    c.keysFor('k1');
    expect(c.fetches).toBe(2); // refreshed after 120 s, not after the 60 s default
    await idle();

    srv.cacheControl = 'max-age=1'; // below the 10 s floor
    const low = cache();
    await settle(low.keysFor('k1'));
    t += 5_000;
    low.keysFor('k1');
    expect(low.fetches).toBe(1);
    t += 6_000;
    low.keysFor('k1');
    expect(low.fetches).toBe(2);
    await idle();

    srv.cacheControl = 'max-age=99999999'; // above the 600 s ceiling
    const high = cache();
    await settle(high.keysFor('k1'));
    t += 599_000;
    high.keysFor('k1');
    expect(high.fetches).toBe(1);
    t += 2_000;
    high.keysFor('k1');
    expect(high.fetches).toBe(2);
    await idle();
  });

  it('parses Cache-Control: max-age, no-store and no-cache', () => {
    expect(maxAgeOf(null)).toBeNull();
    expect(maxAgeOf('public')).toBeNull();
    expect(maxAgeOf('public, max-age=300, must-revalidate')).toBe(300);
    expect(maxAgeOf('Max-Age="42"')).toBe(42);
    expect(maxAgeOf('no-store')).toBe(0);
    expect(maxAgeOf('max-age=300, no-cache')).toBe(0);
  });
});

describe('one fetch at a time', () => {
  it('concurrent first requests share one in-flight fetch', async () => {
    srv.delayMs = 100;
    const c = cache();
    const all = await Promise.all(Array.from({ length: 100 }, () => settle(c.keysFor('k1'))));
    expect(srv.hits).toBe(1);
    expect(new Set(all).size).toBe(1);
    expect(all[0]?.kids.has('k1')).toBe(true);
  });

  it('an unknown kid triggers at most one refresh per interval, shared by concurrent requests', async () => {
    const c = cache();
    await settle(c.keysFor('k1'));
    t += 31_000; // the initial fetch is older than the interval
    srv.delayMs = 50;
    const flood = await Promise.all(Array.from({ length: 200 }, (_, i) => settle(c.keysFor(`forged-${i}`))));
    expect(srv.hits).toBe(2);
    for (const s of flood) expect(s?.kids.has('k1')).toBe(true);
    // More unknown kids within the interval: no fetch at all, answered synchronously.
    t += 29_000;
    for (let i = 0; i < 100; i++) expect(c.keysFor(`again-${i}`)).not.toBeInstanceOf(Promise);
    expect(srv.hits).toBe(2);
    t += 1_001;
    await settle(c.keysFor('later'));
    expect(srv.hits).toBe(3);
  });

  it('picks up a rotated key with one fetch once the interval allows it', async () => {
    const c = cache();
    await settle(c.keysFor('k1'));
    srv.keys = [k2];
    // Right after a fetch the new kid stays unknown (rate limit)...
    const early = await settle(c.keysFor('k2'));
    expect(early?.kids.has('k2')).toBe(false);
    expect(srv.hits).toBe(1);
    // ...and is fetched exactly once after it.
    t += 30_000;
    const rotated = await Promise.all([settle(c.keysFor('k2')), settle(c.keysFor('k2'))]);
    expect(rotated[0]?.kids.has('k2')).toBe(true);
    expect(rotated[0]?.kids.has('k1')).toBe(false);
    expect(srv.hits).toBe(2);
    expect(c.keysFor('k2')).toBe(rotated[0]);
    expect(srv.hits).toBe(2);
  });

  it('after a failure, no new fetch until the backoff has passed', async () => {
    srv.status = 500;
    const c = cache();
    expect(await settle(c.keysFor('k1'))).toBeNull();
    expect(srv.hits).toBe(1);
    for (let i = 0; i < 20; i++) expect(c.keysFor('k1')).toBeNull(); // synchronous null, no fetch
    expect(srv.hits).toBe(1);
    srv.status = 200;
    t += 1_000;
    expect((await settle(c.keysFor('k1')))?.kids.has('k1')).toBe(true);
    expect(srv.hits).toBe(2);
  });

  it('a loader that throws synchronously is a failed fetch, not an exception', async () => {
    const s = new SwrCache<{ v: number }>(
      () => {
        throw new Error('boom');
      },
      POLICY,
      clock,
    );
    expect(await s.require()).toBeNull();
    expect(s.lastError?.message).toBe('boom');
  });
});

describe('what a key set may contain', () => {
  it('drops symmetric and encryption keys and strips private members', async () => {
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    const priv = { ...(await exportJWK(privateKey)), kid: 'leaked' };
    const snap = toSnapshot({
      keys: [{ kty: 'oct', k: 'c2VjcmV0', kid: 'hmac' }, { ...k2, use: 'enc', kid: 'enc' }, priv, k1, 'junk', null],
    });
    expect([...snap.kids].sort()).toEqual(['k1', 'leaked']);
    expect(snap.size).toBe(2);
  });

  it('refuses a document without usable keys (and the previous keys stay in use)', async () => {
    expect(() => toSnapshot({ keys: [{ kty: 'oct', k: 'c2VjcmV0' }] })).toThrow(/no usable signing keys/);
    expect(() => toSnapshot({ nokeys: true })).toThrow(/no "keys" array/);
    const c = cache();
    const first = await settle(c.keysFor('k1'));
    srv.raw = JSON.stringify({ keys: [] });
    t += 61_000;
    expect(c.keysFor('k1')).toBe(first);
    await new Promise((r) => setTimeout(r, 50));
    expect(c.lastError?.message).toMatch(/no usable signing keys/);
    expect(c.keysFor('k1')).toBe(first);
  });

  it('fetchJson: times out, caps the size, refuses non-JSON and non-200', async () => {
    srv.delayMs = 500;
    await expect(fetchJson(srv.url, 100)).rejects.toThrow(/timed out/);
    srv.delayMs = 0;
    srv.raw = 'x'.repeat(2048);
    await expect(fetchJson(srv.url, 2_000, 1024)).rejects.toThrow(/larger than 1024 bytes/);
    srv.raw = '<html>';
    await expect(fetchJson(srv.url, 2_000)).rejects.toThrow(/not JSON/);
    srv.raw = null;
    srv.status = 404;
    await expect(fetchJson(srv.url, 2_000)).rejects.toThrow(/HTTP 404/);
    const closed = await startKeyServer();
    await closed.close();
    await expect(fetchJson(closed.url, 2_000)).rejects.toThrow(/ECONNREFUSED/);
  });
});
