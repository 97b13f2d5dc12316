/**
 * The nginx peer: `proxy_pass` to the same origin through an `upstream {}` block with a keep-alive
 * pool (`keepalive 64`, HTTP/1.1, `Connection ""`), access log off, the same worker count as the
 * gateway, running in the foreground with every path in its own temp dir.
 */
import { freePort } from '../lib/net.js';
import { findNginx, NGINX_INSTALL_HINT, startNginx, type NginxInfo } from '../lib/nginx.js';
import { nginxProxyLocation } from '../scenarios/types.js';
import type { Peer, PeerContext, RunningPeer } from './types.js';

export function nginxPeer(info: NginxInfo | null = findNginx()): Peer {
  return {
    name: 'nginx',
    describe: (ctx) => `nginx ${info?.version ?? '?'} proxy_pass (keepalive 64), ${ctx.workers} worker process(es)`,
    unavailable: (ctx) => {
      if (info === null) return `nginx is not installed; ${NGINX_INSTALL_HINT}`;
      if (ctx.scenario.nginx === null) return `scenario '${ctx.scenario.name}' has no nginx equivalent`;
      return null;
    },
    async start(ctx: PeerContext): Promise<RunningPeer> {
      if (info === null) throw new Error(`nginx is not installed; ${NGINX_INSTALL_HINT}`);
      const setup = ctx.scenario.nginx ? ctx.scenario.nginx(ctx.scenarioCtx) : { server: nginxProxyLocation('/') };
      const port = await freePort();
      const http = `upstream origin {
  server 127.0.0.1:${ctx.upstream.port};
  keepalive 64;
  keepalive_requests 1000000;
  keepalive_timeout 75s;
}
${setup.http ?? ''}`;
      const running = await startNginx('peer', info, { workers: ctx.workers, port, http, server: setup.server }, ctx.scenario.request.path);
      return {
        port,
        pid: running.proc.pid,
        died: () => (running.proc.hasExited() ? 'nginx exited during the run' : null),
        stop: running.stop,
      };
    },
  };
}
