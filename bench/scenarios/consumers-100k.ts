/**
 * `consumers-100k`: key-auth with 100,000 consumers (one key each), the requests' keys spread over
 * all of them (stride order). What a large credential table costs per request, and how long such
 * a config takes to load (the gateway gets 120 s). nginx's equivalent is a `map` of the 100,000
 * keys (a hash lookup, like ours) and a 401 when the key is not in it.
 */
import { nginxProxyLocation, type BenchRequest, type Scenario } from './types.js';

const CONSUMERS = 100_000;
/** Coprime with CONSUMERS. */
const STRIDE = 7919;

const keyOf = (i: number): string => `bench-key-${String(i).padStart(6, '0')}`;
const requestFor = (i: number): BenchRequest => ({ method: 'GET', path: '/', headers: { apikey: keyOf((i * STRIDE) % CONSUMERS) } });

const consumers100k: Scenario = {
  name: 'consumers-100k',
  description: `GET / with an apikey header, key-auth over ${CONSUMERS.toLocaleString('en-US')} consumers, keys spread over all of them`,
  request: requestFor(0),
  spread: { count: CONSUMERS, at: requestFor },
  baseline: 'key-auth',
  readyTimeoutSec: 120,
  gatewayConfig: (ctx) => ({
    _format_version: '3.0',
    services: [{ name: 'origin', url: ctx.upstreamUrl, routes: [{ name: 'all', paths: ['/'] }] }],
    consumers: Array.from({ length: CONSUMERS }, (_, i) => ({ username: `user-${i}`, keyauth_credentials: [{ key: keyOf(i) }] })),
    plugins: [{ name: 'key-auth', config: { key_names: ['apikey'] } }],
  }),
  nginx: () => ({
    http: [
      'map_hash_max_size 262144;',
      'map_hash_bucket_size 64;',
      'map $http_apikey $bench_key_ok {',
      '  default 0;',
      ...Array.from({ length: CONSUMERS }, (_, i) => `  ${keyOf(i)} 1;`),
      '}',
    ].join('\n'),
    server: nginxProxyLocation('/', 'if ($bench_key_ok = 0) { return 401; }'),
  }),
};

export default consumers100k;
