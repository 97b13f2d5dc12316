/**
 * Large request bodies are parsed and validated in a piscina pool of this worker thread
 * (issue #6, item 6) instead of on its event loop: JSON.parse plus validation of a few MB
 * takes tens of milliseconds, during which every other request of the worker would wait.
 * Below `large_body_threshold` the check stays inline: a hop to the pool and back costs
 * ~0.1-0.5 ms, more than parsing a small body.
 *
 * One pool per worker thread (a module-level instance: worker threads do not share
 * modules), with one thread: it only has to keep parsing off the event loop, and a worker
 * per core is already the gateway's parallelism. Created on the first large body, its
 * thread exits after IDLE_MS without work and with the worker thread (Node ends a thread's
 * own threads when it exits). A pool that cannot start, or a full queue, makes the check
 * run inline: the verdict never depends on the pool.
 */
import { Piscina } from 'piscina';
import type { BodyOutcome } from './body-check.js';
import type { BodyTask } from './body-task.js';
import type { Span } from './plan.js';

/** The pool thread exits after this long without a task. */
export const IDLE_MS = 30_000;
/** Bodies waiting for the pool thread at most; more are checked inline. */
export const MAX_QUEUE = 64;

/** The task module of the build this file belongs to. */
export const BODY_TASK_URL = new URL('./body-task.js', import.meta.url).href;

export class BodyOffload {
  private pool: Piscina | null = null;
  private broken = false;
  /** Tasks sent to the pool so far (tests and metrics). */
  offloaded = 0;

  constructor(private readonly taskUrl = BODY_TASK_URL) {}

  /** False once the pool failed to start: callers check inline. */
  get available(): boolean {
    return !this.broken;
  }

  /**
   * Runs the check in the pool. Rejects when the pool cannot take it (queue full, thread
   * failed): the caller then checks inline. `body` is copied once into a buffer whose
   * ownership moves to the pool thread; the original still goes upstream.
   */
  run(digest: string, blob: SharedArrayBuffer, name: string, spans: Record<string, Span>, body: Buffer): Promise<BodyOutcome> {
    const pool = this.start();
    if (pool.queueSize >= MAX_QUEUE) return Promise.reject(new Error('body offload queue full'));
    const copy = new Uint8Array(body.byteLength);
    copy.set(body);
    const task: BodyTask = { digest, blob, name, spans, body: copy };
    this.offloaded++;
    return pool.run(task, { transferList: [copy.buffer] }) as Promise<BodyOutcome>;
  }

  private start(): Piscina {
    if (this.pool !== null) return this.pool;
    const pool = new Piscina({ filename: this.taskUrl, minThreads: 0, maxThreads: 1, idleTimeout: IDLE_MS });
    // A thread that cannot start reports here, not to the task: without a listener the
    // 'error' event would throw in the worker.
    pool.on('error', () => {
      this.broken = true;
    });
    this.pool = pool;
    return pool;
  }

  async close(): Promise<void> {
    const pool = this.pool;
    this.pool = null;
    await pool?.destroy();
  }
}

/** This worker thread's offload pool. */
export const bodyOffload = new BodyOffload();
