/**
 * The admin API (node:http, on the supervisor thread). Loopback only by default; when it
 * listens elsewhere a token is mandatory (enforced by the CLI) and compared in constant
 * time. Endpoints (docs/operations.md):
 *   GET  /status                      workers, config hash, uptime
 *   GET  /metrics                     Prometheus text (src/supervisor/metrics.ts)
 *   GET  /status/ready                200 once every worker serves a config, else 503
 *   GET  /services|routes|consumers|plugins|upstreams[/:id-or-name]
 *                                     Kong's {data, next} listings, secrets redacted
 *   GET  /config                      the running declarative config, secrets redacted
 *   POST /config                      Kong's DB-less reload: the body is the new config
 *   POST /reload                      re-read the config file (`portcullis reload`)
 *   POST /quit                        graceful stop (`portcullis quit`)
 *   POST /workers/:id/restart         replace one worker thread gracefully
 *   POST /debug/workers/:id/crash     only with PORTCULLIS_ENABLE_FAULT_INJECTION=1 (tests);
 *                                     ?kind=uncaught-exception (default) | exit
 * Routes are one table (`routes` below): a new endpoint is one more line.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { FAULT_KINDS, type FaultKind } from '../shared/protocol.js';
import type { GatewaySettings, ListenAddress } from '../shared/settings.js';
import { serveMetrics } from './metrics.js';
import type { ConfigIssue, GatewayConfig } from '../config/types.js';
import { ENTITY_TYPES, type EntityType } from './audit.js';
import { ConfigRejected, SupervisorError, type Supervisor, type WorkerHandle } from './supervisor.js';

/** Largest POST /config body accepted (413 above). */
export const MAX_CONFIG_BODY_BYTES = 64 * 1024 * 1024;
const DEFAULT_PAGE_SIZE = 100;
const MAX_PAGE_SIZE = 1000;

/** One admin request, as a route handler sees it. */
export interface AdminRequest {
  req: IncomingMessage;
  res: ServerResponse;
  method: string;
  path: string;
  query: URLSearchParams;
  params: string[];
}

interface Route {
  methods: readonly string[];
  pattern: RegExp;
  /** Returns nothing when it answered itself (asynchronously). */
  handle: (r: AdminRequest) => { status: number; body: unknown } | void;
}

export const VERSION = '0.1.0';

function sha256(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

export class AdminServer {
  private readonly server: Server;
  private readonly supervisor: Supervisor;
  private readonly tokenDigest: Buffer | null;
  private readonly log: Logger;
  /** The route table: first match wins; a path that matches with another method gets 405. */
  private readonly routes: Route[] = [
    { methods: ['GET', 'HEAD'], pattern: /^\/$/, handle: () => ({ status: 200, body: { version: VERSION, tagline: 'Welcome to portcullis', node: process.version } }) },
    { methods: ['GET', 'HEAD'], pattern: /^\/status$/, handle: () => ({ status: 200, body: this.status() }) },
    { methods: ['GET', 'HEAD'], pattern: /^\/status\/ready$/, handle: () => this.ready() },
    { methods: ['GET', 'HEAD'], pattern: /^\/metrics$/, handle: (r) => serveMetrics(this.supervisor, r.res, r.method === 'HEAD') },
    { methods: ['GET', 'HEAD'], pattern: /^\/(services|routes|consumers|plugins|upstreams)$/, handle: (r) => this.list(r.params[0] as EntityType, r.query) },
    { methods: ['GET', 'HEAD'], pattern: /^\/(services|routes|consumers|plugins|upstreams)\/([^/]+)$/, handle: (r) => this.one(r.params[0] as EntityType, decodeURIComponent(r.params[1]!)) },
    { methods: ['GET', 'HEAD', 'POST'], pattern: /^\/config$/, handle: (r) => (r.method === 'POST' ? this.postConfig(r) : { status: 200, body: { config: this.supervisor.redactor.config(this.supervisor.config) } }) },
    { methods: ['POST'], pattern: /^\/reload$/, handle: (r) => this.reloadFile(r) },
    { methods: ['POST'], pattern: /^\/quit$/, handle: () => this.quit() },
    { methods: ['POST'], pattern: /^\/workers\/(\d{1,6})\/restart$/, handle: (r) => this.restart(Number(r.params[0]), r.res) },
    { methods: ['POST'], pattern: /^\/debug\/workers\/(\d{1,6})\/crash$/, handle: (r) => this.crash(r) },
  ];

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
    const [path = '/', rawQuery = ''] = (req.url ?? '/').split('?');
    const query = new URLSearchParams(rawQuery);
    const routes = this.routes.filter((r) => r.pattern.test(path) && (this.supervisor.faultInjection || !r.pattern.source.startsWith('^\\/debug')));
    const route = routes.find((r) => r.methods.includes(method));
    if (!(method === 'POST' && path === '/config')) req.resume(); // only POST /config reads a body
    if (route === undefined) {
      req.resume();
      if (routes.length > 0) return this.notAllowed(res, [...new Set(routes.flatMap((r) => r.methods))].join(', '));
      return this.send(res, 404, { message: 'Not found' });
    }
    try {
      const r = route.handle({ req, res, method, path, query, params: route.pattern.exec(path)!.slice(1) });
      if (r !== undefined) this.send(res, r.status, r.body);
    } catch (err) {
      this.sendError(res, err);
    }
  }

  private notAllowed(res: ServerResponse, allow: string): void {
    res.setHeader('Allow', allow);
    this.send(res, 405, { message: 'Method not allowed' });
  }

  private sendError(res: ServerResponse, err: unknown): void {
    if (err instanceof ConfigRejected) this.send(res, 400, invalidConfigBody(err.issues));
    else if (err instanceof SupervisorError) this.send(res, err.status, { message: err.message });
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

  private crash(r: AdminRequest): { status: number; body: unknown } {
    const kind = (r.query.get('kind') ?? 'uncaught-exception') as FaultKind;
    if (!FAULT_KINDS.includes(kind)) return { status: 400, body: { message: `kind must be one of: ${FAULT_KINDS.join(', ')}` } };
    const h = this.supervisor.injectFault(Number(r.params[0]), kind);
    return { status: 202, body: { message: `fault injected: ${kind}`, worker: workerJson(h) } };
  }

  /** Kong's readiness probe: 200 once every worker serves a config, 503 before and while stopping. */
  private ready(): { status: number; body: unknown } {
    const s = this.supervisor;
    if (s.isReady) return { status: 200, body: { message: 'ready', configuration_hash: s.config.hash } };
    return { status: 503, body: { message: s.isShuttingDown ? 'shutting down' : 'no configuration loaded in every worker yet' } };
  }

  private entities(type: EntityType): Array<{ id: string }> {
    return this.supervisor.config[type] as Array<{ id: string }>;
  }

  private render(type: EntityType, e: { id: string }): unknown {
    const r = this.supervisor.redactor;
    if (type === 'consumers') return r.consumer(e as GatewayConfig['consumers'][number]);
    return r.value(e);
  }

  /** Kong's collection shape: `{data, next}`, `size` (1..1000, default 100) and an opaque `offset`. */
  private list(type: EntityType, query: URLSearchParams): { status: number; body: unknown } {
    const sizeRaw = query.get('size');
    const size = sizeRaw === null ? DEFAULT_PAGE_SIZE : Number(sizeRaw);
    if (!Number.isInteger(size) || size < 1 || size > MAX_PAGE_SIZE) {
      return { status: 400, body: { message: `size must be an integer from 1 to ${MAX_PAGE_SIZE}`, name: 'invalid size', code: 12 } };
    }
    const offsetRaw = query.get('offset');
    let start = 0;
    const tag = this.supervisor.config.hash.slice(0, 12);
    if (offsetRaw !== null) {
      const m = /^(\d+):([0-9a-f]{12})$/.exec(Buffer.from(offsetRaw, 'base64url').toString('utf8'));
      // The offset names the config it was made for: a page of a config reloaded since is refused, not silently shifted.
      if (m === null || m[2] !== tag) {
        return { status: 400, body: { message: 'invalid offset (or the config was reloaded since)', name: 'invalid offset', code: 12 } };
      }
      start = Number(m[1]);
    }
    const all = this.entities(type);
    const data = all.slice(start, start + size).map((e) => this.render(type, e));
    const end = start + size;
    if (end >= all.length) return { status: 200, body: { data, next: null } };
    const offset = Buffer.from(`${end}:${tag}`).toString('base64url');
    return { status: 200, body: { data, next: `/${type}?size=${size}&offset=${offset}`, offset } };
  }

  private one(type: EntityType, key: string): { status: number; body: unknown } {
    const byName = (e: { id: string }): boolean => {
      const n = e as { name?: string | null; username?: string | null; custom_id?: string | null; instance_name?: string | null };
      if (type === 'consumers') return n.username === key || n.custom_id === key;
      if (type === 'plugins') return n.instance_name === key;
      return n.name === key;
    };
    const all = this.entities(type);
    const found = all.find((e) => e.id === key) ?? all.find(byName);
    if (found === undefined) return { status: 404, body: { message: 'Not found' } };
    return { status: 200, body: this.render(type, found) };
  }

  /**
   * Kong's DB-less `POST /config`: the body is the declarative config (YAML or JSON), or a
   * JSON/form body whose `config` field holds it. 201 with the loaded entities (redacted),
   * 400 with every problem and its line:col, 409 during another reload. `?check_hash=1`:
   * 304 when the config is the one already running.
   */
  private postConfig(r: AdminRequest): void {
    const { req, res } = r;
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (c: Buffer) => {
      if (tooLarge) return;
      size += c.length;
      if (size > MAX_CONFIG_BODY_BYTES) {
        tooLarge = true;
        chunks.length = 0;
        return;
      }
      chunks.push(c);
    });
    req.on('error', () => undefined);
    req.on('end', () => {
      if (tooLarge) return this.send(res, 413, { message: `the config is larger than ${MAX_CONFIG_BODY_BYTES} bytes` });
      const text = configFromBody(Buffer.concat(chunks).toString('utf8'), String(req.headers['content-type'] ?? ''));
      if (text === null || text.trim() === '') {
        return this.send(res, 400, { code: 14, name: 'invalid declarative configuration', message: "expected a declarative config in the body (YAML or JSON), or in a 'config' field" });
      }
      const checkHash = ['1', 'true'].includes(r.query.get('check_hash') ?? '');
      this.supervisor.reload({ source: 'admin', client: req.socket.remoteAddress ?? null, text, fileName: '<admin>' }).then(
        (out) => {
          if (!out.changed && checkHash) {
            res.writeHead(304);
            res.end();
            return;
          }
          const red = this.supervisor.redactor;
          const c = out.config;
          this.send(res, 201, {
            configuration_hash: c.hash,
            configuration_version: out.version,
            changed: out.changed,
            services: c.services.map((e) => red.value(e)),
            routes: c.routes.map((e) => red.value(e)),
            consumers: c.consumers.map((e) => red.consumer(e)),
            plugins: c.plugins.map((e) => red.value(e)),
            upstreams: c.upstreams.map((e) => red.value(e)),
          });
        },
        (err: unknown) => this.sendError(res, err),
      );
    });
  }

  /** `portcullis reload`: re-read the config file (or the embedded default). */
  private reloadFile(r: AdminRequest): void {
    this.supervisor.reload({ source: 'cli', client: r.req.socket.remoteAddress ?? null }).then(
      (out) =>
        this.send(r.res, 200, {
          message: out.changed ? 'config reloaded' : 'config unchanged',
          changed: out.changed,
          configuration_hash: out.config.hash,
          configuration_version: out.version,
        }),
      (err: unknown) => this.sendError(r.res, err),
    );
  }

  private quit(): { status: number; body: unknown } {
    const quit = this.supervisor.onQuit;
    if (quit === null) throw new SupervisorError(501, 'this process cannot be stopped from the admin API');
    // Answer first: the drain closes this server at its end.
    setImmediate(() => quit('admin quit'));
    return { status: 202, body: { message: 'stopping: draining in-flight requests', pid: process.pid } };
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
      ready: s.isReady,
      config_reloads: s.configReloads,
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
    tid: w.tid,
    cpu: w.cpu,
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

/** The declarative config carried by a POST /config body (Kong accepts it raw or in a `config` field). */
export function configFromBody(body: string, contentType: string): string | null {
  const type = contentType.split(';')[0]!.trim().toLowerCase();
  // `curl --data-binary @kong.yml` sends the file as form-urlencoded: only `config=...` is a form.
  if (type === 'application/x-www-form-urlencoded' && body.startsWith('config=')) return new URLSearchParams(body).get('config');
  if (type === 'multipart/form-data') return multipartField(body, contentType, 'config');
  // `{"config": "..."}`: a declarative config never has a top-level `config` key. Only a
  // body that starts like that is parsed here; the config itself is parsed off this thread.
  if (/^\s*\{\s*"config"\s*:/.test(body)) {
    try {
      const wrapped = JSON.parse(body) as { config?: unknown };
      if (typeof wrapped.config === 'string') return wrapped.config;
      if (wrapped.config !== null && typeof wrapped.config === 'object') return JSON.stringify(wrapped.config);
    } catch {
      // not JSON after all: the loader reports the syntax error with its position
    }
  }
  return body;
}

/** The `name` field of a multipart/form-data body (`curl -F config=@kong.yml`), or null. */
function multipartField(body: string, contentType: string, name: string): string | null {
  const m = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(contentType);
  const boundary = m?.[1] ?? m?.[2];
  if (boundary === undefined) return null;
  for (const part of body.split(`--${boundary.trim()}`)) {
    const headEnd = part.indexOf('\r\n\r\n');
    if (headEnd < 0) continue;
    const head = part.slice(0, headEnd);
    if (!new RegExp(`name="${name}"`, 'i').test(head)) continue;
    return part.slice(headEnd + 4).replace(/\r\n$/, '');
  }
  return null;
}

/** Kong-like 400 body for an invalid declarative config, every issue with its position. */
export function invalidConfigBody(issues: readonly ConfigIssue[]): unknown {
  const fields: Record<string, string[]> = {};
  for (const i of issues) (fields[i.path === '' ? '@entity' : i.path] ??= []).push(i.message);
  return {
    code: 14,
    name: 'invalid declarative configuration',
    message: `declarative config is invalid: ${issues.map((i) => `${i.line}:${i.col}: ${i.path ? `${i.path}: ` : ''}${i.message}`).join('; ')}`,
    fields,
    flattened_errors: issues.map((i) => ({ line: i.line, col: i.col, path: i.path, message: i.message, location: `${i.file}:${i.line}:${i.col}` })),
  };
}

export { ENTITY_TYPES };
