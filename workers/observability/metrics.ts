/**
 * Records every finished request into the node's shared metrics buffer
 * (src/shared/shm/metrics.ts); the supervisor serves the sums at GET /metrics.
 *
 * When a request counts: the runloop calls observers right after the last response bytes
 * were handed to uWS (respond()/end()), synchronously in the same run, before this worker's
 * event loop does anything else; a streamed response counts when undici reports the
 * upstream response complete (normally in the same socket read as its last bytes). Each
 * request counts exactly once, never before its status is known. A scrape that races the
 * last response can still come a few milliseconds early: the write that sends those bytes
 * wakes the client, and on a busy machine the kernel may run the client (and its scrape)
 * before this thread gets the CPU back for the few instructions that count. The next
 * scrape has it; test/integration/metrics.test.ts polls until the total is reached and then
 * checks that every count is exact and stays so.
 *
 * Labels are Kong's: service = the service's name, else its host; route = the route's
 * name, else its id. The route -> series index is resolved once per route object (a
 * WeakMap keyed by the config object, so each config generation resolves its own routes)
 * and recording is then a few Atomics.add on precomputed offsets.
 */
import { performance } from 'node:perf_hooks';
import type { RouteConfig, ServiceConfig } from '../../src/config/types.js';
import { MetricsRecorder, SERIES_NO_ROUTE, type RequestSample } from '../../src/shared/shm/metrics.js';
import type { Downstream } from '../http/downstream.js';
import type { RequestContext } from '../http/request-context.js';
import type { ObserverEnv, RequestObserver } from './index.js';

/** nginx's code for a request whose client went away before any response head. */
const CLIENT_CLOSED = 499;

export function serviceLabel(s: ServiceConfig | null): string {
  if (s === null) return '';
  return s.name ?? s.host ?? '';
}

export function routeLabel(r: RouteConfig | null): string {
  if (r === null) return '';
  return r.name ?? r.id ?? '';
}

export class MetricsObserver implements RequestObserver {
  private readonly recorder: MetricsRecorder;
  private readonly seriesByRoute = new WeakMap<RouteConfig, number>();
  /** Reused for every request (recording is synchronous): no allocation per request. */
  private readonly sample: RequestSample = {
    series: 0,
    status: 0,
    fromService: false,
    requestMs: -1,
    kongMs: -1,
    upstreamMs: -1,
    ingressBytes: 0,
    egressBytes: 0,
  };

  constructor(buffer: SharedArrayBuffer, workerId: number) {
    this.recorder = new MetricsRecorder(buffer, workerId);
  }

  private seriesOf(ctx: RequestContext): number {
    const route = ctx.route;
    if (route === null) return SERIES_NO_ROUTE;
    let s = this.seriesByRoute.get(route);
    if (s === undefined) {
      s = this.recorder.series(serviceLabel(ctx.service), routeLabel(route));
      this.seriesByRoute.set(route, s);
    }
    return s;
  }

  requestFinished(ctx: RequestContext, ex: Downstream, _err: Error | null): void {
    const now = performance.now();
    const x = this.sample;
    x.series = this.seriesOf(ctx);
    const status = ex.status;
    x.status = status === 0 ? CLIENT_CLOSED : status;
    // Kong's source: "service" when the response head came from the upstream.
    x.fromService = ctx.response !== null ? ctx.response.source === 'upstream' : ctx.upstreamHeadersAt > 0 && status !== 0;
    x.requestMs = Math.max(0, Math.round(now - ctx.startedAt));
    if (ctx.upstreamSentAt > 0) {
      x.kongMs = Math.max(0, Math.round(ctx.upstreamSentAt - ctx.startedAt));
      x.upstreamMs = ctx.upstreamHeadersAt > 0 ? Math.max(0, Math.round(ctx.upstreamHeadersAt - ctx.upstreamSentAt)) : -1;
    } else {
      // Answered by the gateway itself: all of the time was the gateway's.
      x.kongMs = x.requestMs;
      x.upstreamMs = -1;
    }
    x.ingressBytes = ex.bytesReceived;
    x.egressBytes = ex.bytesSent;
    this.recorder.record(x);
  }
}

export function createMetricsObserver(env: ObserverEnv): MetricsObserver | null {
  const buffer = env.shared['metrics'];
  return buffer === undefined ? null : new MetricsObserver(buffer, env.workerId);
}
