/**
 * Parses and validates a new declarative config for a reload, off the supervisor's event
 * loop when the text is large.
 *
 * Why a piscina pool: the supervisor's main thread also serves the admin API, handles
 * SIGTERM/SIGHUP and answers worker messages. Parsing YAML with positions and validating
 * every entity of a large config (tens of thousands of routes/consumers) is synchronous
 * work of hundreds of milliseconds to seconds; inline, it would freeze /status, readiness
 * probes and signal handling for that long. In a pool thread it only costs a structured
 * clone of the result back.
 *
 * Why a threshold: a round trip through the pool (post the text, clone the LoadResult back)
 * has a fixed cost, and the first task also pays the thread start and module loading.
 * Measured once (dist build, Node 20, this repo's dev machine while busy, means of 10-20
 * runs): the embedded demo config (469 B) loads inline in ~8 ms, a warm pool round trip for
 * it takes ~5 ms and the first one ~100 ms (thread + module start); a 6 KiB config (50
 * services with a route each) takes ~50 ms inline, a 130 KiB one (1000) ~250 ms. So only
 * tiny configs stay inline (the hop would cost as much as the parse); from INLINE_MAX_BYTES
 * on, the parse goes to the pool.
 */
import { Piscina } from 'piscina';
import { loadConfigText } from '../config/load.js';
import type { LoadResult } from '../config/types.js';
import type { LoadTask } from './config-task.js';

/** The pool thread exits after this long without a task (see startPool). */
export const POOL_IDLE_MS = 60_000;

/** Configs up to this many bytes are parsed on the supervisor thread (see above). */
export const INLINE_MAX_BYTES = 4 * 1024;

/** The pool task of the build this module belongs to (dist/src/supervisor/config-task.js). */
export const CONFIG_TASK_URL = new URL('./config-task.js', import.meta.url).href;

export class ConfigLoader {
  private pool: Piscina | null = null;
  /** The pool thread could not start (e.g. its module is missing): parse inline from then on. */
  private poolBroken = false;
  private failPending: ((err: Error) => void) | null = null;

  constructor(
    private readonly env: NodeJS.ProcessEnv,
    private readonly inlineMaxBytes = INLINE_MAX_BYTES,
    private readonly taskUrl = CONFIG_TASK_URL,
  ) {}

  async load(text: string, fileName: string): Promise<LoadResult> {
    // A config naming an OpenAPI spec (oas-validation's api_spec / api_spec_file) may be small
    // but compiles a spec of any size: always off the supervisor's event loop.
    if (this.poolBroken || (Buffer.byteLength(text) <= this.inlineMaxBytes && !text.includes('api_spec'))) return loadConfigText(text, fileName, this.env);
    const pool = this.startPool();
    const task: LoadTask = { text, fileName, env: { ...this.env } };
    try {
      return await new Promise<LoadResult>((resolve, reject) => {
        this.failPending = reject;
        pool.run(task).then(resolve, reject);
      });
    } catch {
      // The pool failed (not the config: an invalid config is a LoadResult, not an error).
      // The parse must still happen: do it here, as for a small config.
      return loadConfigText(text, fileName, this.env);
    } finally {
      this.failPending = null;
    }
  }

  private startPool(): Piscina {
    if (this.pool !== null) return this.pool;
    // One thread is enough: reloads are serialized (supervisor.ts). It exits after
    // POOL_IDLE_MS without work, so a gateway that stopped reloading large configs does not
    // carry it.
    const pool = new Piscina({ filename: this.taskUrl, minThreads: 0, maxThreads: 1, idleTimeout: POOL_IDLE_MS });
    // A thread that cannot start reports here, not to the task: without a listener the
    // 'error' event would throw on the supervisor thread, and the task would wait forever.
    pool.on('error', (err: Error) => {
      this.poolBroken = true;
      this.failPending?.(err);
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
