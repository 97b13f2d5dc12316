/**
 * `rate-limiting-redis`: the plain proxy plus rate-limiting with policy redis (one Lua script
 * per request), limited by client IP with a limit the bench never reaches. It needs a Redis the
 * bench does not start itself:
 *
 *   redis-server --port 6379 --save '' --appendonly no &      # or any reachable Redis
 *   PORTCULLIS_BENCH_REDIS=127.0.0.1:6379 npm run bench -- --scenario rate-limiting-redis --peer none
 *
 * fault_tolerant is off on purpose: without a Redis every request answers 500, so the bench's
 * preflight fails loudly instead of silently measuring the local fallback. nginx has no
 * equivalent (no Redis client in nginx-light): the gateway runs alone.
 */
import type { Scenario } from './types.js';

function redisAddress(): { host: string; port: number } {
  const raw = process.env.PORTCULLIS_BENCH_REDIS ?? '127.0.0.1:6379';
  const at = raw.lastIndexOf(':');
  const port = Number(raw.slice(at + 1));
  if (at <= 0 || !Number.isInteger(port) || port < 1 || port > 65535) throw new Error(`PORTCULLIS_BENCH_REDIS: expected HOST:PORT, got '${raw}'`);
  return { host: raw.slice(0, at), port };
}

const rateLimitingRedis: Scenario = {
  name: 'rate-limiting-redis',
  description: 'GET / + rate-limiting (policy redis, by IP, never reached); Redis at PORTCULLIS_BENCH_REDIS (default 127.0.0.1:6379)',
  request: { method: 'GET', path: '/' },
  gatewayConfig: (ctx) => ({
    _format_version: '3.0',
    services: [{ name: 'origin', url: ctx.upstreamUrl, routes: [{ name: 'all', paths: ['/'] }] }],
    plugins: [
      {
        name: 'rate-limiting',
        config: { second: 100_000_000, limit_by: 'ip', policy: 'redis', fault_tolerant: false, redis: { ...redisAddress(), timeout: 2000 } },
      },
    ],
  }),
  nginx: null,
};

export default rateLimitingRedis;
