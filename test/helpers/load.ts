/**
 * Continuous keep-alive load for lifecycle tests: N client loops, each sending one request
 * at a time on a shared node:http keep-alive Agent, every request tagged with a unique id
 * (path and X-Test-Id header) so the test can match what the client got against what the
 * upstream saw. Nothing here measures speed.
 */
import { Agent, request } from 'node:http';
import type { Handler } from './upstream.js';

export interface Outcome {
  id: string;
  /** A complete 200 response whose body names this request's id. */
  ok: boolean;
  status: number | null;
  /** Error code (ECONNREFUSED, ECONNRESET, ...) or a description of what was wrong. */
  error: string | null;
  /** The request went out on a kept-alive connection that had served earlier requests. */
  reused: boolean;
  startedAt: number;
  endedAt: number;
}

export interface LoadOptions {
  port: number;
  concurrency: number;
  /** Path for a request id (default `/load/<id>`). */
  path?: (id: string) => string;
  /** Pause after a failed request before the loop tries again (ms). */
  retryDelayMs?: number;
}

export class Load {
  readonly outcomes: Outcome[] = [];
  private readonly agent: Agent;
  private readonly opts: LoadOptions;
  private stopped = false;
  private loops: Promise<void>[] = [];

  constructor(opts: LoadOptions) {
    this.opts = opts;
    this.agent = new Agent({ keepAlive: true, maxSockets: opts.concurrency, maxFreeSockets: opts.concurrency });
  }

  start(): void {
    for (let i = 0; i < this.opts.concurrency; i++) this.loops.push(this.loop(i));
  }

  get ok(): Outcome[] {
    return this.outcomes.filter((o) => o.ok);
  }

  get failed(): Outcome[] {
    return this.outcomes.filter((o) => !o.ok);
  }

  /** Stops issuing requests, waits for the ones in flight. */
  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.loops);
    this.agent.destroy();
  }

  private async loop(n: number): Promise<void> {
    let seq = 0;
    while (!this.stopped) {
      const id = `c${n}-r${seq++}`;
      const o = await this.one(id);
      this.outcomes.push(o);
      if (!o.ok) await new Promise((r) => setTimeout(r, this.opts.retryDelayMs ?? 20));
    }
  }

  private one(id: string): Promise<Outcome> {
    const startedAt = Date.now();
    return new Promise((resolve) => {
      let settled = false;
      let reused = false;
      const done = (ok: boolean, status: number | null, error: string | null) => {
        if (settled) return;
        settled = true;
        resolve({ id, ok, status, error, reused, startedAt, endedAt: Date.now() });
      };
      const req = request(
        {
          host: '127.0.0.1',
          port: this.opts.port,
          path: (this.opts.path ?? ((i: string) => `/load/${i}`))(id),
          agent: this.agent,
          headers: { 'x-test-id': id },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', (err: NodeJS.ErrnoException) => done(false, res.statusCode ?? null, `response: ${err.code ?? err.message}`));
          res.on('aborted', () => done(false, res.statusCode ?? null, 'response aborted'));
          res.on('end', () => {
            const body = Buffer.concat(chunks).toString('utf8');
            if (!res.complete) return done(false, res.statusCode ?? null, 'incomplete response');
            if (res.statusCode !== 200) return done(false, res.statusCode ?? null, `status ${res.statusCode}: ${body.slice(0, 200)}`);
            let echoed: unknown = null;
            try {
              echoed = (JSON.parse(body) as { id?: unknown }).id;
            } catch {
              // fall through
            }
            if (echoed !== id) return done(false, 200, `wrong body: ${body.slice(0, 200)}`);
            done(true, 200, null);
          });
          res.on('close', () => done(false, res.statusCode ?? null, 'closed before the end of the response'));
        },
      );
      req.on('socket', () => {
        reused = req.reusedSocket;
      });
      req.on('error', (err: NodeJS.ErrnoException) => done(false, null, err.code ?? err.message));
      req.end();
    });
  }
}

/**
 * An upstream handler that answers after `delayMs(id)` with `{"id": <X-Test-Id>}` and keeps
 * count of what it saw and what it is still working on.
 */
export function delayedUpstream(delayMs: (id: string) => number): { handler: Handler; seen: Set<string>; inflight: () => number; answered: () => number } {
  const seen = new Set<string>();
  let inflight = 0;
  let answered = 0;
  const handler: Handler = (req, res) => {
    const id = String(req.headers['x-test-id'] ?? '');
    seen.add(id);
    inflight++;
    req.resume();
    req.on('end', () => {
      setTimeout(() => {
        const body = JSON.stringify({ id });
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
        res.end(body, () => {
          inflight--;
          answered++;
        });
      }, delayMs(id));
    });
  };
  return { handler, seen, inflight: () => inflight, answered: () => answered };
}
