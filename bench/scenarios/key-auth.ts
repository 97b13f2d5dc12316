/**
 * `key-auth`: the plain proxy plus key-auth with 1,000 consumers (one key each); every request
 * carries a valid key. nginx's equivalent compares the header to one constant, which is less work
 * than a lookup among 1,000 keys: the comparison flatters nginx, not us.
 */
import { nginxProxyLocation, type Scenario } from './types.js';

const CONSUMERS = 1000;
const KEY = 'bench-key-0500';

const keyAuth: Scenario = {
  name: 'key-auth',
  description: `GET / with a valid apikey header, key-auth over ${CONSUMERS.toLocaleString('en-US')} consumers`,
  request: { method: 'GET', path: '/', headers: { apikey: KEY } },
  baseline: 'plain',
  gatewayConfig: (ctx) => ({
    _format_version: '3.0',
    services: [{ name: 'origin', url: ctx.upstreamUrl, routes: [{ name: 'all', paths: ['/'] }] }],
    consumers: Array.from({ length: CONSUMERS }, (_, i) => ({
      username: `user-${i}`,
      keyauth_credentials: [{ key: `bench-key-${String(i).padStart(4, '0')}` }],
    })),
    plugins: [{ name: 'key-auth', config: { key_names: ['apikey'] } }],
  }),
  nginx: () => ({
    server: nginxProxyLocation('/', `if ($http_apikey != "${KEY}") { return 401; }`),
  }),
};

export default keyAuth;
