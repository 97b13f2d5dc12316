/**
 * What a worker does when a request is over: each observer (metrics, access log) gets the
 * finished request. Observers are created once per worker; they must not throw and must
 * not block (no I/O on this path: buffer, batch, or hand off).
 *
 * Adding an observer is one line in `createObservers` below.
 */
import type { Logger } from 'pino';
import type { GatewaySettings } from '../../src/shared/settings.js';
import type { Downstream } from '../http/downstream.js';
import type { RequestContext } from '../http/request-context.js';
import type { RunloopObserver } from '../runloop.js';
import { createMetricsObserver } from './metrics.js';
import { createAccessLog } from './access-log.js';

export interface RequestObserver {
  requestFinished(ctx: RequestContext, ex: Downstream, err: Error | null): void;
}

export interface ObserverEnv {
  readonly workerId: number;
  readonly settings: GatewaySettings;
  readonly log: Logger;
  /** SharedArrayBuffers the supervisor handed to this worker, by name (see WorkerData). */
  readonly shared: Readonly<Record<string, SharedArrayBuffer>>;
}

/** Fans a finished request out to every observer; one failing observer never affects the others. */
export class RequestObservers implements RunloopObserver {
  private readonly list: RequestObserver[];
  private readonly log: Logger;

  constructor(list: RequestObserver[], log: Logger) {
    this.list = list;
    this.log = log;
  }

  requestFinished(ctx: RequestContext, ex: Downstream, err: Error | null): void {
    const list = this.list;
    for (let i = 0; i < list.length; i++) {
      try {
        list[i]!.requestFinished(ctx, ex, err);
      } catch (e) {
        this.log.error({ err: e, requestId: ctx.id }, 'request observer failed');
      }
    }
  }
}

export function createObservers(env: ObserverEnv): RequestObservers {
  const list: RequestObserver[] = [];
  const metrics = createMetricsObserver(env);
  if (metrics !== null) list.push(metrics);
  const accessLog = createAccessLog(env);
  if (accessLog !== null) list.push(accessLog);
  return new RequestObservers(list, env.log);
}
