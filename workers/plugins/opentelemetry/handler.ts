/**
 * opentelemetry (Kong PRIORITY 14): one SERVER span per request, plus a CLIENT child span
 * for the upstream request when there was one, exported over OTLP/HTTP JSON.
 *
 * access: reads the incoming W3C `traceparent` (unless header_type is 'ignore'): the trace
 *   continues with the same trace id and the caller's span as our parent; otherwise a new
 *   trace starts. The sampling decision follows the caller's sampled flag when there is a
 *   caller (parent-based, as Kong's sampler), else sampling_rate. The upstream gets a
 *   `traceparent` naming our upstream span (sampled flag included), whether sampled or not.
 * log: builds the span JSON (one template string) and queues it on the worker's exporter;
 *   a request stopped before this plugin's access phase (an auth plugin's 401, say) is
 *   still traced, from the log phase alone.
 *
 * Span name `{METHOD} {route name}` (the route's id when it has no name, the path when no
 * route matched); attributes follow the HTTP semantic conventions: http.request.method,
 * url.path, url.scheme, http.route, http.response.status_code, server.address,
 * server.port, client.address, user_agent.original, plus kong.route.id / kong.route.name,
 * kong.service.id / kong.service.name, kong.consumer.id / kong.consumer.username and
 * kong.request.id. The query string is never recorded (it may carry credentials).
 * Status ERROR for 5xx responses (server spans: 4xx is the client's error).
 */
import { performance } from 'node:perf_hooks';
import type { RequestContext } from '../../http/request-context.js';
import type { PluginEnv, PluginHandler } from '../../pipeline/types.js';
import { exporterFor, type ExporterSettings, type OtlpExporter } from './exporter.js';
import { formatTraceParent, newSpanId, newTraceId, parseTraceParent } from './propagation.js';
import type { OpenTelemetryConfig } from './schema.js';

/** Where a request's trace state lives in ctx.shared. */
const STATE_KEY = 'opentelemetry';

interface TraceState {
  traceId: string;
  /** Our server span. */
  spanId: string;
  /** The caller's span, or null for a trace we started. */
  parentSpanId: string | null;
  /** Our upstream (client) span: the parent the upstream sees in traceparent. */
  upstreamSpanId: string;
  sampled: boolean;
}

const SPAN_KIND_SERVER = 2;
const SPAN_KIND_CLIENT = 3;

const str = JSON.stringify as (s: string) => string;

/** performance.now()-based ms to OTLP's unix nanoseconds (a decimal string, exact to 1 ns). */
export function unixNanos(perfMs: number): string {
  const ms = performance.timeOrigin + perfMs;
  let whole = Math.floor(ms);
  let frac = Math.round((ms - whole) * 1e6);
  if (frac >= 1e6) {
    whole++;
    frac -= 1e6;
  }
  return `${whole}${String(frac).padStart(6, '0')}`;
}

function attr(key: string, value: string): string {
  return `{"key":"${key}","value":{"stringValue":${str(value)}}}`;
}

function intAttr(key: string, value: number): string {
  return `{"key":"${key}","value":{"intValue":"${value}"}}`;
}

export function exporterSettings(conf: OpenTelemetryConfig): ExporterSettings {
  const q = conf.queue;
  const resource: Record<string, string> = { 'service.name': 'kong', ...(conf.resource_attributes ?? {}) };
  return {
    endpoint: conf.traces_endpoint,
    headers: { ...(conf.headers ?? {}) },
    resource,
    maxBatchSize: conf.batch_span_count ?? q.max_batch_size,
    maxCoalescingDelayMs: (conf.batch_flush_delay ?? q.max_coalescing_delay) * 1000,
    maxEntries: q.max_entries,
    maxBytes: q.max_bytes,
    maxRetryTimeMs: q.max_retry_time * 1000,
    initialRetryDelayMs: q.initial_retry_delay * 1000,
    maxRetryDelayMs: q.max_retry_delay * 1000,
    concurrencyLimit: q.concurrency_limit,
    connectTimeoutMs: conf.connect_timeout,
    sendTimeoutMs: conf.send_timeout,
    readTimeoutMs: conf.read_timeout,
  };
}

export interface OpenTelemetryHandler extends PluginHandler {
  readonly exporter: OtlpExporter;
}

export function createOpenTelemetry(conf: OpenTelemetryConfig, env: Pick<PluginEnv, 'log'>): OpenTelemetryHandler {
  const exporter = exporterFor(exporterSettings(conf), env.log);
  const samplingRate = conf.sampling_rate ?? 1;
  const readIncoming = conf.header_type !== 'ignore';
  const traceIdHeader = conf.http_response_header_for_traceid?.toLowerCase() ?? null;

  function sampleNew(): boolean {
    return samplingRate >= 1 ? true : samplingRate <= 0 ? false : Math.random() < samplingRate;
  }

  /** The request's trace state, created on first use (access, or log when access never ran). */
  function stateOf(ctx: RequestContext): TraceState {
    const shared = (ctx.shared ??= {});
    const existing = shared[STATE_KEY] as TraceState | undefined;
    if (existing !== undefined) return existing;
    const parent = readIncoming ? parseTraceParent(ctx.headers['traceparent']) : null;
    const state: TraceState = {
      traceId: parent !== null ? parent.traceId : newTraceId(),
      spanId: newSpanId(),
      parentSpanId: parent !== null ? parent.spanId : null,
      upstreamSpanId: newSpanId(),
      sampled: parent !== null ? parent.sampled : sampleNew(),
    };
    shared[STATE_KEY] = state;
    return state;
  }

  function serverSpan(ctx: RequestContext, t: TraceState, end: string): string {
    const route = ctx.route;
    const service = ctx.service;
    const consumer = ctx.consumer;
    const routeName = route !== null ? (route.name ?? route.id) : null;
    const status = ctx.status;
    let attrs =
      attr('http.request.method', ctx.method) +
      ',' +
      attr('url.path', ctx.rawPath) +
      ',' +
      attr('url.scheme', ctx.scheme) +
      ',' +
      attr('server.address', ctx.host) +
      ',' +
      intAttr('server.port', ctx.port) +
      ',' +
      attr('client.address', ctx.clientIp) +
      ',' +
      attr('kong.request.id', ctx.id);
    if (status !== 0) attrs += ',' + intAttr('http.response.status_code', status);
    const ua = ctx.headers['user-agent'];
    if (ua !== undefined) attrs += ',' + attr('user_agent.original', ua);
    if (route !== null) {
      attrs += ',' + attr('http.route', routeName!) + ',' + attr('kong.route.id', route.id);
      if (route.name !== null) attrs += ',' + attr('kong.route.name', route.name);
    }
    if (service !== null) {
      attrs += ',' + attr('kong.service.id', service.id);
      if (service.name !== null) attrs += ',' + attr('kong.service.name', service.name);
    }
    if (consumer !== null) {
      attrs += ',' + attr('kong.consumer.id', consumer.id);
      if (consumer.username !== null) attrs += ',' + attr('kong.consumer.username', consumer.username);
    }
    const name = `${ctx.method} ${routeName ?? ctx.path}`;
    return (
      `{"traceId":"${t.traceId}","spanId":"${t.spanId}"` +
      (t.parentSpanId !== null ? `,"parentSpanId":"${t.parentSpanId}"` : '') +
      `,"name":${str(name)},"kind":${SPAN_KIND_SERVER},"startTimeUnixNano":"${unixNanos(ctx.startedAt)}","endTimeUnixNano":"${end}",` +
      `"attributes":[${attrs}],"status":{"code":${status >= 500 || status === 0 ? 2 : 0}}}`
    );
  }

  function upstreamSpan(ctx: RequestContext, t: TraceState, end: string): string {
    const service = ctx.service!;
    const attrs =
      attr('http.request.method', ctx.method) +
      ',' +
      attr('url.path', ctx.upstreamPath) +
      ',' +
      attr('kong.service.id', service.id) +
      (service.name !== null ? ',' + attr('kong.service.name', service.name) : '') +
      (ctx.upstreamHeadersAt > 0 ? ',' + intAttr('http.response.status_code', ctx.response?.status ?? ctx.status) : '');
    const failed = ctx.upstreamHeadersAt === 0 || ctx.status >= 500;
    return (
      `{"traceId":"${t.traceId}","spanId":"${t.upstreamSpanId}","parentSpanId":"${t.spanId}",` +
      `"name":${str(`${ctx.method} ${service.name ?? service.id}`)},"kind":${SPAN_KIND_CLIENT},` +
      `"startTimeUnixNano":"${unixNanos(ctx.upstreamSentAt)}","endTimeUnixNano":"${end}",` +
      `"attributes":[${attrs}],"status":{"code":${failed ? 2 : 0}}}`
    );
  }

  return {
    exporter,
    access(ctx) {
      const t = stateOf(ctx);
      ctx.setHeader('traceparent', formatTraceParent(t.traceId, t.upstreamSpanId, t.sampled));
      if (traceIdHeader !== null) ctx.addResponseHeader(traceIdHeader, t.traceId);
      return undefined;
    },
    log(ctx) {
      const t = stateOf(ctx);
      if (!t.sampled) return;
      const end = unixNanos(performance.now());
      exporter.enqueue(serverSpan(ctx, t, end));
      if (ctx.upstreamSentAt > 0 && ctx.service !== null) exporter.enqueue(upstreamSpan(ctx, t, end));
    },
  };
}
