/**
 * The life of a request inside a worker (Kong's runloop): normalise the path, run global
 * rewrite handlers, route, run the route's access chain, then either answer locally or
 * proxy, run header/body filters on the way back and the log phase at the end.
 *
 * A config generation (router + pipelines + balancer) is swapped as one reference; each
 * request pins the generation it started on, so a reload never changes a request halfway.
 *
 * Data-plane rule: never throw to the listener. Every failure becomes a response (or a
 * closed connection once the head is out) and a log line.
 */
import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import type { GatewayConfig, PluginConfig } from '../src/config/types.js';
import { defaultMessage } from '../src/shared/http-messages.js';
import type { GatewaySettings } from '../src/shared/settings.js';
import type { TrustedProxies } from './http/client-address.js';
import { BodyRejectedError } from './http/body-inspection.js';
import { RequestBodyLimitError, type Downstream, type HeaderValue } from './http/downstream.js';
import { errorContentType, renderError } from './http/error-body.js';
import type { RequestContext } from './http/request-context.js';
import { compilePipelines, type CompiledPipelines } from './pipeline/compile.js';
import { runAccess, runBodyFilter, runHeaderFilter, runLog, runRewrite } from './pipeline/run.js';
import { ConsumerIndex } from './auth/consumer-index.js';
import type { LocalReply, MaybePromise, PluginBaseEnv, PluginDefinition, Verdict } from './pipeline/types.js';
import { Balancer } from './proxy/balancer.js';
import { isPlainValue, upstreamRequestHeaders } from './proxy/forward-headers.js';
import { ProxyCall, RequestBodyStream, type ProxyHost } from './proxy/proxy-call.js';
import type { UpstreamPools } from './proxy/upstream-pools.js';
import { normalizePath } from './router/normalize-path.js';
import { Router } from './router/router.js';
import { upstreamPath } from './router/upstream-uri.js';

export const SERVER_TOKEN = 'portcullis/0.1.0';
const NO_ROUTE_MESSAGE = 'no Route matched with those values';

/** Everything compiled from one config, swapped atomically. */
export class Generation {
  constructor(
    readonly version: number,
    readonly config: GatewayConfig,
    readonly router: Router,
    readonly pipelines: CompiledPipelines,
    readonly balancer: Balancer,
    readonly consumers: ConsumerIndex,
  ) {}

  static compile(
    version: number,
    config: GatewayConfig,
    definitions: ReadonlyMap<string, PluginDefinition<any>>,
    envFor: (p: PluginConfig) => PluginBaseEnv,
  ): Generation {
    const consumers = new ConsumerIndex(config.consumers);
    return new Generation(
      version,
      config,
      new Router(config.routes, config.services),
      compilePipelines(config, definitions, (p) => ({ ...envFor(p), consumers })),
      new Balancer(config),
      consumers,
    );
  }
}

function isPromise<T>(v: MaybePromise<T>): v is Promise<T> {
  return typeof (v as Promise<T> | undefined)?.then === 'function';
}

/** Hooks the listener gives the runloop (counters, access log). */
export interface RunloopObserver {
  requestFinished(ctx: RequestContext, ex: Downstream, err: Error | null): void;
}

export class Runloop implements ProxyHost {
  generation: Generation | null = null;
  private readonly log: Logger;
  private readonly pools: UpstreamPools;
  private readonly trusted: TrustedProxies;
  private readonly observer: RunloopObserver;

  constructor(log: Logger, pools: UpstreamPools, trusted: TrustedProxies, _settings: GatewaySettings, observer: RunloopObserver) {
    this.log = log;
    this.pools = pools;
    this.trusted = trusted;
    this.observer = observer;
  }

  /** Entry point from a listener: the context is filled, the exchange is live. */
  handle(ctx: RequestContext, ex: Downstream): void {
    const gen = this.generation;
    if (gen === null) {
      this.reply(ctx, ex, { status: 503, message: 'The gateway has no configuration loaded yet' });
      return;
    }
    ctx.generation = gen;
    try {
      const path = normalizePath(ctx.rawPath);
      if (path === null) {
        this.reply(ctx, ex, { status: 400, message: 'Bad request' }, true);
        return;
      }
      ctx.path = path;
      const rewrite = gen.pipelines.rewriteFor(ctx.scheme);
      if (rewrite.length > 0) {
        ctx.plugins = gen.pipelines.globalFor(ctx.scheme).handlers;
        const v = runRewrite(rewrite, ctx);
        if (isPromise(v)) {
          v.then(
            (r) => (r !== undefined ? this.reply(ctx, ex, r) : this.route(ctx, ex, gen)),
            (err) => this.internalError(ctx, ex, err),
          );
          return;
        }
        if (v !== undefined) {
          this.reply(ctx, ex, v);
          return;
        }
      }
      this.route(ctx, ex, gen);
    } catch (err) {
      this.internalError(ctx, ex, err);
    }
  }

  private route(ctx: RequestContext, ex: Downstream, gen: Generation): void {
    if (ex.aborted) return this.finish(ctx, ex, null);
    const match = gen.router.match({
      method: ctx.method,
      host: ctx.host,
      port: ctx.port,
      path: ctx.path,
      headers: ctx.headers,
      scheme: ctx.scheme,
      sni: null,
    });
    if (match === null) {
      ctx.plugins = gen.pipelines.globalFor(ctx.scheme).handlers;
      this.reply(ctx, ex, { status: 404, message: NO_ROUTE_MESSAGE });
      return;
    }
    const route = match.route;
    ctx.route = route;
    ctx.service = match.service;
    ctx.uriCaptures = match.captures;
    if (match.protocolMismatch) {
      ctx.plugins = gen.pipelines.globalFor(ctx.scheme).handlers;
      this.httpsRedirect(ctx, ex, route.https_redirect_status_code);
      return;
    }
    ctx.upstreamPath = upstreamPath(match.service, route, match, ctx.path);
    if (route.strip_path) ctx.strippedPrefix = match.matchedPath;

    const chain = gen.pipelines.forRoute(route, ctx.scheme);
    if (!chain.hasAccess) {
      ctx.plugins = chain.handlers;
      this.forward(ctx, ex, 0);
      return;
    }
    const v = runAccess(chain, ctx);
    if (isPromise(v)) {
      v.then(
        (r) => this.afterAccess(ctx, ex, r),
        (err) => this.internalError(ctx, ex, err),
      );
      return;
    }
    this.afterAccess(ctx, ex, v);
  }

  private afterAccess(ctx: RequestContext, ex: Downstream, v: Verdict): void {
    if (ex.aborted) return this.finish(ctx, ex, null);
    if (v !== undefined) {
      this.reply(ctx, ex, v);
      return;
    }
    this.forward(ctx, ex, 0);
  }

  private forward(ctx: RequestContext, ex: Downstream, attempt: number): void {
    const gen = ctx.generation as Generation;
    const service = ctx.service;
    if (service === null) {
      this.reply(ctx, ex, { status: 503, message: 'no Service found with those values' });
      return;
    }
    const target = gen.balancer.pick(service);
    if (target === null) {
      this.reply(ctx, ex, { status: 503, message: 'failure to get a peer from the ring-balancer' });
      return;
    }
    const route = ctx.route!;
    const host =
      ctx.upstreamHost ?? (route.preserve_host ? (ctx.headers['host'] as string) : (gen.balancer.hostHeaderOverride(service) ?? target.hostHeader));
    const headers = upstreamRequestHeaders(ctx, {
      host,
      trustedPeer: !this.trusted.empty && this.trusted.has(ctx.remoteAddress),
      prefix: ctx.strippedPrefix,
    });
    headers.push('x-kong-request-id', ctx.id);
    let body: Buffer | RequestBodyStream | null = null;
    if (ctx.body !== null) {
      // A plugin buffered (and may have rewritten) the body: the pool frames it itself.
      removeHeader(headers, 'content-length');
      if (ctx.body.length > 0) body = ctx.body;
    } else if (ex.hasBody) {
      body = new RequestBodyStream(ex);
      ex.attachBody(ctx.bodySink(body));
    }
    const pool = this.pools.get(target.origin, service.connect_timeout);
    ctx.upstreamSentAt = performance.now();
    const call = new ProxyCall(this, ctx, ex, attempt);
    try {
      pool.dispatch(
        {
          // The query as plugins left it (hide_credentials may have removed arguments).
          path: ctx.query.length > 0 ? `${ctx.upstreamPath}?${ctx.query}` : ctx.upstreamPath,
          method: ctx.upstreamMethod ?? ctx.method,
          headers,
          // The listener checked the client's headers and ours are built from them: the
          // pool's own check is needed only for a plugin's values or a configured Host.
          headersChecked: ctx.headersChecked && isPlainValue(host),
          body,
          headersTimeout: service.read_timeout,
          bodyTimeout: service.read_timeout,
        },
        call,
      );
    } catch (err) {
      // The pool refused the request itself (a header or path that could split it): only
      // client-supplied data can cause that.
      this.log.warn({ err: (err as Error).message, requestId: ctx.id }, 'upstream request refused by client library');
      this.reply(ctx, ex, { status: 400, message: 'Bad request' }, true);
    }
  }

  // ---- ProxyHost ----------------------------------------------------------------------

  retry(ctx: RequestContext, ex: Downstream, err: Error, attempt: number): boolean {
    const service = ctx.service;
    // A request body already streamed upstream cannot be replayed (nothing buffers it).
    if (service === null || (ex.hasBody && ctx.body === null) || attempt >= service.retries) return false;
    this.log.debug({ requestId: ctx.id, attempt: attempt + 1, err: err.message }, 'retrying upstream connection');
    this.forward(ctx, ex, attempt + 1);
    return true;
  }

  failUpstream(ctx: RequestContext, ex: Downstream, status: number, err: Error): void {
    if (err instanceof RequestBodyLimitError) {
      // The client's mistake, not the upstream's: Kong's request-size-limiting answer.
      this.reply(ctx, ex, { status: 413, message: 'Request size limit exceeded' }, true);
      return;
    }
    if (err instanceof BodyRejectedError) {
      // An inspector stopped the body on its way upstream; the rest of it is never read.
      this.reply(ctx, ex, err.reply, true);
      return;
    }
    this.log.warn(
      { requestId: ctx.id, service: ctx.service?.name ?? ctx.service?.id, code: (err as NodeJS.ErrnoException).code, err: err.message },
      'upstream request failed',
    );
    this.reply(ctx, ex, { status, message: defaultMessage(status) });
  }

  responseHeaders(ctx: RequestContext, status: number, raw: HeaderValue[], contentLength: number): HeaderValue[] {
    const now = ctx.upstreamHeadersAt;
    raw.push(
      'X-Kong-Upstream-Latency',
      String(Math.round(now - ctx.upstreamSentAt)),
      'X-Kong-Proxy-Latency',
      String(Math.round(ctx.upstreamSentAt - ctx.startedAt)),
      'X-Kong-Request-Id',
      ctx.id,
    );
    const extra = ctx.extraResponseHeaders;
    if (extra !== null) {
      // The gateway's value replaces the upstream's (Kong's kong.response.set_header), e.g.
      // an upstream that sends its own X-RateLimit-* headers.
      dropHeaders(raw, extra);
      for (let i = 0; i < extra.length; i++) raw.push(extra[i]!);
    }
    if (!hasHeaderFilter(ctx)) return raw;
    ctx.response = { status, headers: toHeaderObject(raw), source: 'upstream', contentLength };
    runHeaderFilter(ctx);
    return fromHeaderObject(ctx.response.headers);
  }

  replaceResponse(ctx: RequestContext, ex: Downstream, reply: LocalReply): void {
    this.reply(ctx, ex, reply);
  }

  bodyFilter(ctx: RequestContext): ((chunk: Buffer, last: boolean) => Buffer) | null {
    const hs = ctx.plugins;
    for (let i = 0; i < hs.length; i++) {
      if (hs[i]!.bodyFilter !== undefined) return (chunk, last) => runBodyFilter(ctx, chunk, last);
    }
    return null;
  }

  finish(ctx: RequestContext, ex: Downstream, err: Error | null): void {
    if (ctx.plugins.length > 0) runLog(ctx, (e) => this.log.error({ err: e, requestId: ctx.id }, 'log phase failed'));
    this.observer.requestFinished(ctx, ex, err);
  }

  // ---- local replies ------------------------------------------------------------------

  /** Answers from the gateway itself (plugin verdict or gateway error). */
  reply(ctx: RequestContext, ex: Downstream, r: LocalReply, close = false): void {
    if (ex.aborted || ex.finished) {
      this.finish(ctx, ex, null);
      return;
    }
    let body: string | Buffer | null;
    let contentType: string;
    if (r.status === 204 || r.status === 304 || r.status < 200) {
      // These never carry a body (RFC 9110 6.4.1): whatever a plugin gave is dropped.
      body = null;
      contentType = '';
    } else if (r.body !== undefined) {
      body = r.body;
      // An empty body (Kong's exit(status, nil)) goes without a Content-Type.
      contentType = r.contentType ?? (r.body.length === 0 ? '' : 'application/json; charset=utf-8');
    } else {
      contentType = errorContentType(ctx.headers['accept']);
      body = renderError(contentType, r.message ?? defaultMessage(r.status), ctx.id);
    }
    const headers: HeaderValue[] = [];
    if (contentType !== '') headers.push('Content-Type', contentType);
    if (r.headers !== undefined) for (const [k, v] of r.headers) headers.push(k, v);
    const extra = ctx.extraResponseHeaders;
    if (extra !== null) for (let i = 0; i < extra.length; i++) headers.push(extra[i]!);
    headers.push(
      'X-Kong-Response-Latency',
      String(Math.round(performance.now() - ctx.startedAt)),
      'Server',
      SERVER_TOKEN,
      'X-Kong-Request-Id',
      ctx.id,
    );
    let status = r.status;
    let final: HeaderValue[] = headers;
    if (hasHeaderFilter(ctx)) {
      ctx.response = { status, headers: toHeaderObject(headers), source: 'gateway' };
      try {
        runHeaderFilter(ctx);
      } catch (err) {
        this.log.error({ err, requestId: ctx.id }, 'header filter failed on a local reply');
      }
      // A local reply is final: a filter cannot replace it again.
      ctx.responseAbort = null;
      status = ctx.response.status;
      final = fromHeaderObject(ctx.response.headers);
    }
    ctx.status = status;
    if (ctx.method === 'HEAD') {
      ex.writeHead(status, final, body === null ? -1 : Buffer.byteLength(body), true);
    } else {
      ex.respond(status, final, body, close);
    }
    this.finish(ctx, ex, null);
  }

  private httpsRedirect(ctx: RequestContext, ex: Downstream, code: number): void {
    if (code === 426) {
      this.reply(ctx, ex, {
        status: 426,
        message: 'Please use HTTPS protocol',
        headers: [
          ['Connection', 'Upgrade'],
          ['Upgrade', 'TLS/1.2, HTTP/1.1'],
        ],
      });
      return;
    }
    const location = `https://${ctx.headers['host'] ?? ctx.host}${ctx.rawPath}${ctx.query ? `?${ctx.query}` : ''}`;
    this.reply(ctx, ex, { status: code, message: defaultMessage(code), headers: [['Location', location]] });
  }

  private internalError(ctx: RequestContext, ex: Downstream, err: unknown): void {
    if (err instanceof RequestBodyLimitError && !ex.headSent) {
      // A plugin reading the body hit request-size-limiting's cap: the client's mistake.
      this.reply(ctx, ex, { status: 413, message: 'Request size limit exceeded' }, true);
      return;
    }
    if (err instanceof BodyRejectedError && !ex.headSent) {
      // A body inspector stopped the body while a plugin was reading it.
      this.reply(ctx, ex, err.reply, true);
      return;
    }
    this.log.error({ err, requestId: ctx.id, route: ctx.route?.name ?? ctx.route?.id }, 'request failed inside the gateway');
    if (ex.headSent) {
      ex.destroy();
      this.finish(ctx, ex, err as Error);
      return;
    }
    this.reply(ctx, ex, { status: 500, message: defaultMessage(500) });
  }
}

function removeHeader(flat: string[], name: string): void {
  for (let i = 0; i < flat.length; i += 2) {
    if (flat[i] === name) {
      flat.splice(i, 2);
      return;
    }
  }
}

/**
 * Removes from a flat header list every header named in `extra` (a flat [name, value, ...]
 * list; case-insensitive). Allocation-free unless a name of the same length is found (the
 * rare case).
 */
function dropHeaders(flat: HeaderValue[], extra: readonly string[]): void {
  // Lengths of the replacing names as bits (mod 32): most upstream names are skipped on it.
  let lengths = 0;
  for (let j = 0; j < extra.length; j += 2) lengths |= 1 << (extra[j]!.length & 31);
  let w = 0;
  for (let i = 0; i < flat.length; i += 2) {
    const name = flat[i]!;
    let drop = false;
    if ((lengths & (1 << (name.length & 31))) !== 0) {
      for (let j = 0; j < extra.length; j += 2) {
        if (sameNameAscii(name, extra[j]!)) {
          drop = true;
          break;
        }
      }
    }
    if (drop) continue;
    if (w !== i) {
      flat[w] = name;
      flat[w + 1] = flat[i + 1]!;
    }
    w += 2;
  }
  if (w !== flat.length) flat.length = w;
}

/** Header names equal in ASCII case folding (`a` may be raw bytes), without lowercased copies. */
function sameNameAscii(a: HeaderValue, b: string): boolean {
  const n = b.length;
  if (a.length !== n) return false;
  const text = typeof a === 'string';
  for (let i = 0; i < n; i++) {
    let x = text ? a.charCodeAt(i) : a[i]!;
    let y = b.charCodeAt(i);
    if (x >= 0x41 && x <= 0x5a) x += 0x20;
    if (y >= 0x41 && y <= 0x5a) y += 0x20;
    if (x !== y) return false;
  }
  return true;
}

function hasHeaderFilter(ctx: RequestContext): boolean {
  const hs = ctx.plugins;
  for (let i = 0; i < hs.length; i++) if (hs[i]!.headerFilter !== undefined) return true;
  return false;
}

function toHeaderObject(flat: readonly HeaderValue[]): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = Object.create(null);
  for (let i = 0; i < flat.length; i += 2) {
    const name = flat[i]!.toString().toLowerCase();
    const value = flat[i + 1]!.toString();
    const prev = out[name];
    if (prev === undefined) out[name] = value;
    else if (Array.isArray(prev)) prev.push(value);
    else out[name] = [prev, value];
  }
  return out;
}

function fromHeaderObject(obj: Record<string, string | string[]>): HeaderValue[] {
  const out: HeaderValue[] = [];
  for (const name in obj) {
    const v = obj[name]!;
    if (Array.isArray(v)) for (const x of v) out.push(name, x);
    else out.push(name, v);
  }
  return out;
}
