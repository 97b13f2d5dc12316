/**
 * The supervisor (main thread): owns the config and the worker threads. It loads and
 * validates the config, starts N workers that each listen on the shared proxy port, feeds
 * them the config, replaces any worker that dies, serves the admin API, and on SIGTERM
 * drains every worker before exiting 0.
 */
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { GatewayConfig } from '../config/types.js';
import type { FromWorker, ToWorker, WorkerData } from '../shared/protocol.js';
import type { GatewaySettings } from '../shared/settings.js';
import { AdminServer } from './admin-server.js';

const WORKER_SCRIPT = new URL('../../workers/worker.js', import.meta.url);
/** A worker dying more often than this is in a crash loop: back off before respawning. */
const RESPAWN_BACKOFF_MS = [0, 100, 500, 1000, 5000];

export type WorkerState = 'starting' | 'ready' | 'draining' | 'exited';

export interface WorkerHandle {
  readonly id: number;
  worker: Worker;
  state: WorkerState;
  restarts: number;
  startedAt: number;
  configVersion: number;
}

export class Supervisor {
  readonly startedAt = Date.now();
  readonly workers = new Map<number, WorkerHandle>();
  config: GatewayConfig;
  configVersion = 1;
  workerRestarts = 0;
  private readonly settings: GatewaySettings;
  private readonly log: Logger;
  private admin: AdminServer | null = null;
  private shuttingDown = false;
  private listeningPort = 0;

  constructor(settings: GatewaySettings, config: GatewayConfig, log: Logger) {
    this.settings = settings;
    this.config = config;
    this.log = log;
  }

  get proxyPort(): number {
    return this.listeningPort;
  }

  async start(): Promise<void> {
    const ready: Promise<void>[] = [];
    for (let i = 0; i < this.settings.workers; i++) ready.push(this.spawn(i, 0));
    await Promise.all(ready);
    if (this.settings.adminListen !== null) {
      this.admin = new AdminServer(this, this.settings, this.log);
      await this.admin.listen(this.settings.adminListen);
    }
    this.log.info(
      {
        proxy: `${this.settings.proxyListen.host}:${this.listeningPort}`,
        admin: this.settings.adminListen ? `${this.settings.adminListen.host}:${this.admin?.port}` : 'off',
        workers: this.settings.workers,
        configHash: this.config.hash,
      },
      'portcullis started',
    );
  }

  private spawn(id: number, restarts: number): Promise<void> {
    const data: WorkerData = { workerId: id, settings: this.settings };
    const worker = new Worker(WORKER_SCRIPT, { workerData: data, name: `portcullis-worker-${id}` });
    const handle: WorkerHandle = { id, worker, state: 'starting', restarts, startedAt: Date.now(), configVersion: 0 };
    this.workers.set(id, handle);
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      worker.on('message', (msg: FromWorker) => {
        switch (msg.type) {
          case 'listening':
            handle.state = 'ready';
            this.listeningPort = msg.port;
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
          default:
            break;
        }
      });
      worker.on('error', (err) => {
        this.log.error({ worker: id, err }, 'worker crashed');
        if (!settled) {
          settled = true;
          reject(err);
        }
      });
      worker.on('exit', (code) => {
        const wasDraining = handle.state === 'draining' || this.shuttingDown;
        handle.state = 'exited';
        if (!settled) {
          settled = true;
          reject(new Error(`worker ${id} exited with code ${code} before listening`));
          return;
        }
        if (wasDraining) return;
        this.workerRestarts++;
        const delay = RESPAWN_BACKOFF_MS[Math.min(restarts, RESPAWN_BACKOFF_MS.length - 1)]!;
        this.log.error({ worker: id, code, restarts: restarts + 1, delayMs: delay }, 'worker died; replacing it');
        setTimeout(() => {
          if (this.shuttingDown) return;
          this.spawn(id, restarts + 1).catch((err) => this.log.error({ worker: id, err }, 'replacement worker failed'));
        }, delay).unref();
      });
      this.post(handle, { type: 'config', version: this.configVersion, config: this.config });
    });
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
    const exits: Promise<void>[] = [];
    for (const handle of this.workers.values()) {
      if (handle.state === 'exited') continue;
      exits.push(
        new Promise<void>((resolve) => {
          handle.worker.once('exit', () => resolve());
          handle.worker.on('message', (msg: FromWorker) => {
            if (msg.type === 'drained' && msg.abandoned > 0) {
              this.log.warn({ worker: handle.id, abandoned: msg.abandoned }, 'requests still in flight at the drain deadline were closed');
            }
          });
        }),
      );
      this.post(handle, { type: 'drain', timeoutMs: this.settings.drainTimeoutMs });
      handle.state = 'draining';
    }
    const hardStop = setTimeout(() => {
      this.log.error('workers did not exit after draining; terminating them');
      for (const h of this.workers.values()) if (h.state !== 'exited') void h.worker.terminate();
    }, this.settings.drainTimeoutMs + 5000);
    hardStop.unref();
    await Promise.all(exits);
    clearTimeout(hardStop);
    await this.admin?.close();
    this.log.info('stopped');
  }
}
