/**
 * `rate-limiting-redis`: the plain proxy plus rate-limiting with policy redis (one Lua script
 * per request), limited by client IP with a limit the bench never reaches. The bench starts a
 * private redis-server for it (`needs: ['redis']`), or uses yours:
 *
 *   PORTCULLIS_BENCH_REDIS=127.0.0.1:6379 npm run bench -- --scenario rate-limiting-redis
 *
 * fault_tolerant is off on purpose: without a Redis every request answers 500, so the bench's
 * preflight fails loudly instead of silently measuring the local fallback. nginx has no
 * equivalent (no Redis client in nginx-light): no nginx row.
 */
import type { Scenario } from './types.js';

const rateLimitingRedis: Scenario = {
  name: 'rate-limiting-redis',
  description: 'GET / + rate-limiting (policy redis, by IP, never reached); a private redis-server, or PORTCULLIS_BENCH_REDIS',
  request: { method: 'GET', path: '/' },
  baseline: 'plain',
  needs: ['redis'],
  gatewayConfig: (ctx) => {
    if (ctx.redis === null) throw new Error('rate-limiting-redis needs a Redis (the bench provides one)');
    return {
      _format_version: '3.0',
      services: [{ name: 'origin', url: ctx.upstreamUrl, routes: [{ name: 'all', paths: ['/'] }] }],
      plugins: [
        {
          name: 'rate-limiting',
          config: { second: 100_000_000, limit_by: 'ip', policy: 'redis', fault_tolerant: false, redis: { host: ctx.redis.host, port: ctx.redis.port, timeout: 2000 } },
        },
      ],
    };
  },
  nginx: null,
};

export default rateLimitingRedis;
