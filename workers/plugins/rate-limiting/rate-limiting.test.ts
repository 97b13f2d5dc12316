/**
 * rate-limiting: Kong's config through the real loader, then the handler driven through our
 * RequestContext with a controlled clock: identifiers, windows, Kong's headers and refusal,
 * sliding windows, counters shared by scope and kept across a reload, and policy redis
 * against a real redis-server (keys, exactness, two "gateways" sharing counters, Redis
 * killed with and without fault_tolerant, sync_rate batching).
 * Kong sources: kong/plugins/rate-limiting/{schema,handler,policies/init}.lua.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { loadConfigText } from '../../../src/config/load.js';
import type { GatewayConfig, ServiceConfig } from '../../../src/config/types.js';
import { RateLimitTable, createRateLimitBuffer } from '../../../src/shared/shm/rate-limit-table.js';
import { startRedis, type RedisServer } from '../../../test/helpers/redis-server.js';
import { EMPTY_CONSUMER_INDEX } from '../../auth/consumer-index.js';
import { RequestContext } from '../../http/request-context.js';
import type { LocalReply, PluginEnv, PluginHandler, PluginInstance, Verdict } from '../../pipeline/types.js';
import { pluginDefinitions } from '../index.js';
import { integerText } from './handler.js';
import { pluginSchemas } from '../registry-schemas.js';
import { EMPTY_UUID } from './handler.js';
import { rateLimiting } from './index.js';
import { closeRedisCounters } from './redis-policy.js';
import { redisSettings, type RateLimitingConfig } from './schema.js';

const HEAD = '_format_version: "3.0"\n';
const ROUTE = '11111111-1111-4111-8111-111111111111';
const SERVICE = '22222222-2222-4222-8222-222222222222';

function load(text: string): GatewayConfig {
  const r = loadConfigText(text, 'kong.yml', {});
  if (!r.ok) throw new Error(r.issues.map((i) => `${i.line}:${i.col} ${i.path}: ${i.message}`).join('\n'));
  return r.config;
}

function issues(config: string): string[] {
  const r = loadConfigText(`${HEAD}plugins:\n  - name: rate-limiting\n    config: ${config}\n`, 'kong.yml', {});
  if (r.ok) throw new Error('expected the config to be refused');
  return r.issues.map((i) => `${i.path}: ${i.message}`);
}

function configOf(config: string): RateLimitingConfig {
  return load(`${HEAD}plugins:\n  - name: rate-limiting\n    config: ${config}\n`).plugins[0]!.config as RateLimitingConfig;
}

interface TestEnv extends PluginEnv {
  warnings: Array<{ obj: object; msg: string }>;
  errors: Array<{ obj: object; msg: string }>;
}

function makeEnv(table: RateLimitTable, instance: Partial<PluginInstance> = {}): TestEnv {
  const warnings: TestEnv['warnings'] = [];
  const errors: TestEnv['errors'] = [];
  return {
    workerId: 0,
    log: { info() {}, warn: (obj, msg) => void warnings.push({ obj, msg: msg ?? '' }), error: (obj, msg) => void errors.push({ obj, msg: msg ?? '' }) },
    consumers: EMPTY_CONSUMER_INDEX,
    rateLimitTable: table,
    instance: { id: 'p1', route: ROUTE, service: SERVICE, consumer: null, ...instance },
    warnings,
    errors,
  };
}

interface Req {
  ip?: string;
  path?: string;
  headers?: Record<string, string>;
  repeated?: string[];
  consumer?: string;
  credential?: string;
  service?: string;
}

function request(r: Req = {}): RequestContext {
  const headers: Record<string, string> = Object.assign(Object.create(null), { host: 'api.example.com' }, r.headers ?? {});
  const ip = r.ip ?? '10.0.0.7';
  const ctx = new RequestContext('0123456789abcdef0123456789abcdef', 'GET', r.path ?? '/orders', '', headers, r.repeated ?? null, 'api.example.com', 8000, 'http', ip, ip, 0);
  ctx.path = r.path ?? '/orders';
  if (r.consumer !== undefined) ctx.consumer = { id: r.consumer, username: null, custom_id: null, groups: [] };
  if (r.credential !== undefined) ctx.credential = { id: r.credential, identifier: r.credential };
  if (r.service !== undefined) ctx.service = { id: r.service } as ServiceConfig;
  return ctx;
}

function sync(h: PluginHandler, ctx: RequestContext): Verdict {
  const v = h.access!(ctx);
  if (v instanceof Promise) throw new Error('expected a synchronous verdict');
  return v;
}

/** Response headers the plugin added, as name -> value. */
function added(ctx: RequestContext): Record<string, string> {
  const flat = ctx.extraResponseHeaders ?? [];
  const out: Record<string, string> = {};
  for (let i = 0; i < flat.length; i += 2) out[flat[i]!] = flat[i + 1]!;
  return out;
}

/** Status of n requests (200 when the plugin lets them through). */
function statuses(h: PluginHandler, n: number, r: Req = {}): number[] {
  return Array.from({ length: n }, () => sync(h, request(r))?.status ?? 200);
}

// 2026-03-10T12:34:56.250Z: 56 s into the minute, 34 min into the hour.
const NOW = Date.UTC(2026, 2, 10, 12, 34, 56, 250);

let table: RateLimitTable;
beforeEach(() => {
  table = new RateLimitTable(createRateLimitBuffer(4096));
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(NOW);
});
afterEach(() => {
  vi.useRealTimers();
});

function handler(config: string, env: TestEnv = makeEnv(table)): PluginHandler {
  return rateLimiting.create(configOf(config), env);
}

// ---------------------------------------------------------------------------------------

describe('rate-limiting config (Kong schema.lua, through the loader)', () => {
  it("fills Kong's defaults (plus window_type: fixed)", () => {
    expect(configOf('{ minute: 5 }')).toEqual({
      second: null,
      minute: 5,
      hour: null,
      day: null,
      month: null,
      year: null,
      limit_by: 'consumer',
      header_name: null,
      path: null,
      policy: 'local',
      fault_tolerant: true,
      redis: { host: null, port: 6379, timeout: 2000, username: null, password: null, database: 0, ssl: false, ssl_verify: false, server_name: null },
      hide_client_headers: false,
      error_code: 429,
      error_message: 'API rate limit exceeded',
      sync_rate: -1,
      window_type: 'fixed',
      redis_host: null,
      redis_port: null,
      redis_password: null,
      redis_username: null,
      redis_ssl: null,
      redis_ssl_verify: null,
      redis_server_name: null,
      redis_timeout: null,
      redis_database: null,
    });
  });

  it('is registered with Kong PRIORITY 910 for the loader and the workers, for http protocols', () => {
    expect(pluginSchemas.get('rate-limiting')?.priority).toBe(910);
    expect(pluginDefinitions.get('rate-limiting')?.priority).toBe(910);
    expect(load(`${HEAD}plugins:\n  - name: rate-limiting\n    config: { second: 1 }\n`).plugins[0]!.protocols).toEqual(['grpc', 'grpcs', 'http', 'https']);
  });

  it('needs at least one limit, each > 0', () => {
    expect(issues('{ limit_by: ip }')).toEqual([
      "plugins[0].config: at least one of these fields must be non-empty: 'second', 'minute', 'hour', 'day', 'month', 'year'",
    ]);
    expect(issues('{ second: 0 }')).toEqual(['plugins[0].config.second: value must be greater than 0']);
  });

  it("refuses a longer window with a lower limit, with Kong's message", () => {
    expect(issues('{ second: 10, minute: 5 }')).toEqual(['plugins[0].config: The limit for minute(5.0) cannot be lower than the limit for second(10.0)']);
    expect(issues('{ hour: 100, year: 99.5 }')).toEqual(['plugins[0].config: The limit for year(99.5) cannot be lower than the limit for hour(100.0)']);
  });

  it('refuses policy cluster with a clear message (DB-less, as Kong with database=off)', () => {
    const [msg] = issues('{ second: 1, policy: cluster }');
    expect(msg).toMatch(/^plugins\[0\]\.config\.policy: policy 'cluster' stores counters in Kong's database, and this gateway is DB-less/);
    expect(msg).toMatch(/use 'local'.*or 'redis'/);
  });

  it("checks sync_rate like Kong: redis only, -1 or at least 0.02", () => {
    expect(issues('{ second: 1, sync_rate: 1 }')).toEqual(['plugins[0].config.sync_rate: sync_rate can only be used with the redis policy']);
    expect(issues('{ second: 1, policy: redis, redis: { host: localhost }, sync_rate: 0.01 }')).toEqual([
      'plugins[0].config.sync_rate: sync_rate must be greater than 0.02, or -1 to disable',
    ]);
    expect(configOf('{ second: 1, policy: redis, redis: { host: localhost }, sync_rate: 0.5 }').sync_rate).toBe(0.5);
  });

  it('requires header_name, path and redis.host where limit_by or policy needs them', () => {
    expect(issues('{ second: 1, limit_by: header }')).toEqual(["plugins[0].config.header_name: required field missing (limit_by is 'header')"]);
    expect(issues('{ second: 1, limit_by: path }')).toEqual(["plugins[0].config.path: required field missing (limit_by is 'path')"]);
    expect(issues('{ second: 1, policy: redis }')).toEqual(["plugins[0].config.redis.host: required field missing (policy is 'redis')"]);
    expect(issues('{ second: 1, limit_by: header, header_name: "a b" }')[0]).toMatch(/bad header name/);
    expect(issues('{ second: 1, limit_by: path, path: "no-slash" }')).toEqual(['plugins[0].config.path: should start with: /']);
  });

  it('accepts the deprecated redis_* fields (Kong <= 3.5 configs) and maps them onto redis', () => {
    const c = configOf('{ second: 1, policy: redis, redis_host: cache.internal, redis_port: 6380, redis_password: pw, redis_database: 2, redis_timeout: 500 }');
    expect(redisSettings(c)).toEqual({
      host: 'cache.internal',
      port: 6380,
      timeout: 500,
      username: null,
      password: 'pw',
      database: 2,
      ssl: false,
      ssl_verify: false,
      server_name: null,
    });
    expect(issues('{ second: 1, policy: redis, redis: { host: a.internal }, redis_host: b.internal }')).toEqual([
      'plugins[0].config.redis_host: deprecated field (use redis.host); it conflicts with redis.host',
    ]);
  });

  it('takes error_code only as an HTTP status, and window_type only fixed or sliding', () => {
    expect(issues('{ second: 1, error_code: 700 }')).toEqual(['plugins[0].config.error_code: must be an HTTP status code (an integer from 100 to 599)']);
    expect(issues('{ second: 1, window_type: leaky }')).toEqual(['plugins[0].config.window_type: expected one of: fixed, sliding']);
  });
});

describe('rate-limiting handler: windows, headers, refusal (policy local)', () => {
  it("sends Kong's headers and refuses the request past the limit with 429 and Retry-After", () => {
    const h = handler('{ minute: 3, limit_by: ip }');
    const first = request();
    expect(sync(h, first)).toBeUndefined();
    expect(added(first)).toEqual({
      'X-RateLimit-Limit-Minute': '3',
      'X-RateLimit-Remaining-Minute': '2',
      'RateLimit-Limit': '3',
      'RateLimit-Remaining': '2',
      'RateLimit-Reset': '4', // 56 s into the minute
    });
    expect(statuses(h, 2)).toEqual([200, 200]);
    const refused = request();
    const v = sync(h, refused) as LocalReply;
    expect(v).toEqual({ status: 429, message: 'API rate limit exceeded', headers: [['Retry-After', '4']] });
    expect(added(refused)).toEqual({
      'X-RateLimit-Limit-Minute': '3',
      'X-RateLimit-Remaining-Minute': '0',
      'RateLimit-Limit': '3',
      'RateLimit-Remaining': '0',
      'RateLimit-Reset': '4',
    });
    // A refused request is not counted: the next minute starts from zero.
    vi.setSystemTime(NOW + 4000);
    const next = request();
    expect(sync(h, next)).toBeUndefined();
    expect(added(next)['X-RateLimit-Remaining-Minute']).toBe('2');
    expect(added(next)['RateLimit-Reset']).toBe('60');
  });

  it('reports every window and picks the most restrictive one for RateLimit-* (ties go to the longer window)', () => {
    const h = handler('{ second: 2, minute: 10, hour: 10 }');
    const a = request({ consumer: 'c1' });
    sync(h, a);
    expect(added(a)).toEqual({
      'X-RateLimit-Limit-Second': '2',
      'X-RateLimit-Remaining-Second': '1',
      'X-RateLimit-Limit-Minute': '10',
      'X-RateLimit-Remaining-Minute': '9',
      'X-RateLimit-Limit-Hour': '10',
      'X-RateLimit-Remaining-Hour': '9',
      'RateLimit-Limit': '2',
      'RateLimit-Remaining': '1',
      'RateLimit-Reset': '1',
    });
    sync(h, request({ consumer: 'c1' }));
    const c = request({ consumer: 'c1' });
    expect(sync(h, c)?.status).toBe(429);
    expect(added(c)['X-RateLimit-Remaining-Second']).toBe('0');
    expect(added(c)['X-RateLimit-Remaining-Minute']).toBe('8'); // not counted, and not the stopping window
    expect(added(c)['RateLimit-Reset']).toBe('1');
    // Minute and hour tie (9 left each): the longer window, the hour, is reported.
    const tie = handler('{ minute: 10, hour: 10 }');
    const d = request({ consumer: 'c2' });
    sync(tie, d);
    expect([added(d)['RateLimit-Limit'], added(d)['RateLimit-Remaining'], added(d)['RateLimit-Reset']]).toEqual(['10', '9', String(3600 - (34 * 60 + 56))]);
  });

  it('computes Reset to the end of the calendar month and year', () => {
    vi.setSystemTime(Date.UTC(2026, 1, 27, 0, 0, 0)); // February has 28 days in 2026
    const h = handler('{ month: 10, year: 100 }');
    const ctx = request();
    sync(h, ctx);
    expect(added(ctx)['RateLimit-Limit']).toBe('10');
    expect(added(ctx)['RateLimit-Reset']).toBe(String(2 * 86400));
  });

  it('hide_client_headers: no headers at all, and no Retry-After (as Kong); custom error_code and message', () => {
    const h = handler('{ second: 1, hide_client_headers: true, error_code: 503, error_message: slow down }');
    const a = request();
    expect(sync(h, a)).toBeUndefined();
    expect(a.extraResponseHeaders).toBeNull();
    const b = request();
    expect(sync(h, b)).toEqual({ status: 503, message: 'slow down' });
    expect(b.extraResponseHeaders).toBeNull();
  });

  it('sliding windows weigh the previous window by the share still inside the sliding window', () => {
    const h = handler('{ minute: 10, window_type: sliding, limit_by: ip }');
    vi.setSystemTime(Date.UTC(2026, 2, 10, 12, 0, 30));
    expect(statuses(h, 10)).toEqual(Array(10).fill(200));
    // 15 s into the next minute: 45/60 of the previous 10 still count (7.5): 2 fit, the third does not.
    vi.setSystemTime(Date.UTC(2026, 2, 10, 12, 1, 15));
    // 7.5 + 0, 8.5, 9.5 are below 10: three fit; 10.5 would not.
    expect(statuses(h, 3)).toEqual([200, 200, 200]);
    const refused = request();
    const v = sync(h, refused) as LocalReply;
    expect(v.status).toBe(429);
    // 3 + 10 * (45 - t) / 60 drops below 10 once more than 3 s have passed: Retry-After 4.
    expect(v.headers).toEqual([['Retry-After', '4']]);
    expect(added(refused)['X-RateLimit-Remaining-Minute']).toBe('0');
    // Later in the minute the previous window weighs less and requests fit again.
    vi.setSystemTime(Date.UTC(2026, 2, 10, 12, 1, 15) + Number(v.headers![0]![1]) * 1000);
    expect(statuses(h, 1)).toEqual([200]);
  });
});

describe('rate-limiting handler: identifiers and scope', () => {
  it('limit_by consumer (else credential), credential, ip, service, header (first of repeats), path (exact)', () => {
    const byConsumer = handler('{ second: 1 }');
    expect(statuses(byConsumer, 2, { consumer: 'c1', ip: '1.1.1.1' })).toEqual([200, 429]);
    expect(statuses(byConsumer, 1, { consumer: 'c2', ip: '1.1.1.1' })).toEqual([200]);
    expect(statuses(byConsumer, 2, { credential: 'k1' })).toEqual([200, 429]);

    const byCredential = handler('{ second: 1, limit_by: credential }');
    expect(statuses(byCredential, 2, { consumer: 'c9', credential: 'k7' })).toEqual([200, 429]);
    expect(statuses(byCredential, 1, { consumer: 'c9', credential: 'k8' })).toEqual([200]);

    const byIp = handler('{ second: 1, limit_by: ip }');
    expect(statuses(byIp, 2, { ip: '192.0.2.1' })).toEqual([200, 429]);
    expect(statuses(byIp, 1, { ip: '192.0.2.2' })).toEqual([200]);

    const byService = handler('{ second: 1, limit_by: service }');
    expect(statuses(byService, 2, { service: 's1', ip: '1.1.1.1' })).toEqual([200, 429]);
    expect(statuses(byService, 1, { service: 's2', ip: '1.1.1.1' })).toEqual([200]);

    const byHeader = handler('{ second: 1, limit_by: header, header_name: X-Tenant }');
    expect(statuses(byHeader, 2, { headers: { 'x-tenant': 'acme' } })).toEqual([200, 429]);
    expect(statuses(byHeader, 1, { headers: { 'x-tenant': 'acme, evil' }, repeated: ['x-tenant'] })).toEqual([429]);
    expect(statuses(byHeader, 1, { headers: { 'x-tenant': 'globex' } })).toEqual([200]);

    const byPath = handler('{ second: 1, limit_by: path, path: /orders }');
    expect(statuses(byPath, 2, { path: '/orders', ip: '5.5.5.5' })).toEqual([200, 429]);
    expect(statuses(byPath, 1, { path: '/orders', ip: '6.6.6.6' })).toEqual([429]);
  });

  it('without an identifier, counts by client IP (Kong) and says so in the log at most once a minute', () => {
    const env = makeEnv(table);
    const h = handler('{ second: 2, limit_by: consumer }', env);
    expect(statuses(h, 3, { ip: '203.0.113.9' })).toEqual([200, 200, 429]);
    expect(statuses(h, 1, { ip: '203.0.113.10' })).toEqual([200]);
    expect(env.warnings).toHaveLength(1);
    expect(env.warnings[0]!.msg).toMatch(/no consumer or credential.*counting these requests by client IP instead/);
    expect(env.warnings[0]!.obj).toMatchObject({ limit_by: 'consumer', route: ROUTE, service: SERVICE });
    vi.setSystemTime(NOW + 61_000);
    statuses(h, 1, { ip: '203.0.113.9' });
    expect(env.warnings).toHaveLength(2);
    expect(env.warnings[1]!.obj).toMatchObject({ sameSince: 3 });
    // A path other than the configured one is "no identifier" too.
    const env2 = makeEnv(table);
    const byPath = handler('{ second: 1, limit_by: path, path: /orders }', env2);
    expect(statuses(byPath, 2, { path: '/other', ip: '7.7.7.7' })).toEqual([200, 429]);
    expect(env2.warnings[0]!.msg).toMatch(/the path is not the configured one/);
  });

  it("keys counters by the instance's route and service (Kong): a service-level instance shares one counter across routes", () => {
    const onService = rateLimiting.create(configOf('{ second: 2, limit_by: ip }'), makeEnv(table, { route: null, service: SERVICE }));
    expect(statuses(onService, 1)).toEqual([200]);
    const sameOtherGeneration = rateLimiting.create(configOf('{ second: 2, limit_by: ip }'), makeEnv(table, { id: 'p2', route: null, service: SERVICE }));
    expect(statuses(sameOtherGeneration, 2)).toEqual([200, 429]);
    const onRoute = rateLimiting.create(configOf('{ second: 2, limit_by: ip }'), makeEnv(table, { route: ROUTE, service: null }));
    expect(statuses(onRoute, 2)).toEqual([200, 200]);
  });

  it('keeps counting across a reload (a new generation on the same table), even with another limit', () => {
    const before = handler('{ minute: 5, limit_by: ip }');
    expect(statuses(before, 3)).toEqual([200, 200, 200]);
    const after = handler('{ minute: 4, limit_by: ip }');
    expect(statuses(after, 2)).toEqual([200, 429]);
  });

  it('stays synchronous for policy local', () => {
    const h = handler('{ second: 5 }');
    expect(h.access!(request())).toBeUndefined();
  });

  it('with EMPTY_UUID for an instance without route or service (global)', () => {
    expect(EMPTY_UUID).toBe('00000000-0000-0000-0000-000000000000');
    const g1 = rateLimiting.create(configOf('{ second: 1, limit_by: ip }'), makeEnv(table, { route: null, service: null }));
    const g2 = rateLimiting.create(configOf('{ second: 1, limit_by: ip }'), makeEnv(table, { route: EMPTY_UUID, service: EMPTY_UUID }));
    expect([statuses(g1, 1), statuses(g2, 1)]).toEqual([[200], [429]]);
  });
});

describe('rate-limiting handler: policy redis (real redis-server)', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await closeRedisCounters();
    await redis?.stop();
  });
  beforeEach(async () => {
    vi.useRealTimers();
    await redis.command('FLUSHALL');
    // Each test counts within one minute: never start one in the last 6 s of a minute.
    const s = (Date.now() / 1000) % 60;
    if (s > 54) await new Promise((r) => setTimeout(r, (61 - s) * 1000));
  });

  const cfg = (extra = '') => `{ minute: 5, limit_by: ip, policy: redis, redis: { host: 127.0.0.1, port: ${redis.port}, timeout: 300 }${extra} }`;

  async function ready(h: PluginHandler): Promise<void> {
    // The connection is made at create(); until it is ready, decisions fall back at once.
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline) {
      const probe = request({ ip: '198.51.100.250' });
      const v = h.access!(probe);
      if (v instanceof Promise) {
        await v;
        return;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error('redis never became ready');
  }

  async function run(h: PluginHandler, n: number, r: Req = {}): Promise<number[]> {
    const out: number[] = [];
    for (let i = 0; i < n; i++) out.push((await h.access!(request(r)))?.status ?? 200);
    return out;
  }

  it("decides atomically in Redis with Kong's keys, exactly, and the same headers", async () => {
    const h = handler(cfg());
    await ready(h);
    const results = await Promise.all(Array.from({ length: 20 }, () => Promise.resolve(h.access!(request({ ip: '192.0.2.44' }))).then((v) => v?.status ?? 200)));
    expect(results.filter((s) => s === 200)).toHaveLength(5);
    expect(results.filter((s) => s === 429)).toHaveLength(15);
    const start = Math.floor(Date.now() / 60_000) * 60_000;
    const keys = await redis.command('KEYS ratelimit:*192.0.2.44*');
    expect(keys).toContain(`ratelimit:${ROUTE}:${SERVICE}:192.0.2.44:${start}:minute`);
    expect(await redis.command(`GET ratelimit:${ROUTE}:${SERVICE}:192.0.2.44:${start}:minute`)).toBe('$1\r\n5\r\n');
    const ttl = await redis.command(`PTTL ratelimit:${ROUTE}:${SERVICE}:192.0.2.44:${start}:minute`);
    expect(Number(ttl.slice(1))).toBeGreaterThan(0);
    expect(Number(ttl.slice(1))).toBeLessThanOrEqual(61_000);
    const ctx = request({ ip: '192.0.2.45' });
    await h.access!(ctx);
    expect(added(ctx)).toMatchObject({ 'X-RateLimit-Limit-Minute': '5', 'X-RateLimit-Remaining-Minute': '4', 'RateLimit-Remaining': '4' });
  });

  it('shares counters between two gateways with different config versions (no version in the keys)', async () => {
    const a = rateLimiting.create(configOf(cfg()), makeEnv(table));
    const b = rateLimiting.create(configOf(cfg(', error_message: other version')), makeEnv(new RateLimitTable(createRateLimitBuffer(64))));
    await ready(a);
    await ready(b);
    const got = [...(await run(a, 3, { ip: '192.0.2.60' })), ...(await run(b, 3, { ip: '192.0.2.60' }))];
    expect(got).toEqual([200, 200, 200, 200, 200, 429]);
  });

  it('Redis killed: fault_tolerant falls back to the shared table at once; otherwise 500 as Kong', async () => {
    const tolerant = handler(cfg());
    const strict = handler(cfg(', fault_tolerant: false'));
    await ready(tolerant);
    await ready(strict);
    await redis.kill();
    try {
      const env = makeEnv(table);
      const t2 = rateLimiting.create(configOf(cfg()), env);
      const started = Date.now();
      const statusesTolerant = await run(t2, 7, { ip: '192.0.2.70' });
      expect(statusesTolerant).toEqual([200, 200, 200, 200, 200, 429, 429]);
      expect(Date.now() - started).toBeLessThan(2000);
      expect(env.warnings.some((w) => /redis unavailable; counting on this node's shared counters/.test(w.msg))).toBe(true);
      expect(env.warnings.filter((w) => /redis unavailable/.test(w.msg))).toHaveLength(1);
      expect(await run(strict, 1, { ip: '192.0.2.71' })).toEqual([500]);
      const v = await strict.access!(request({ ip: '192.0.2.71' }));
      expect(v).toEqual({ status: 500, message: 'An unexpected error occurred' });
      void tolerant;
    } finally {
      await redis.restart();
    }
  });

  it('sliding windows read the previous window from Redis too', async () => {
    const h = handler(cfg(', window_type: sliding').replace('minute: 5', 'minute: 10'));
    await ready(h);
    const start = Math.floor(Date.now() / 60_000) * 60_000;
    await redis.command(`SET ratelimit:${ROUTE}:${SERVICE}:192.0.2.95:${start - 60_000}:minute 8`);
    const w = () => 1 - (Date.now() - start) / 60_000;
    const wStart = w();
    let allowed = 0;
    for (;;) {
      const v = await h.access!(request({ ip: '192.0.2.95' }));
      if (v !== undefined) break;
      allowed++;
    }
    const wEnd = w();
    // The last allowed request saw allowed - 1 + 8w < 10; the refused one allowed + 8w >= 10.
    expect(allowed - 1 + 8 * wEnd).toBeLessThan(10);
    expect(allowed + 8 * wStart).toBeGreaterThanOrEqual(10);
    expect(await redis.command(`GET ratelimit:${ROUTE}:${SERVICE}:192.0.2.95:${start}:minute`)).toBe(`$${String(allowed).length}\r\n${allowed}\r\n`);
  });

  it("a worker's first request waits for the first connection instead of failing", async () => {
    // A timeout no other test uses: a connection of its own, just created.
    const h = handler(`{ minute: 5, limit_by: ip, policy: redis, fault_tolerant: false, redis: { host: 127.0.0.1, port: ${redis.port}, timeout: 1234 } }`);
    const v = h.access!(request({ ip: '192.0.2.90' }));
    expect(v).toBeInstanceOf(Promise);
    expect(await v).toBeUndefined();
  });

  it('a Redis that never answers at start: 500 without fault_tolerant, local counters with it, within redis.timeout', async () => {
    const { freePort } = await import('../../../test/helpers/gateway.js');
    const dead = await freePort();
    const strict = handler(`{ second: 2, limit_by: ip, policy: redis, fault_tolerant: false, redis: { host: 127.0.0.1, port: ${dead}, timeout: 200 } }`);
    const started = Date.now();
    expect(await strict.access!(request())).toEqual({ status: 500, message: 'An unexpected error occurred' });
    expect(Date.now() - started).toBeLessThan(1000);
    const tolerant = handler(`{ minute: 2, limit_by: ip, policy: redis, redis: { host: 127.0.0.1, port: ${dead}, timeout: 200 } }`);
    const got = [];
    for (let i = 0; i < 3; i++) got.push((await tolerant.access!(request({ ip: '192.0.2.91' })))?.status ?? 200);
    expect(got).toEqual([200, 200, 429]);
  });

  it('sync_rate batches increments: decisions are local between syncs, totals meet in Redis', async () => {
    const h = handler(cfg(', sync_rate: 0.1'));
    await ready(h);
    // First decision for a key asks Redis; the next ones are synchronous.
    const first = h.access!(request({ ip: '192.0.2.80' }));
    expect(first).toBeInstanceOf(Promise);
    await first;
    const second = h.access!(request({ ip: '192.0.2.80' }));
    expect(second).toBeUndefined();
    await new Promise((r) => setTimeout(r, 300));
    const start = Math.floor(Date.now() / 60_000) * 60_000;
    expect(await redis.command(`GET ratelimit:${ROUTE}:${SERVICE}:192.0.2.80:${start}:minute`)).toBe('$1\r\n2\r\n');
  });
});

describe('integerText (remaining counts in headers)', () => {
  it('writes every count as String does, across the 1e9 split and up to 2^53', () => {
    const values = [0, 7, 999_999_999, 1_000_000_000, 1_000_000_001, 1_000_000_010, 5_999_999_999, 6_000_000_000, 12_345_678_901_234, Number.MAX_SAFE_INTEGER];
    for (let v = 999_999_990; v < 1_000_000_020; v++) values.push(v);
    for (let v = 4_000_000_000; v < 4_000_001_000; v += 37) values.push(v);
    for (const v of values) expect(integerText(v), String(v)).toBe(String(v));
  });
});
