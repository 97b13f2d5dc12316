/**
 * `key-auth-rate-limiting`: the key-auth scenario (1,000 consumers, every request with a valid
 * key) plus rate-limiting, policy local, limited by consumer with limits the bench never reaches.
 * Every request is one decision on the node's shared-memory table, and all of them land on the
 * same counter (one consumer), so both workers contend for the same bucket locks: the worst case
 * for the table. nginx gets the same key check plus `limit_req` on the key with a rate it never
 * reaches.
 */
import { nginxProxyLocation, type Scenario } from './types.js';

const CONSUMERS = 1000;
const KEY = 'bench-key-0500';
/** Requests per second and per minute no bench run gets near. */
const PER_SECOND = 100_000_000;

const keyAuthRateLimiting: Scenario = {
  name: 'key-auth-rate-limiting',
  description: `GET / with a valid apikey header: key-auth over ${CONSUMERS.toLocaleString('en-US')} consumers + rate-limiting (local, by consumer, never reached)`,
  request: { method: 'GET', path: '/', headers: { apikey: KEY } },
  baseline: 'plain',
  gatewayConfig: (ctx) => ({
    _format_version: '3.0',
    services: [{ name: 'origin', url: ctx.upstreamUrl, routes: [{ name: 'all', paths: ['/'] }] }],
    consumers: Array.from({ length: CONSUMERS }, (_, i) => ({
      username: `user-${i}`,
      keyauth_credentials: [{ key: `bench-key-${String(i).padStart(4, '0')}` }],
    })),
    plugins: [
      { name: 'key-auth', config: { key_names: ['apikey'] } },
      { name: 'rate-limiting', config: { second: PER_SECOND, minute: 60 * PER_SECOND, policy: 'local', limit_by: 'consumer' } },
    ],
  }),
  nginx: () => ({
    http: 'limit_req_zone $http_apikey zone=bench_rl:10m rate=1000000r/s;',
    server: nginxProxyLocation('/', `if ($http_apikey != "${KEY}") { return 401; }\nlimit_req zone=bench_rl burst=1000000 nodelay;`),
  }),
};

export default keyAuthRateLimiting;
