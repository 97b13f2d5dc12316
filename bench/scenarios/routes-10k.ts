/**
 * `routes-10k`: 10,000 prefix routes on one service; the requests walk the whole table (route i
 * is hit by GET /api/v1/resource-<i>/item, in a stride order so neighbours in time are far apart
 * in the table). What a large router costs per request. nginx gets the same 10,000 prefix
 * `location`s, each with `proxy_pass http://origin/` (which strips the prefix, as strip_path does).
 */
import type { BenchRequest, Scenario } from './types.js';

const ROUTES = 10_000;
/** Coprime with ROUTES: i -> i * STRIDE mod ROUTES visits every route once per cycle. */
const STRIDE = 7919;

const routePath = (i: number): string => `/api/v1/resource-${i}/`;
const requestFor = (i: number): BenchRequest => ({ method: 'GET', path: `${routePath((i * STRIDE) % ROUTES)}item` });

const routes10k: Scenario = {
  name: 'routes-10k',
  description: `GET over ${ROUTES.toLocaleString('en-US')} prefix routes (one service), requests spread over the whole table`,
  request: requestFor(0),
  spread: { count: ROUTES, at: requestFor },
  baseline: 'plain',
  readyTimeoutSec: 60,
  gatewayConfig: (ctx) => ({
    _format_version: '3.0',
    services: [
      {
        name: 'origin',
        url: ctx.upstreamUrl,
        routes: Array.from({ length: ROUTES }, (_, i) => ({ name: `resource-${i}`, paths: [routePath(i)] })),
      },
    ],
  }),
  nginx: () => ({
    server: [
      'proxy_http_version 1.1;',
      'proxy_set_header Connection "";',
      ...Array.from({ length: ROUTES }, (_, i) => `location ${routePath(i)} { proxy_pass http://origin/; }`),
    ].join('\n'),
  }),
};

export default routes10k;
