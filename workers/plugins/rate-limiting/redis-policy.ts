/**
 * policy: redis. One connection per Redis endpoint per worker thread (ioredis), shared by
 * every plugin instance and config generation that uses the same settings, and one Lua
 * script per decision that checks every window and counts the request in all of them, or
 * in none, atomically on the Redis side (Kong's policy counts refused requests too, and
 * reads before it increments; this script does neither).
 *
 * Keys are Kong's: `ratelimit:<route id>:<service id>:<identifier>:<window start ms>:<period>`
 * (kong/plugins/rate-limiting/policies/init.lua get_local_key), without any config version
 * or hash, so gateways running different config versions share their counters.
 *
 * Failing fast: the client never queues commands while disconnected
 * (enableOfflineQueue: false), never resends them after a reconnect, and gives up on a
 * command after `redis.timeout` ms; `ready` tells the caller synchronously whether asking
 * makes sense at all. While Redis is down the client reconnects in the background.
 *
 * sync_rate > 0 (SyncBatcher): decisions are taken locally from the last totals Redis
 * returned plus this worker's own increments since; every sync_rate seconds the increments
 * go to Redis in one pipeline (INCRBY) and the totals come back. Accuracy trade-off in
 * README.md.
 */
import { Redis } from 'ioredis';
import type { PluginEnv } from '../../pipeline/types.js';
import type { RedisSettings } from './schema.js';

/**
 * KEYS: the current window's key of each window, then (sliding) each previous window's key.
 * ARGV: n, sliding (0/1), then per window: limit, weight of the previous count, expiry (Unix ms).
 * Returns: blocked window index (-1 when counted), then per window: count, previous count.
 */
const DECIDE_LUA = `
local n = tonumber(ARGV[1])
local sliding = ARGV[2] == '1'
local counts, prevs = {}, {}
local blocked = -1
for i = 1, n do
  local c = tonumber(redis.call('GET', KEYS[i]) or '0')
  local p = 0
  if sliding then p = tonumber(redis.call('GET', KEYS[n + i]) or '0') end
  counts[i] = c
  prevs[i] = p
  local a = 2 + (i - 1) * 3
  if blocked < 0 and c + p * tonumber(ARGV[a + 2]) >= tonumber(ARGV[a + 1]) then blocked = i - 1 end
end
if blocked < 0 then
  for i = 1, n do
    local c = redis.call('INCR', KEYS[i])
    if c == 1 then redis.call('PEXPIREAT', KEYS[i], ARGV[2 + (i - 1) * 3 + 3]) end
    counts[i] = c
  end
end
local out = { blocked }
for i = 1, n do
  out[#out + 1] = counts[i]
  out[#out + 1] = prevs[i]
end
return out
`;

/** KEYS[1]: a counter; ARGV: increment, expiry (Unix ms). Returns the new total. */
const INCRBY_LUA = `
local v = redis.call('INCRBY', KEYS[1], ARGV[1])
if v == tonumber(ARGV[1]) then redis.call('PEXPIREAT', KEYS[1], ARGV[2]) end
return v
`;

interface ScriptedRedis extends Redis {
  portcullisRateLimit(numKeys: number, ...args: (string | number)[]): Promise<number[]>;
  portcullisIncrBy(key: string, by: number, expireAtMs: number): Promise<number>;
}

type Log = PluginEnv['log'];

/** Logs at most once per `intervalMs`, with how many times it was suppressed meanwhile. */
export class ThrottledLog {
  private last = -Infinity;
  private suppressed = 0;
  constructor(private readonly intervalMs: number) {}
  hit(now: number, emit: (suppressed: number) => void): void {
    if (now - this.last < this.intervalMs) {
      this.suppressed++;
      return;
    }
    this.last = now;
    const s = this.suppressed;
    this.suppressed = 0;
    emit(s);
  }
}

export class RedisCounter {
  readonly client: ScriptedRedis;
  private readonly errors = new ThrottledLog(10_000);
  private readonly timeout: number;
  private everReady = false;
  private firstReady: Promise<void> | null = null;

  constructor(settings: RedisSettings, log: Log) {
    const timeout = settings.timeout > 0 ? settings.timeout : 2000;
    this.timeout = timeout;
    this.client = new Redis({
      host: settings.host,
      port: settings.port,
      username: settings.username ?? undefined,
      password: settings.password ?? undefined,
      db: settings.database,
      connectTimeout: timeout,
      commandTimeout: timeout,
      enableOfflineQueue: false,
      autoResendUnfulfilledCommands: false,
      maxRetriesPerRequest: 0,
      retryStrategy: (times: number) => Math.min(50 * 2 ** Math.min(times, 6), 2000),
      tls: settings.ssl ? { servername: settings.server_name ?? settings.host, rejectUnauthorized: settings.ssl_verify } : undefined,
    }) as ScriptedRedis;
    this.client.defineCommand('portcullisRateLimit', { lua: DECIDE_LUA });
    this.client.defineCommand('portcullisIncrBy', { lua: INCRBY_LUA, numberOfKeys: 1 });
    this.client.once('ready', () => (this.everReady = true));
    // Without a listener, an 'error' event would be an uncaught exception in the worker.
    this.client.on('error', (err: Error) => {
      this.errors.hit(Date.now(), (suppressed) =>
        log.error({ redis: `${settings.host}:${settings.port}`, err: err.message, suppressed }, 'rate-limiting: redis connection error'),
      );
    });
  }

  /** Connected and ready: worth asking. False while (re)connecting. */
  get ready(): boolean {
    return this.client.status === 'ready';
  }

  /**
   * True while the very first connection is being made (a new worker, a new endpoint):
   * requests then wait for it (firstConnection) rather than fail. Once it has been ready,
   * a lost connection fails requests at once until it is back.
   */
  get connecting(): boolean {
    const s = this.client.status;
    return !this.everReady && (s === 'wait' || s === 'connecting' || s === 'connect');
  }

  /** Resolves when the first connection is ready; rejects when it fails or takes longer than the timeout. */
  firstConnection(): Promise<void> {
    this.firstReady ??= new Promise<void>((resolve, reject) => {
      const done = (err?: Error) => {
        clearTimeout(timer);
        this.client.off('ready', onReady);
        this.client.off('error', onError);
        this.client.off('close', onClose);
        if (err === undefined) resolve();
        else reject(err);
      };
      const onReady = () => done();
      const onError = (err: Error) => done(err);
      const onClose = () => done(new Error('connection closed'));
      const timer = setTimeout(() => done(new Error(`no connection within ${this.timeout} ms`)), this.timeout);
      this.client.once('ready', onReady);
      this.client.once('error', onError);
      this.client.once('close', onClose);
    }).finally(() => (this.firstReady = null));
    return this.firstReady;
  }

  /** The atomic decision (DECIDE_LUA). */
  decide(keys: string[], args: (string | number)[]): Promise<number[]> {
    return this.client.portcullisRateLimit(keys.length, ...keys, ...args);
  }

  incrBy(key: string, by: number, expireAtMs: number): Promise<number> {
    return this.client.portcullisIncrBy(key, by, expireAtMs);
  }
}

const counters = new Map<string, RedisCounter>();

/** This thread's connection for `settings` (created on first use, kept across reloads). */
export function redisCounterFor(settings: RedisSettings, log: Log): RedisCounter {
  const id = JSON.stringify(settings);
  let c = counters.get(id);
  if (c === undefined) counters.set(id, (c = new RedisCounter(settings, log)));
  return c;
}

/** Closes every connection of this thread (tests; a worker exits without it). */
export async function closeRedisCounters(): Promise<void> {
  const all = [...counters.values()];
  counters.clear();
  for (const byRate of batchers.values()) for (const b of byRate.values()) b.stop();
  batchers.clear();
  await Promise.all(all.map((c) => c.client.quit().catch(() => c.client.disconnect())));
}

// ---- sync_rate batching ----------------------------------------------------------------

interface Cached {
  /** Total Redis last returned for this key. */
  remote: number;
  /** This worker's increments not yet sent. */
  delta: number;
  /** Increments sent, not yet acknowledged. */
  inflight: number;
  /** Unix ms after which the key is gone from Redis (and from here). */
  expireAt: number;
}

/** Keys cached per batcher at most; beyond, decisions for new keys go to Redis each time. */
const MAX_CACHED = 100_000;

export class SyncBatcher {
  private readonly entries = new Map<string, Cached>();
  private readonly timer: NodeJS.Timeout;
  private flushing = false;
  private readonly errors = new ThrottledLog(10_000);

  constructor(
    private readonly counter: RedisCounter,
    intervalMs: number,
    private readonly log: Log,
  ) {
    this.timer = setInterval(() => void this.flush(), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** A key's local view: total + own increments, or undefined when it must be fetched. */
  usage(key: string, nowMs: number): number | undefined {
    const e = this.entries.get(key);
    if (e === undefined || e.expireAt <= nowMs) return undefined;
    return e.remote + e.inflight + e.delta;
  }

  /** Counts one request on a cached key. */
  add(key: string): void {
    const e = this.entries.get(key);
    if (e !== undefined) e.delta++;
  }

  /** Records a total Redis just returned (the request that fetched it is in it). */
  seed(key: string, total: number, expireAt: number): void {
    const e = this.entries.get(key);
    if (e !== undefined) {
      e.remote = Math.max(e.remote, total - e.inflight);
      return;
    }
    if (this.entries.size >= MAX_CACHED) return;
    this.entries.set(key, { remote: total, delta: 0, inflight: 0, expireAt });
  }

  /** Sends every pending increment in one pipeline; refreshes the totals. */
  async flush(): Promise<void> {
    if (this.flushing) return;
    const now = Date.now();
    const batch: Array<[string, Cached, number]> = [];
    for (const [key, e] of this.entries) {
      if (e.expireAt <= now) {
        this.entries.delete(key);
        continue;
      }
      if (e.delta > 0) {
        batch.push([key, e, e.delta]);
        e.inflight += e.delta;
        e.delta = 0;
      }
    }
    if (batch.length === 0 || !this.counter.ready) {
      for (const [, e, d] of batch) {
        e.inflight -= d;
        e.delta += d;
      }
      return;
    }
    this.flushing = true;
    try {
      const p = this.counter.client.pipeline();
      for (const [key, e, d] of batch) (p as unknown as { portcullisIncrBy(k: string, d: number, x: number): void }).portcullisIncrBy(key, d, e.expireAt);
      const results = (await p.exec()) ?? [];
      for (let i = 0; i < batch.length; i++) {
        const [, e, d] = batch[i]!;
        const r = results[i];
        e.inflight -= d;
        if (r === undefined || r[0] !== null) e.delta += d;
        else e.remote = Number(r[1]);
      }
    } catch (err) {
      for (const [, e, d] of batch) {
        e.inflight -= d;
        e.delta += d;
      }
      this.errors.hit(Date.now(), (suppressed) =>
        this.log.error({ err: (err as Error).message, suppressed }, 'rate-limiting: could not sync counters to redis; retrying at the next sync'),
      );
    } finally {
      this.flushing = false;
    }
  }
}

const batchers = new Map<RedisCounter, Map<number, SyncBatcher>>();

/** This thread's batcher for a connection and a sync rate (seconds). */
export function syncBatcherFor(counter: RedisCounter, syncRate: number, log: Log): SyncBatcher {
  let byRate = batchers.get(counter);
  if (byRate === undefined) batchers.set(counter, (byRate = new Map()));
  let b = byRate.get(syncRate);
  if (b === undefined) byRate.set(syncRate, (b = new SyncBatcher(counter, Math.max(20, syncRate * 1000), log)));
  return b;
}
