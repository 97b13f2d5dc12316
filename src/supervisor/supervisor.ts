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
import { createServer } from 'node:net';
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import { PasswordProtector } from '../config/protect-passwords.js';
import type { GatewayConfig } from '../config/types.js';
import type { FaultKind, FromWorker, ToWorker, WorkerData } from '../shared/protocol.js';
import type { GatewaySettings } from '../shared/settings.js';
import { createRateLimitBuffer, DEFAULT_RATE_LIMIT_SLOTS, MAX_RATE_LIMIT_SLOTS } from '../shared/shm/rate-limit-table.js';
import { AdminServer } from './admin-server.js';

const WORKER_SCRIPT = new URL('../../workers/worker.js', import.meta.url);
/** Delay before an unplanned replacement, by how many times in a row the slot failed soon after starting. */
const RESPAWN_BACKOFF_MS = [0, 100, 500, 1000, 5000];
/** A worker that dies within this long of starting counts towards a crash loop. */
const CRASH_LOOP_WINDOW_MS = 10_000;

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
  private readonly passwords = new PasswordProtector();
  configVersion = 1;
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

  constructor(settings: GatewaySettings, config: GatewayConfig, log: Logger, env: NodeJS.ProcessEnv = process.env) {
    this.settings = settings;
    this.config = config;
    this.log = log;
    this.faultInjection = faultInjectionEnabled(env);
    this.env = env;
  }

  get proxyPort(): number {
    return this.listeningPort;
  }

  get isShuttingDown(): boolean {
    return this.shuttingDown;
  }

  async start(): Promise<void> {
    this.rateLimitBuffer ??= createRateLimitBuffer(rateLimitSlots(this.env));
    // Plaintext basic-auth passwords become scrypt hashes before any worker sees the config
    // (src/shared/password-hash.ts). Every later config swap must go through protect() too.
    this.config = await this.passwords.protect(this.config);
    // uWS sets SO_REUSEPORT only on a concrete port (a socket bound to port 0 cannot be
    // joined): resolve port 0 to a free port first, so every worker shares one port.
    if (this.settings.proxyListen.port === 0) this.listeningPort = await pickFreePort(this.settings.proxyListen.host);
    const fresh: SpawnOptions = { restarts: 0, crashStreak: 0, retryOnEarlyExit: false, lastReplacement: null };
    const ready: Promise<void>[] = [];
    for (let i = 0; i < this.settings.workers; i++) ready.push(this.spawn(i, fresh).ready);
    await Promise.all(ready);
    // A signal during start-up: the workers are draining already; nothing more to start.
    if (this.shuttingDown) return;
    if (this.settings.adminListen !== null) {
      this.admin = new AdminServer(this, this.settings, this.log);
      await this.admin.listen(this.settings.adminListen);
    }
    this.started = true;
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
    const data: WorkerData = { workerId: id, settings: this.workerSettings(), rateLimitTable: this.rateLimitBuffer };
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
    };
    this.workers.set(id, handle);
    this.live.add(handle);
    const ready = new Promise<void>((resolve, reject) => {
      let settled = false;
      worker.on('message', (msg: FromWorker) => {
        switch (msg.type) {
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
            break;
          case 'config-failed':
            this.log.error({ worker: id, version: msg.version, err: msg.error }, 'worker could not apply the config');
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
    this.log.warn({ worker: id, threadId: h.threadId, kind }, 'fault injection: crashing a worker on request');
    this.post(h, { type: 'fault', kind });
    return h;
  }

  private post(handle: WorkerHandle, msg: ToWorker): void {
    if (handle.state !== 'exited') handle.worker.postMessage(msg);
  }

  /**
   * SIGTERM: stop accepting everywhere, let in-flight requests finish, then exit 0.
   * Resolves when every worker has exited.
   */
  async shutdown(reason: string): Promise<void> {
    if (this.shuttingDown) return;
    this.shuttingDown = true;
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
