/**
 * The admin API (node:http, on the supervisor thread). Loopback only by default; when it
 * listens elsewhere a token is mandatory (enforced by the CLI) and compared in constant
 * time. This issue ships /status; config endpoints and metrics arrive with their issue.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { GatewaySettings, ListenAddress } from '../shared/settings.js';
import type { Supervisor } from './supervisor.js';

export const VERSION = '0.1.0';

function sha256(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

export class AdminServer {
  private readonly server: Server;
  private readonly supervisor: Supervisor;
  private readonly tokenDigest: Buffer | null;
  private readonly log: Logger;

  constructor(supervisor: Supervisor, settings: GatewaySettings, log: Logger) {
    this.supervisor = supervisor;
    this.log = log;
    // Compare digests so the comparison is constant-time whatever the token lengths.
    this.tokenDigest = settings.adminToken === null ? null : sha256(settings.adminToken);
    this.server = createServer((req, res) => this.handle(req, res));
    this.server.keepAliveTimeout = 5000;
  }

  get port(): number {
    return (this.server.address() as AddressInfo | null)?.port ?? 0;
  }

  listen(addr: ListenAddress): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(addr.port, addr.host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private authorized(req: IncomingMessage): boolean {
    if (this.tokenDigest === null) return true;
    const auth = req.headers['authorization'];
    const given =
      typeof auth === 'string' && auth.toLowerCase().startsWith('bearer ')
        ? auth.slice(7).trim()
        : (req.headers['portcullis-admin-token'] as string | undefined);
    if (given === undefined) return false;
    return timingSafeEqual(sha256(given), this.tokenDigest);
  }

  private send(res: ServerResponse, status: number, body: unknown): void {
    const text = JSON.stringify(body, null, 2);
    res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
    res.end(text);
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    if (!this.authorized(req)) {
      res.setHeader('WWW-Authenticate', 'Bearer realm="portcullis-admin"');
      this.send(res, 401, { message: 'Unauthorized' });
      return;
    }
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      this.send(res, 405, { message: 'Method not allowed' });
      return;
    }
    switch (path) {
      case '/status':
        this.send(res, 200, this.status());
        return;
      case '/':
        this.send(res, 200, { version: VERSION, tagline: 'Welcome to portcullis', node: process.version });
        return;
      default:
        this.send(res, 404, { message: 'Not found' });
    }
  }

  status(): unknown {
    const s = this.supervisor;
    return {
      version: VERSION,
      pid: process.pid,
      uptime_seconds: Math.round((Date.now() - s.startedAt) / 1000),
      configuration_hash: s.config.hash,
      configuration_version: s.configVersion,
      proxy_port: s.proxyPort,
      worker_restarts: s.workerRestarts,
      workers: [...s.workers.values()].map((w) => ({
        id: w.id,
        thread_id: w.worker.threadId,
        state: w.state,
        restarts: w.restarts,
        config_version: w.configVersion,
        uptime_seconds: Math.round((Date.now() - w.startedAt) / 1000),
      })),
      config: {
        services: s.config.services.length,
        routes: s.config.routes.length,
        consumers: s.config.consumers.length,
        plugins: s.config.plugins.length,
        upstreams: s.config.upstreams.length,
      },
    };
  }
}
