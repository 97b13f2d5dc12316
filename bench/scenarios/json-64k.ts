/**
 * `json-64k`: POST /orders with a 64 KB JSON order batch through the plain catch-all route, no
 * plugins: what moving a large request body costs. The baseline of json-64k-protected. nginx
 * proxies it with a body buffer large enough to keep it in memory.
 */
import { KIB, nginxLargeBodyLocation, ordersRequest } from '../lib/json-scenarios.js';
import type { Scenario } from './types.js';

const json64k: Scenario = {
  name: 'json-64k',
  description: 'POST /orders with a 64 KB JSON order batch, one catch-all route, no plugins',
  request: ordersRequest(64 * KIB),
  gatewayConfig: (ctx) => ({
    _format_version: '3.0',
    services: [{ name: 'origin', url: ctx.upstreamUrl, routes: [{ name: 'all', paths: ['/'] }] }],
  }),
  nginx: () => ({ server: nginxLargeBodyLocation(128 * KIB) }),
};

export default json64k;
