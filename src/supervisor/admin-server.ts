/**
 * The admin API (node:http, on the supervisor thread). Loopback only by default; when it
 * listens elsewhere a token is mandatory (enforced by the CLI) and compared in constant
 * time. Endpoints (docs/operations.md):
 *   GET  /status                      workers, config hash, uptime
 *   POST /workers/:id/restart         replace one worker thread gracefully
 *   POST /debug/workers/:id/crash     only with PORTCULLIS_ENABLE_FAULT_INJECTION=1 (tests);
 *                                     ?kind=uncaught-exception (default) | exit
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { FAULT_KINDS, type FaultKind } from '../shared/protocol.js';
import type { GatewaySettings, ListenAddress } from '../shared/settings.js';
import { SupervisorError, type Supervisor, type WorkerHandle } from './supervisor.js';

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
    // Without a token the API trusts whoever can reach loopback; a web page in a local
    // browser can reach it too. DNS rebinding shows up as a foreign Host, a cross-site
    // form or fetch as an Origin header: refuse both (curl and scripts send neither).
    if (this.tokenDigest === null && !isLoopbackHost(req.headers.host)) {
      this.send(res, 403, { message: 'Forbidden: the admin API answers loopback host names only (or set --admin-token)' });
      return;
    }
    const method = req.method ?? 'GET';
    const reading = method === 'GET' || method === 'HEAD';
    if (!reading && req.headers.origin !== undefined) {
      this.send(res, 403, { message: 'Forbidden: cross-origin requests cannot change the gateway' });
      return;
    }
    req.resume(); // no endpoint reads a request body
    const [path = '/', query = ''] = (req.url ?? '/').split('?');
    if (path === '/status' || path === '/') {
      if (!reading) return this.notAllowed(res, 'GET, HEAD');
      this.send(res, 200, path === '/status' ? this.status() : { version: VERSION, tagline: 'Welcome to portcullis', node: process.version });
      return;
    }
    const restart = /^\/workers\/(\d{1,6})\/restart$/.exec(path);
    if (restart !== null) {
      if (method !== 'POST') return this.notAllowed(res, 'POST');
      this.restart(Number(restart[1]), res);
      return;
    }
    const crash = /^\/debug\/workers\/(\d{1,6})\/crash$/.exec(path);
    if (crash !== null && this.supervisor.faultInjection) {
      if (method !== 'POST') return this.notAllowed(res, 'POST');
      const kind = (new URLSearchParams(query).get('kind') ?? 'uncaught-exception') as FaultKind;
      if (!FAULT_KINDS.includes(kind)) {
        this.send(res, 400, { message: `kind must be one of: ${FAULT_KINDS.join(', ')}` });
        return;
      }
      this.answer(res, () => {
        const h = this.supervisor.injectFault(Number(crash[1]), kind);
        return { status: 202, body: { message: `fault injected: ${kind}`, worker: workerJson(h) } };
      });
      return;
    }
    this.send(res, 404, { message: 'Not found' });
  }

  private notAllowed(res: ServerResponse, allow: string): void {
    res.setHeader('Allow', allow);
    this.send(res, 405, { message: 'Method not allowed' });
  }

  private answer(res: ServerResponse, fn: () => { status: number; body: unknown }): void {
    try {
      const r = fn();
      this.send(res, r.status, r.body);
    } catch (err) {
      this.sendError(res, err);
    }
  }

  private sendError(res: ServerResponse, err: unknown): void {
    if (err instanceof SupervisorError) this.send(res, err.status, { message: err.message });
    else {
      this.log.error({ err }, 'admin request failed');
      this.send(res, 500, { message: 'An unexpected error occurred' });
    }
  }

  private restart(id: number, res: ServerResponse): void {
    this.supervisor.restartWorker(id).then(
      (h) => this.send(res, 200, { message: 'worker restarted; the previous thread is draining', worker: workerJson(h) }),
      (err: unknown) => this.sendError(res, err),
    );
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
      shutting_down: s.isShuttingDown,
      worker_restarts: s.workerRestarts,
      worker_failures: s.workerFailures,
      workers: [...s.workers.values()].map(workerJson),
      draining_workers: [...s.retiring].map(workerJson),
      ...(s.faultInjection ? { fault_injection: true } : {}),
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

function workerJson(w: WorkerHandle): unknown {
  return {
    id: w.id,
    thread_id: w.threadId,
    state: w.state,
    restarts: w.restarts,
    config_version: w.configVersion,
    uptime_seconds: Math.round((Date.now() - w.startedAt) / 1000),
    last_replacement:
      w.lastReplacement === null
        ? null
        : { reason: w.lastReplacement.reason, previous_thread_id: w.lastReplacement.previousThreadId, at: new Date(w.lastReplacement.at).toISOString() },
  };
}

/** Host header names that can only mean this machine (no port, or any port). */
export function isLoopbackHost(host: string | undefined): boolean {
  if (host === undefined || host === '') return true;
  const m = /^(?:\[([^\]]+)\]|([^:]+))(?::\d+)?$/.exec(host.trim().toLowerCase());
  const name = m?.[1] ?? m?.[2];
  if (name === undefined) return false;
  if (name === 'localhost' || name === '::1') return true;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(name);
}
