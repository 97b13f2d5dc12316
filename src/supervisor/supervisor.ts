/**
 * The supervisor (main thread): owns the config and the worker threads. It loads and
 * validates the config, starts N workers that each listen on the shared proxy port, feeds
 * them the config, replaces any worker that dies, serves the admin API, and on SIGTERM
 * drains every worker before exiting 0.
 *
 * Worker slots: `workers` maps a slot id (0..N-1) to the thread currently serving it. A
 * slot's thread is replaced
 * - on request (admin `POST /workers/:id/restart`): the new thread starts and listens
 *   first, then the old one drains, so capacity never drops;
 * - when a worker reports an uncaught exception (`fatal`): it has already stopped
 *   accepting and drains its in-flight requests; a new thread takes the slot meanwhile;
 * - when a thread exits without being asked to (crash): a new thread takes the slot.
 * Unplanned replacements back off when a slot keeps failing soon after starting.
 *
 * A thread must never exit while its uWS listen socket or app is open: that aborts the
 * whole process (stack-facts.md). Workers therefore close uWS themselves before exiting,
 * and the supervisor never calls worker.terminate() except as a last resort at shutdown.
 */
import { readFileSync, watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { basename, dirname, resolve as resolvePath } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import { DEFAULT_CONFIG_YAML } from '../config/default-config.js';
import { PasswordProtector } from '../config/protect-passwords.js';
import type { ConfigIssue, GatewayConfig } from '../config/types.js';
import { compactAfterReload } from '../shared/compact-after-reload.js';
import type { FaultKind, FromWorker, ToWorker, WorkerData } from '../shared/protocol.js';
import type { GatewaySettings } from '../shared/settings.js';
import { createMetricsBuffer } from '../shared/shm/metrics.js';
import { createRateLimitBuffer, DEFAULT_RATE_LIMIT_SLOTS, MAX_RATE_LIMIT_SLOTS } from '../shared/shm/rate-limit-table.js';
import { AdminServer } from './admin-server.js';
import { AuditLog, diffSummary, type ConfigSource } from './audit.js';
import { ConfigLoader } from './config-loader.js';
import { Redactor } from './redact.js';

const WORKER_SCRIPT = new URL('../../workers/worker.js', import.meta.url);
/** Delay before an unplanned replacement, by how many times in a row the slot failed soon after starting. */
const RESPAWN_BACKOFF_MS = [0, 100, 500, 1000, 5000];
/** A worker that dies within this long of starting counts towards a crash loop. */
const CRASH_LOOP_WINDOW_MS = 10_000;

/** How long every worker gets to compile and swap in a new config before the reload is rolled back. */
const APPLY_TIMEOUT_MS = 15_000;
/** File-watch events within this long are one reload (editors write a file in several steps). */
const WATCH_DEBOUNCE_MS = 150;

/** Environment switch for the test-only fault injection endpoint (docs/operations.md). */
export const FAULT_INJECTION_ENV = 'PORTCULLIS_ENABLE_FAULT_INJECTION';

/** Environment variable sizing the rate-limit counter table (slots; rounded up to a power of two). */
export const RATE_LIMIT_SLOTS_ENV = 'PORTCULLIS_RATE_LIMIT_SLOTS';

/** Slots of the rate-limit table from the environment (default 1,048,576 = 64 MiB). */
export function rateLimitSlots(env: NodeJS.ProcessEnv): number {
  const raw = (env[RATE_LIMIT_SLOTS_ENV] ?? '').trim();
  if (raw === '') return DEFAULT_RATE_LIMIT_SLOTS;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(n) || n < 1 || n > MAX_RATE_LIMIT_SLOTS) {
    throw new Error(`${RATE_LIMIT_SLOTS_ENV}: expected an integer from 1 to ${MAX_RATE_LIMIT_SLOTS}, got '${raw}'`);
  }
  return n;
}

export function faultInjectionEnabled(env: NodeJS.ProcessEnv): boolean {
  const v = (env[FAULT_INJECTION_ENV] ?? '').toLowerCase();
  return v === '1' || v === 'true' || v === 'yes' || v === 'on';
}

export type WorkerState = 'starting' | 'ready' | 'draining' | 'exited';

/** Why a slot got its current thread. */
export interface Replacement {
  reason: string;
  previousThreadId: number;
  at: number;
}

export interface WorkerHandle {
  readonly id: number;
  worker: Worker;
  readonly threadId: number;
  state: WorkerState;
  /** Replacements of this slot so far (requested or not). */
  restarts: number;
  startedAt: number;
  configVersion: number;
  /** Unplanned failures of this slot in a row, each soon after starting (back-off index). */
  crashStreak: number;
  /** Set once a replacement has been started or scheduled: this thread is on its way out. */
  replaced: boolean;
  /** An unplanned exit before listening schedules another attempt (not at start-up or on request). */
  readonly retryOnEarlyExit: boolean;
  lastReplacement: Replacement | null;
  exitCode: number | null;
  readonly exited: Promise<void>;
  /** Version of the last config posted to this thread. */
  postedVersion: number;
  /** Reloads waiting for this thread to apply a version: called with null on success, else the error. */
  readonly applyWaiters: Map<number, (error: string | null) => void>;
  /** The core the thread pinned itself to (--cpu-affinity), null when unpinned; and its kernel thread id. */
  cpu: number | null;
  tid: number | null;
}

/** Supervisor options beyond the shared GatewaySettings. */
export interface SupervisorOptions {
  /** Reload when the config file changes (--watch-config). */
  watchConfig: boolean;
  /** Also append audit lines to this file (--audit-log). */
  auditLog: string | null;
  /** Values the startup config's vault references resolved to (redacted by the admin API). */
  vaultSecrets: string[];
}

/** A reload request. `text` (POST /config) replaces re-reading the config file. */
export interface ReloadRequest {
  source: ConfigSource;
  client?: string | null;
  text?: string;
  fileName?: string;
}

export interface ReloadOutcome {
  changed: boolean;
  config: GatewayConfig;
  version: number;
}

/** A config that failed parsing or validation: the running one keeps serving. */
export class ConfigRejected extends Error {
  constructor(readonly issues: ConfigIssue[]) {
    super(`the config has ${issues.length} error(s)`);
  }
}

/** An admin request the supervisor refuses, with the HTTP status to answer. */
export class SupervisorError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

interface SpawnOptions {
  restarts: number;
  crashStreak: number;
  retryOnEarlyExit: boolean;
  lastReplacement: Replacement | null;
}

export class Supervisor {
  readonly startedAt = Date.now();
  readonly workers = new Map<number, WorkerHandle>();
  /** Replaced threads still draining. */
  readonly retiring = new Set<WorkerHandle>();
  /** Every thread not yet exited, whatever its slot or state: shutdown waits for all of them. */
  private readonly live = new Set<WorkerHandle>();
  config: GatewayConfig;
  /** Same instance across reloads: unchanged basic-auth passwords are not hashed again. */
  private readonly passwords = new PasswordProtector();
  configVersion = 1;
  /** Last version handed out (reload attempts included, so a rolled-back one is never reused). */
  private lastVersion = 1;
  /** Redacts the current config for the admin API. */
  redactor: Redactor;
  private readonly options: SupervisorOptions;
  private readonly loader: ConfigLoader;
  readonly audit: AuditLog;
  /** The reload in progress, if any; reloads never overlap. */
  private reloading: Promise<ReloadOutcome> | null = null;
  /** A SIGHUP or file change that arrived during a reload: one more reload runs after it. */
  private queuedReload: ConfigSource | null = null;
  private watcher: FSWatcher | null = null;
  private watchTimer: NodeJS.Timeout | null = null;
  /** Reloads applied since start. */
  configReloads = 0;
  /** POST /quit: the CLI wires it to the same stop path as SIGTERM. */
  onQuit: ((reason: string) => void) | null = null;
  /** Threads started to replace another (requested or not). */
  workerRestarts = 0;
  /** Threads that died or failed without being asked to. */
  workerFailures = 0;
  readonly faultInjection: boolean;
  private readonly settings: GatewaySettings;
  private readonly log: Logger;
  private admin: AdminServer | null = null;
  private shuttingDown = false;
  private started = false;
  /** The proxy port the workers share (resolved when the configured one is 0). */
  private listeningPort = 0;
  private readonly env: NodeJS.ProcessEnv;
  /**
   * The node's rate-limit counters (src/shared/shm/rate-limit-table.ts), created once at
   * start and given to every worker thread, replacements included: they outlive config
   * reloads and worker restarts.
   */
  private rateLimitBuffer: SharedArrayBuffer | null = null;
  /** The node's request metrics (src/shared/shm/metrics.ts), created once like the rate-limit table. */
  metricsBuffer: SharedArrayBuffer | null = null;

  constructor(
    settings: GatewaySettings,
    config: GatewayConfig,
    log: Logger,
    env: NodeJS.ProcessEnv = process.env,
    options: SupervisorOptions = { watchConfig: false, auditLog: null, vaultSecrets: [] },
  ) {
    this.settings = settings;
    this.config = config;
    this.log = log;
    this.faultInjection = faultInjectionEnabled(env);
    this.env = env;
    this.options = options;
    this.loader = new ConfigLoader(env);
    this.audit = new AuditLog(log, options.auditLog);
    this.redactor = new Redactor(config, options.vaultSecrets);
  }

  /**
   * Ready (GET /status/ready): not stopping, and every worker slot has a thread that
   * listens with a config (during a restart, the old thread counts until it drains).
   */
  get isReady(): boolean {
    if (this.shuttingDown || !this.started) return false;
    for (const id of this.workers.keys()) {
      let ok = false;
      for (const h of this.live) if (h.id === id && h.state === 'ready' && h.configVersion > 0) ok = true;
      if (!ok) return false;
    }
    return this.workers.size > 0;
  }

  get isReloading(): boolean {
    return this.reloading !== null;
  }

  get proxyPort(): number {
    return this.listeningPort;
  }

  get isShuttingDown(): boolean {
    return this.shuttingDown;
  }

  async start(): Promise<void> {
    this.rateLimitBuffer ??= createRateLimitBuffer(rateLimitSlots(this.env));
    this.metricsBuffer ??= createMetricsBuffer(this.settings.workers);
    // Plaintext basic-auth passwords become scrypt hashes before any worker sees the config
    // (src/shared/password-hash.ts). Every later config swap must go through protect() too.
    this.config = await this.passwords.protect(this.config);
    if (this.settings.workers > 1) warnWithoutListenerMigration(this.log);
    // The admin API comes up first so /status/ready can answer 503 while workers start.
    if (this.settings.adminListen !== null) {
      this.admin = new AdminServer(this, this.settings, this.log);
      await this.admin.listen(this.settings.adminListen);
    }
    // uWS sets SO_REUSEPORT only on a concrete port (a socket bound to port 0 cannot be
    // joined): resolve port 0 to a free port first, so every worker shares one port.
    if (this.settings.proxyListen.port === 0) this.listeningPort = await pickFreePort(this.settings.proxyListen.host);
    const fresh: SpawnOptions = { restarts: 0, crashStreak: 0, retryOnEarlyExit: false, lastReplacement: null };
    const ready: Promise<void>[] = [];
    for (let i = 0; i < this.settings.workers; i++) ready.push(this.spawn(i, fresh).ready);
    await Promise.all(ready);
    // A signal during start-up: the workers are draining already; nothing more to start.
    if (this.shuttingDown) return;
    this.started = true;
    this.audit.record({
      source: 'startup',
      result: 'applied',
      old_hash: null,
      new_hash: this.config.hash,
      version: this.configVersion,
      diff: diffSummary(null, this.config),
    });
    if (this.options.watchConfig) this.watchConfigFile();
    if (this.faultInjection) {
      this.log.warn(`${FAULT_INJECTION_ENV} is set: the admin API can crash workers on request (for tests only)`);
    }
    this.log.info(
      {
        proxy: `${this.settings.proxyListen.host}:${this.listeningPort}`,
        admin: this.settings.adminListen ? `${this.settings.adminListen.host}:${this.admin?.port}` : 'off',
        workers: this.settings.workers,
        configHash: this.config.hash,
        rateLimitTableBytes: this.rateLimitBuffer.byteLength,
      },
      'portcullis started',
    );
  }

  private workerSettings(): GatewaySettings {
    if (this.listeningPort === 0) return this.settings;
    return { ...this.settings, proxyListen: { host: this.settings.proxyListen.host, port: this.listeningPort } };
  }

  private spawn(id: number, opts: SpawnOptions): { handle: WorkerHandle; ready: Promise<void> } {
    if (this.rateLimitBuffer === null) throw new Error('workers start only after the rate-limit table exists');
    const data: WorkerData = { workerId: id, settings: this.workerSettings(), rateLimitTable: this.rateLimitBuffer, metrics: this.metricsBuffer! };
    const worker = new Worker(WORKER_SCRIPT, { workerData: data, name: `portcullis-worker-${id}` });
    let markExited!: () => void;
    const handle: WorkerHandle = {
      id,
      worker,
      threadId: worker.threadId,
      state: 'starting',
      restarts: opts.restarts,
      startedAt: Date.now(),
      configVersion: 0,
      crashStreak: opts.crashStreak,
      replaced: false,
      retryOnEarlyExit: opts.retryOnEarlyExit,
      lastReplacement: opts.lastReplacement,
      exitCode: null,
      exited: new Promise<void>((resolve) => (markExited = resolve)),
      postedVersion: this.configVersion,
      applyWaiters: new Map(),
      cpu: null,
      tid: null,
    };
    this.workers.set(id, handle);
    this.live.add(handle);
    const ready = new Promise<void>((resolve, reject) => {
      let settled = false;
      worker.on('message', (msg: FromWorker) => {
        switch (msg.type) {
          case 'affinity':
            // The worker's first message: where it pinned itself (src/shared/affinity.ts), for GET /status.
            handle.cpu = msg.cpu;
            handle.tid = msg.tid;
            break;
          case 'listening':
            if (handle.state === 'starting') handle.state = 'ready';
            if (this.listeningPort === 0) this.listeningPort = msg.port;
            if (!settled) {
              settled = true;
              resolve();
            }
            break;
          case 'listen-failed':
            if (!settled) {
              settled = true;
              reject(new Error(`worker ${id}: ${msg.error}`));
            }
            break;
          case 'config-applied':
            handle.configVersion = msg.version;
            handle.applyWaiters.get(msg.version)?.(null);
            handle.applyWaiters.delete(msg.version);
            break;
          case 'config-failed':
            this.log.error({ worker: id, version: msg.version, err: msg.error }, 'worker could not apply the config');
            handle.applyWaiters.get(msg.version)?.(msg.error);
            handle.applyWaiters.delete(msg.version);
            break;
          case 'drained':
            if (msg.abandoned > 0) {
              this.log.warn({ worker: id, threadId: handle.threadId, abandoned: msg.abandoned }, 'requests still in flight at the drain deadline were closed');
            }
            break;
          case 'fatal':
            this.onFatal(handle, msg.error);
            break;
          default:
            break;
        }
      });
      worker.on('error', (err) => {
        this.log.error({ worker: id, threadId: handle.threadId, err }, 'worker crashed');
        if (!settled) {
          settled = true;
          reject(err);
        }
      });
      worker.on('exit', (code) => {
        const early = !settled;
        if (!settled) {
          settled = true;
          reject(new Error(`worker ${id} exited with code ${code} before listening`));
        }
        this.onExit(handle, code, early);
        // A thread that is gone no longer serves: a reload does not wait for it (its
        // replacement starts on the config that is current by then).
        for (const w of handle.applyWaiters.values()) w(null);
        handle.applyWaiters.clear();
        markExited();
      });
      this.post(handle, { type: 'config', version: this.configVersion, config: this.config });
    });
    // Callers that do not await `ready` (unplanned replacements) must not leave it unhandled.
    ready.catch(() => undefined);
    return { handle, ready };
  }

  /** The worker hit an uncaught exception: it stopped accepting and is draining itself. */
  private onFatal(handle: WorkerHandle, error: string): void {
    this.log.error({ worker: handle.id, threadId: handle.threadId, err: error }, 'worker failed with an uncaught exception');
    if (handle.state !== 'exited') handle.state = 'draining';
    if (this.shuttingDown || handle.replaced || this.workers.get(handle.id) !== handle) return;
    this.workerFailures++;
    this.retiring.add(handle);
    this.scheduleReplacement(handle, `uncaught exception: ${error}`);
  }

  private onExit(handle: WorkerHandle, code: number, early: boolean): void {
    handle.state = 'exited';
    handle.exitCode = code;
    this.retiring.delete(handle);
    this.live.delete(handle);
    if (this.shuttingDown) return;
    if (handle.replaced) {
      this.log.info({ worker: handle.id, threadId: handle.threadId, code }, 'replaced worker exited');
      return;
    }
    if (this.workers.get(handle.id) !== handle) return;
    // At start-up, or on a requested restart, whoever awaits `ready` handles an early exit.
    if (early && !(this.started && handle.retryOnEarlyExit)) return;
    this.log.error({ worker: handle.id, threadId: handle.threadId, code }, 'worker died');
    this.workerFailures++;
    this.scheduleReplacement(handle, `exited with code ${code}`);
  }

  private scheduleReplacement(prev: WorkerHandle, reason: string): void {
    prev.replaced = true;
    const lived = Date.now() - prev.startedAt;
    const streak = lived < CRASH_LOOP_WINDOW_MS ? prev.crashStreak + 1 : 0;
    const delay = RESPAWN_BACKOFF_MS[Math.min(streak, RESPAWN_BACKOFF_MS.length - 1)]!;
    this.log.error(
      { worker: prev.id, threadId: prev.threadId, reason, restarts: prev.restarts + 1, delayMs: delay },
      'replacing worker',
    );
    // Not unref'd: with every worker gone (and no admin API) this timer is what keeps the process alive.
    setTimeout(() => {
      if (this.shuttingDown) return;
      this.workerRestarts++;
      const { handle, ready } = this.spawn(prev.id, {
        restarts: prev.restarts + 1,
        crashStreak: streak,
        retryOnEarlyExit: true,
        lastReplacement: { reason, previousThreadId: prev.threadId, at: Date.now() },
      });
      ready.then(
        () => this.log.info({ worker: handle.id, threadId: handle.threadId, restarts: handle.restarts }, 'replacement worker ready'),
        (err: Error) => this.log.error({ worker: handle.id, err: err.message }, 'replacement worker failed to start'),
      );
    }, delay);
  }

  /**
   * Replaces a worker thread gracefully: a new thread starts and listens on the shared
   * port, then the old one stops accepting and drains (up to --drain-timeout). Resolves
   * with the new thread once it serves; the old one may still be draining.
   */
  async restartWorker(id: number, reason = 'restart requested'): Promise<WorkerHandle> {
    if (this.shuttingDown) throw new SupervisorError(503, 'the gateway is shutting down');
    const old = this.workers.get(id);
    if (old === undefined) throw new SupervisorError(404, `no worker ${id}`);
    if (old.state !== 'ready' || old.replaced) throw new SupervisorError(409, `worker ${id} is ${old.replaced ? 'being replaced' : old.state}`);
    old.replaced = true;
    const { handle, ready } = this.spawn(id, {
      restarts: old.restarts + 1,
      crashStreak: 0,
      retryOnEarlyExit: false,
      lastReplacement: { reason, previousThreadId: old.threadId, at: Date.now() },
    });
    try {
      await ready;
    } catch (err) {
      // Keep the old thread serving the slot (or replace it if it died meanwhile).
      if (this.workers.get(id) === handle) this.workers.set(id, old);
      old.replaced = false;
      if (stateOf(old) === 'exited' && !this.shuttingDown) this.scheduleReplacement(old, 'exited during a restart');
      if (handle.state !== 'exited') this.post(handle, { type: 'drain', timeoutMs: 0 });
      this.log.error({ worker: id, err: (err as Error).message }, 'restart failed: the new worker did not start; the old one keeps serving');
      throw new SupervisorError(500, `the new worker did not start: ${(err as Error).message}`);
    }
    // SIGTERM arrived while the new thread started: shutdown() is draining both.
    if (this.shuttingDown) throw new SupervisorError(503, 'the gateway is shutting down');
    this.workerRestarts++;
    if (stateOf(old) !== 'exited') {
      old.state = 'draining';
      this.retiring.add(old);
      this.post(old, { type: 'drain', timeoutMs: this.settings.drainTimeoutMs });
    }
    this.log.info({ worker: id, threadId: handle.threadId, previousThreadId: old.threadId, restarts: handle.restarts, reason }, 'worker restarted');
    return handle;
  }

  /** Test-only: makes a worker fail (PORTCULLIS_ENABLE_FAULT_INJECTION). */
  injectFault(id: number, kind: FaultKind): WorkerHandle {
    if (!this.faultInjection) throw new SupervisorError(404, 'Not found');
    const h = this.workers.get(id);
    if (h === undefined) throw new SupervisorError(404, `no worker ${id}`);
    if (h.state !== 'ready') throw new SupervisorError(409, `worker ${id} is ${h.state}`);
    this.log.warn({ worker: id, threadId: h.threadId, kind }, kind === 'reject-next-config' ? 'fault injection: the next config will fail in a worker' : 'fault injection: crashing a worker on request');
    this.post(h, { type: 'fault', kind });
    return h;
  }

  private post(handle: WorkerHandle, msg: ToWorker): void {
    if (handle.state === 'exited') return;
    if (msg.type === 'config') handle.postedVersion = msg.version;
    handle.worker.postMessage(msg);
  }

  /**
   * Reloads the config: from `req.text` (POST /config) or by re-reading the config file.
   *
   * 1. Parse + validate (ConfigLoader: in a piscina thread when large). Invalid: rejected
   *    whole with every issue (ConfigRejected); nothing changes.
   * 2. Same hash as the running config: nothing to do (`changed: false`).
   * 3. Basic-auth passwords hashed (the same PasswordProtector: unchanged ones are reused).
   * 4. Posted to every serving thread, which compiles it into a new Generation and swaps
   *    one reference (in-flight requests finish on the old one). The supervisor's config,
   *    version and hash change only once every thread has applied it.
   * 5. A thread that fails to compile it (or does not answer in 15 s): the threads that had
   *    applied it get the previous config back, so all keep serving the old one (500).
   *
   * Reloads are serialized: one from the admin API or the CLI while another runs is refused
   * (409); a SIGHUP or file change then is queued (several coalesce into one more reload).
   */
  reload(req: ReloadRequest): Promise<ReloadOutcome> {
    if (this.shuttingDown) return Promise.reject(new SupervisorError(503, 'the gateway is shutting down'));
    if (!this.started) return Promise.reject(new SupervisorError(503, 'the gateway is starting'));
    if (this.reloading !== null) return Promise.reject(new SupervisorError(409, 'a config reload is in progress; try again'));
    const run = this.doReload(req).finally(() => {
      this.reloading = null;
      const queued = this.queuedReload;
      this.queuedReload = null;
      if (queued !== null) this.reloadInBackground(queued);
    });
    this.reloading = run;
    return run;
  }

  /**
   * SIGHUP and file watch: reload and log the outcome (nobody waits for an answer). During
   * another reload it is queued: several coalesce into one more reload after it.
   */
  reloadInBackground(source: ConfigSource): void {
    if (this.reloading !== null) {
      this.queuedReload ??= source;
      return;
    }
    this.reload({ source }).then(
      (r) => this.log.info({ source, changed: r.changed, hash: r.config.hash, version: r.version }, r.changed ? 'config reloaded' : 'config unchanged'),
      (err: unknown) => {
        if (err instanceof ConfigRejected) {
          for (const i of err.issues) this.log.error({ source, file: i.file, line: i.line, col: i.col, path: i.path }, `config rejected: ${i.message}`);
          this.log.error({ source, errors: err.issues.length }, 'config reload rejected; the running config keeps serving');
        } else {
          this.log.error({ source, err: (err as Error).message }, 'config reload failed; the running config keeps serving');
        }
      },
    );
  }

  private async readConfigText(): Promise<{ text: string; fileName: string }> {
    const file = this.settings.configFile;
    if (file === null) return { text: DEFAULT_CONFIG_YAML, fileName: '<embedded default config>' };
    try {
      return { text: await readFile(file, 'utf8'), fileName: file };
    } catch (err) {
      throw new ConfigRejected([{ file, line: 0, col: 0, path: '', message: `cannot read the config file: ${(err as Error).message}` }]);
    }
  }

  private async doReload(req: ReloadRequest): Promise<ReloadOutcome> {
    const old = this.config;
    const rejected = (errors: number, reason: string) =>
      this.audit.record({ source: req.source, client: req.client ?? null, result: 'rejected', old_hash: old.hash, new_hash: null, version: this.configVersion, errors, reason });
    let loaded;
    try {
      const { text, fileName } = req.text !== undefined ? { text: req.text, fileName: req.fileName ?? '<admin>' } : await this.readConfigText();
      loaded = await this.loader.load(text, fileName);
    } catch (err) {
      if (err instanceof ConfigRejected) rejected(err.issues.length, 'invalid config');
      else rejected(1, (err as Error).message);
      throw err;
    }
    if (!loaded.ok) {
      rejected(loaded.issues.length, 'invalid config');
      throw new ConfigRejected(loaded.issues);
    }
    if (loaded.config.hash === old.hash) return { changed: false, config: old, version: this.configVersion };
    const next = await this.passwords.protect(loaded.config);
    if (this.shuttingDown) throw new SupervisorError(503, 'the gateway is shutting down');

    const version = ++this.lastVersion;
    // Every thread that serves or will: slot threads and, during a worker restart, the old
    // thread that still serves until its replacement listens.
    const serving = (h: WorkerHandle) => h.state === 'starting' || h.state === 'ready';
    const targets = [...this.live].filter(serving);
    const results = await Promise.all(targets.map((h) => this.applyTo(h, version, next)));
    const failed = results.map((error, i) => ({ error, h: targets[i]! })).filter((r) => r.error !== null);
    if (failed.length > 0) {
      for (const h of targets) if (h.state !== 'exited' && h.postedVersion === version) this.post(h, { type: 'config', version: this.configVersion, config: old });
      const reason = failed.map((f) => `worker ${f.h.id}: ${f.error}`).join('; ');
      this.log.error({ source: req.source, version, reason }, 'a worker could not apply the new config; every worker was given the previous one back');
      this.audit.record({ source: req.source, client: req.client ?? null, result: 'rolled-back', old_hash: old.hash, new_hash: next.hash, version: this.configVersion, reason });
      throw new SupervisorError(500, `a worker could not apply the config (${reason}); the previous config keeps serving`);
    }
    this.config = next;
    this.configVersion = version;
    this.configReloads++;
    this.redactor = new Redactor(next, loaded.secrets ?? []);
    // Threads started during the reload (replacements) got the previous config.
    for (const h of this.live) if (serving(h) && h.postedVersion !== version) this.post(h, { type: 'config', version, config: next });
    this.audit.record({
      source: req.source,
      client: req.client ?? null,
      result: 'applied',
      old_hash: old.hash,
      new_hash: next.hash,
      version,
      diff: diffSummary(old, next),
    });
    compactAfterReload();
    return { changed: true, config: next, version };
  }

  /** Posts a config to one thread; resolves with null once applied, or the reason it was not. */
  private applyTo(h: WorkerHandle, version: number, config: GatewayConfig): Promise<string | null> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        h.applyWaiters.delete(version);
        resolve(`no answer within ${APPLY_TIMEOUT_MS} ms`);
      }, APPLY_TIMEOUT_MS);
      h.applyWaiters.set(version, (error) => {
        clearTimeout(timer);
        resolve(error);
      });
      this.post(h, { type: 'config', version, config });
    });
  }

  /**
   * --watch-config: watches the config file's directory (editors and `kubectl` replace a
   * file by renaming another over it, which a watch on the file itself would lose).
   */
  private watchConfigFile(): void {
    const file = this.settings.configFile;
    if (file === null) {
      this.log.warn('--watch-config: no --config file to watch');
      return;
    }
    const name = basename(file);
    try {
      this.watcher = watch(dirname(resolvePath(file)), { persistent: false }, (_event, changed) => {
        if (changed !== null && changed !== name && !String(changed).startsWith('..')) return;
        if (this.watchTimer !== null) clearTimeout(this.watchTimer);
        this.watchTimer = setTimeout(() => {
          this.watchTimer = null;
          if (!this.shuttingDown) this.reloadInBackground('watch');
        }, WATCH_DEBOUNCE_MS);
      });
      this.watcher.on('error', (err) => this.log.error({ err: err.message }, 'config file watch failed'));
      this.log.info({ file }, 'watching the config file');
    } catch (err) {
      this.log.error({ err: (err as Error).message, file }, 'cannot watch the config file');
    }
  }

  /**
   * SIGTERM: stop accepting everywhere, let in-flight requests finish, then exit 0.
   * Resolves when every worker has exited.
   */
  async shutdown(reason: string): Promise<void> {
    if (this.shuttingDown) return;
    this.shuttingDown = true;
    this.watcher?.close();
    if (this.watchTimer !== null) clearTimeout(this.watchTimer);
    this.log.info({ reason, drainTimeoutMs: this.settings.drainTimeoutMs }, 'draining');
    // Not just the slots: a thread being replaced (restart in progress) must drain and
    // exit too, or process.exit() would tear down a thread with uWS open (an abort).
    const all = [...this.live];
    for (const handle of all) {
      if (handle.state === 'exited') continue;
      // A thread already draining ignores a second drain; one that is starting drains right after it listens.
      this.post(handle, { type: 'drain', timeoutMs: this.settings.drainTimeoutMs });
      handle.state = 'draining';
    }
    const hardStop = setTimeout(() => {
      this.log.error('workers did not exit after draining; terminating them');
      for (const h of all) if (h.state !== 'exited') void h.worker.terminate();
    }, this.settings.drainTimeoutMs + 5000);
    hardStop.unref();
    await Promise.all(all.map((h) => h.exited));
    clearTimeout(hardStop);
    await this.admin?.close();
    await this.loader.close().catch(() => undefined);
    await this.audit.flush();
    this.log.info('stopped');
  }
}

/** A handle's state read afresh (it changes across awaits; defeats TypeScript's narrowing). */
function stateOf(h: WorkerHandle): WorkerState {
  return h.state;
}

/** A port the OS considers free on `host` right now. */
function pickFreePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Workers share the proxy port through SO_REUSEPORT: when one closes its listen socket (a
 * worker restart or replacement), the kernel resets the connections still waiting in that
 * socket's accept queue, unless Linux (5.14+) may migrate them to the other workers'
 * sockets (net.ipv4.tcp_migrate_req=1). The gateway cannot set it; it says so once.
 */
function warnWithoutListenerMigration(log: Logger): void {
  let value: string;
  try {
    value = readFileSync('/proc/sys/net/ipv4/tcp_migrate_req', 'utf8').trim();
  } catch {
    return; // not Linux, or a kernel without the setting
  }
  if (value === '0') {
    log.info(
      { sysctl: 'net.ipv4.tcp_migrate_req', value: 0 },
      'a worker restart can reset connections still queued on its listen socket; set net.ipv4.tcp_migrate_req=1 so the kernel hands them to the other workers (docs/operations.md)',
    );
  }
}
