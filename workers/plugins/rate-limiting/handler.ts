/**
 * rate-limiting (Kong PRIORITY 910), after kong/plugins/rate-limiting/handler.lua, but exact:
 * the check and the increment are one atomic step (the node's shared-memory table for
 * policy local, one Lua script for policy redis), so a burst can never overshoot a limit.
 *
 * - identifier (Kong's get_identifier): consumer id (else credential id), credential id,
 *   client IP, service id, a request header, or the path when it equals `path`. When there
 *   is none, Kong silently counts by client IP; we do the same (so a limit never stops
 *   applying) but log it, at most once a minute per plugin instance per worker;
 * - windows: Kong's UTC calendar windows (`window_type: fixed`), or `sliding`: the previous
 *   window's count weighted by the share of it still inside a sliding window (README.md);
 * - headers: X-RateLimit-Limit-<Window>, X-RateLimit-Remaining-<Window>, and RateLimit-Limit,
 *   -Remaining, -Reset for the most restrictive window (lowest remaining, ties to the longer
 *   window); Retry-After on the refusal; none of them with hide_client_headers (Kong);
 * - refusal: error_code (429) with Kong's error document for error_message.
 *
 * policy local is fully synchronous and allocates only the header strings; policy redis
 * returns a Promise when it asks Redis, and falls back to the local table (fault_tolerant)
 * or answers 500 (not fault tolerant) when Redis fails.
 */
import { DEFAULT_RATE_LIMIT_SLOTS, RateLimitQuery, RateLimitTable, createRateLimitBuffer } from '../../../src/shared/shm/rate-limit-table.js';
import type { RequestContext } from '../../http/request-context.js';
import type { LocalReply, MaybePromise, PluginEnv, PluginHandler, Verdict } from '../../pipeline/types.js';
import { RedisCounter, SyncBatcher, ThrottledLog, redisCounterFor, syncBatcherFor } from './redis-policy.js';
import { SYNC_RATE_REALTIME, redisSettings, type RateLimitingConfig } from './schema.js';
import { PERIODS, PERIOD_TITLES, windowsAround } from './windows.js';

/** Kong's EMPTY_UUID: the route or service part of a key when the instance has none. */
export const EMPTY_UUID = '00000000-0000-0000-0000-000000000000';
const INTERNAL_ERROR: LocalReply = Object.freeze({ status: 500, message: 'An unexpected error occurred' });
/** How often (ms) the same instance logs the same problem at most. */
const LOG_INTERVAL_MS = 60_000;
/** batched(): a total is not cached yet, ask Redis. */
const FETCH: unique symbol = Symbol('fetch');
/** Retry-After values up to this are served from prebuilt replies. */
const CACHED_REPLIES = 60;

let ownTable: RateLimitTable | null = null;

/** The worker always provides the node's table; a thread without one (a unit test) gets its own. */
function tableOf(env: PluginEnv): RateLimitTable {
  if (env.rateLimitTable !== undefined) return env.rateLimitTable;
  if (ownTable === null) {
    env.log.warn({}, 'rate-limiting: no shared counter table provided; using a table private to this thread');
    ownTable = new RateLimitTable(createRateLimitBuffer(Math.min(DEFAULT_RATE_LIMIT_SLOTS, 1 << 16)));
  }
  return ownTable;
}

type Identify = (ctx: RequestContext) => string | null;

function identifierOf(conf: RateLimitingConfig): Identify {
  switch (conf.limit_by) {
    case 'consumer':
      return (ctx) => ctx.consumer?.id ?? ctx.credential?.id ?? null;
    case 'credential':
      return (ctx) => ctx.credential?.id ?? null;
    case 'ip':
      return (ctx) => ctx.clientIp;
    case 'service':
      return (ctx) => ctx.service?.id ?? null;
    case 'header': {
      const name = conf.header_name!.toLowerCase();
      return (ctx) => {
        const v = ctx.headers[name];
        if (v === undefined) return null;
        // Kong's get_header gives the first of repeated headers; ours are joined with ", ".
        if (ctx.repeatedHeaders !== null && ctx.isRepeated(name)) {
          const comma = v.indexOf(', ');
          return comma < 0 ? v : v.slice(0, comma);
        }
        return v;
      };
    }
    default: {
      const path = conf.path!;
      return (ctx) => (ctx.path === path ? path : null);
    }
  }
}

const MISSING: Record<string, string> = {
  consumer: 'no consumer or credential (no authentication plugin ran, or it let the request through without one)',
  credential: 'no credential (no authentication plugin ran, or the request went through as anonymous)',
  service: 'no service',
  header: 'the header is absent',
  path: 'the path is not the configured one',
};

export function createRateLimiting(conf: RateLimitingConfig, env: PluginEnv): PluginHandler {
  const table = tableOf(env);
  const routeId = env.instance?.route ?? EMPTY_UUID;
  const serviceId = env.instance?.service ?? EMPTY_UUID;

  const periods: number[] = [];
  const limits: number[] = [];
  PERIODS.forEach((p, i) => {
    const v = conf[p];
    if (v !== null) {
      periods.push(i);
      limits.push(v);
    }
  });
  const n = periods.length;
  const q = new RateLimitQuery(periods, limits);
  const ends = new Float64Array(n);
  const around = new Float64Array(4);
  const sliding = conf.window_type === 'sliding';
  const hide = conf.hide_client_headers;
  const prefix = table.prefix([routeId, serviceId]);
  const identify = identifierOf(conf);

  const limitNames = periods.map((p) => `X-RateLimit-Limit-${PERIOD_TITLES[p]}`);
  const remainingNames = periods.map((p) => `X-RateLimit-Remaining-${PERIOD_TITLES[p]}`);
  const limitValues = limits.map((l) => String(l));

  // Refusals built once: the 429 path allocates nothing but the header strings.
  const errorCode = conf.error_code;
  const errorMessage = conf.error_message;
  const HIDDEN: LocalReply = Object.freeze({ status: errorCode, message: errorMessage });
  const replies: LocalReply[] = [];
  const replyFor = (reset: number): LocalReply => {
    if (reset <= CACHED_REPLIES) {
      const cached = replies[reset];
      if (cached !== undefined) return cached;
    }
    const r: LocalReply = Object.freeze({ status: errorCode, message: errorMessage, headers: [['Retry-After', String(reset)] as const] });
    if (reset <= CACHED_REPLIES) replies[reset] = r;
    return r;
  };

  const missingLog = new ThrottledLog(LOG_INTERVAL_MS);
  const missingWhat = MISSING[conf.limit_by] ?? conf.limit_by;
  function fallbackToIp(ctx: RequestContext): string {
    missingLog.hit(Date.now(), (suppressed) =>
      env.log.warn(
        { limit_by: conf.limit_by, route: env.instance?.route ?? null, service: env.instance?.service ?? null, sameSince: suppressed },
        `rate-limiting: ${missingWhat}; counting these requests by client IP instead (Kong's fallback)`,
      ),
    );
    return ctx.clientIp;
  }

  /** Fills q's windows for the time `nowMs`; returns the current Unix second. */
  function prepare(nowMs: number): number {
    const now = Math.floor(nowMs / 1000);
    for (let i = 0; i < n; i++) {
      windowsAround(q.period[i]!, now, around);
      q.prevWindow[i] = around[0]!;
      q.window[i] = around[1]!;
      ends[i] = around[2]!;
      if (sliding) {
        q.expires[i] = around[3]!;
        q.weight[i] = (around[2]! * 1000 - nowMs) / ((around[2]! - around[1]!) * 1000);
      } else {
        q.expires[i] = around[2]!;
      }
    }
    return now;
  }

  /** Seconds until window i lets a request through again (sliding windows). */
  function slidingWait(i: number, count: number, prev: number, start: number, end: number, nowMs: number): number {
    const len = end - start;
    const elapsed = nowMs / 1000 - start;
    const lim = limits[i]!;
    let wait: number;
    if (count < lim && prev > 0) wait = len * (1 - (lim - count) / prev) - elapsed;
    else wait = len - elapsed + (count > 0 ? len * Math.max(0, 1 - lim / count) : 0);
    // Usage must drop strictly below the limit: a whole second past the exact point.
    return Math.max(1, Math.floor(wait) + 1);
  }

  /** Headers and verdict from the counts the decision saw. */
  function conclude(
    ctx: RequestContext,
    blocked: number,
    count: ArrayLike<number>,
    prev: ArrayLike<number>,
    weight: ArrayLike<number>,
    start: ArrayLike<number>,
    end: ArrayLike<number>,
    nowMs: number,
  ): Verdict {
    if (hide) return blocked < 0 ? undefined : HIDDEN;
    // Seven headers on every request: appended to the flat list directly, each number
    // turned into text once.
    const out = (ctx.extraResponseHeaders ??= []);
    let best = 0;
    let bestRemaining = Infinity;
    let bestText = '';
    for (let i = 0; i < n; i++) {
      // Allowed: the count includes this request. Refused: it does not; Kong still takes
      // one off the window that stopped it.
      let r = limits[i]! - (count[i]! + prev[i]! * weight[i]!);
      if (i === blocked) r -= 1;
      const remaining = r > 0 ? Math.floor(r) : 0;
      const text = integerText(remaining);
      out.push(limitNames[i]!, limitValues[i]!, remainingNames[i]!, text);
      // Windows are in ascending length: `<=` gives ties to the longer one (Kong).
      if (remaining <= bestRemaining) {
        bestRemaining = remaining;
        bestText = text;
        best = i;
      }
    }
    let reset = Math.max(1, end[best]! - Math.floor(nowMs / 1000));
    if (sliding && blocked >= 0) reset = slidingWait(best, count[best]!, prev[best]!, start[best]!, end[best]!, nowMs);
    out.push('RateLimit-Limit', limitValues[best]!, 'RateLimit-Remaining', bestText, 'RateLimit-Reset', String(reset));
    return blocked < 0 ? undefined : replyFor(reset);
  }

  /** The identifier whose hash q holds: the next request is mostly from the same consumer or client. */
  let hashedId: string | null = null;

  function local(ctx: RequestContext, id: string, nowMs: number): Verdict {
    const now = prepare(nowMs);
    if (id !== hashedId) {
      table.hashKey(q, prefix, id);
      hashedId = id;
    }
    const blocked = table.consume(q, now);
    return conclude(ctx, blocked, q.count, q.prev, q.weight, q.window, ends, nowMs);
  }

  if (conf.policy !== 'redis') {
    return {
      access(ctx: RequestContext): Verdict {
        const id = identify(ctx) ?? fallbackToIp(ctx);
        return local(ctx, id, Date.now());
      },
    };
  }

  // ---- policy: redis ----------------------------------------------------------------------
  const counter: RedisCounter = redisCounterFor(redisSettings(conf), env.log);
  const batcher: SyncBatcher | null = conf.sync_rate === SYNC_RATE_REALTIME ? null : syncBatcherFor(counter, conf.sync_rate, env.log);
  const faultTolerant = conf.fault_tolerant;
  const keyHead = `ratelimit:${routeId}:${serviceId}:`;
  const keyTails = periods.map((p) => `:${PERIODS[p]}`);
  const failLog = new ThrottledLog(LOG_INTERVAL_MS);

  function failed(ctx: RequestContext, id: string, reason: string): Verdict {
    const nowMs = Date.now();
    failLog.hit(nowMs, (suppressed) => {
      const o = { redis: `${counter.client.options.host}:${counter.client.options.port}`, reason, sameSince: suppressed };
      if (faultTolerant) env.log.warn(o, "rate-limiting: redis unavailable; counting on this node's shared counters meanwhile (fault_tolerant)");
      else env.log.error(o, 'rate-limiting: redis unavailable; answering 500 (fault_tolerant is false)');
    });
    return faultTolerant ? local(ctx, id, nowMs) : INTERNAL_ERROR;
  }

  /** sync_rate: decides from the cached totals, or returns FETCH when one is missing. */
  function batched(ctx: RequestContext, b: SyncBatcher, keys: string[], nowMs: number): Verdict | typeof FETCH {
    const count = new Float64Array(n);
    const prev = new Float64Array(n);
    let blocked = -1;
    for (let i = 0; i < n; i++) {
      const c = b.usage(keys[i]!, nowMs);
      const p = sliding ? b.usage(keys[n + i]!, nowMs) : 0;
      if (c === undefined || p === undefined) return FETCH;
      count[i] = c;
      prev[i] = p;
      if (blocked < 0 && c + p * q.weight[i]! >= limits[i]!) blocked = i;
    }
    if (blocked < 0) {
      for (let i = 0; i < n; i++) {
        b.add(keys[i]!);
        count[i]!++;
      }
    }
    return conclude(ctx, blocked, count, prev, q.weight, q.window, ends, nowMs);
  }

  /** One decision in Redis (or from the sync_rate cache). */
  function ask(ctx: RequestContext, id: string): MaybePromise<Verdict> {
    const nowMs = Date.now();
    prepare(nowMs);
    const keys: string[] = new Array(sliding ? 2 * n : n);
    const args: (string | number)[] = [n, sliding ? 1 : 0];
    for (let i = 0; i < n; i++) {
      keys[i] = `${keyHead}${id}:${q.window[i]! * 1000}${keyTails[i]}`;
      if (sliding) keys[n + i] = `${keyHead}${id}:${q.prevWindow[i]! * 1000}${keyTails[i]}`;
      // A second of slack on the expiry: a gateway clock behind Redis's must not lose counts.
      args.push(limits[i]!, q.weight[i]!, q.expires[i]! * 1000 + 1000);
    }
    if (batcher !== null) {
      const v = batched(ctx, batcher, keys, nowMs);
      if (v !== FETCH) return v;
    }
    // The request waits for Redis: keep copies of what the reused scratch arrays hold.
    const weight = Float64Array.from(q.weight);
    const start = Float64Array.from(q.window);
    const end = Float64Array.from(ends);
    return counter.decide(keys, args).then(
      (res) => {
        const blocked = Number(res[0]);
        const count = new Float64Array(n);
        const prev = new Float64Array(n);
        for (let i = 0; i < n; i++) {
          count[i] = Number(res[1 + 2 * i]);
          prev[i] = Number(res[2 + 2 * i]);
          if (batcher !== null) {
            batcher.seed(keys[i]!, count[i]!, Number(args[2 + 3 * i + 2]));
            if (sliding) batcher.seed(keys[n + i]!, prev[i]!, end[i]! * 1000 + 1000);
          }
        }
        return conclude(ctx, blocked, count, prev, weight, start, end, nowMs);
      },
      (err: Error) => failed(ctx, id, err.message),
    );
  }

  return {
    access(ctx: RequestContext): MaybePromise<Verdict> {
      const id = identify(ctx) ?? fallbackToIp(ctx);
      if (counter.ready) return ask(ctx, id);
      // A worker's first requests wait for its first connection (up to redis.timeout).
      if (counter.connecting) {
        return counter.firstConnection().then(
          () => ask(ctx, id),
          (err: Error) => failed(ctx, id, err.message),
        );
      }
      return failed(ctx, id, `connection ${counter.client.status}`);
    },
  };
}

const NINE_ZEROS = '000000000';

/**
 * A non-negative integer as text. Counts above 2^30 are heap numbers, which V8 formats with
 * its general double-to-string code (and the number-string cache misses: the count changes on
 * every request); two halves below 1e9 take the integer path, about twice as fast.
 */
export function integerText(v: number): string {
  if (v < 1e9) return String(v);
  const hi = Math.floor(v / 1e9);
  const lo = String(v - hi * 1e9);
  return String(hi) + NINE_ZEROS.slice(lo.length) + lo;
}
