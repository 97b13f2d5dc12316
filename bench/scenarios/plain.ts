/** `plain`: one service, one catch-all route, no plugins. The proxy path and nothing else. */
import { nginxProxyLocation, type Scenario } from './types.js';

const plain: Scenario = {
  name: 'plain',
  description: 'GET / through one service + one catch-all route, no plugins',
  request: { method: 'GET', path: '/' },
  gatewayConfig: (ctx) => ({
    _format_version: '3.0',
    services: [{ name: 'origin', url: ctx.upstreamUrl, routes: [{ name: 'all', paths: ['/'] }] }],
  }),
  nginx: () => ({ server: nginxProxyLocation('/') }),
};

export default plain;
