/**
 * One proxied request: the upstream pool's handler (http1/upstream-pool.ts) bridging the
 * upstream response to the Downstream, with flow control both ways:
 * - request body: the client's chunks go into a Readable that the pool reads; when it is
 *   full the client is paused (uWS res.pause), and resumed when the pool reads again;
 * - response body: a write the client cannot take yet pauses the upstream connection
 *   (onData returns false) until the Downstream drains.
 * Memory per request therefore stays at a few socket buffers whatever the body size.
 *
 * The handler interface is undici's raw (legacy) one, plus the parsed Content-Length: names
 * arrive as strings (tokens), values as latin1 strings or, with bytes above 0x7F, as Buffers
 * that go to the client unconverted.
 */
import { performance } from 'node:perf_hooks';
import { Readable } from 'node:stream';
import type { Downstream, HeaderValue, RequestBodySink } from '../http/downstream.js';
import type { RequestContext } from '../http/request-context.js';
import type { LocalReply } from '../pipeline/types.js';
import { addConnectionTokens, equalsLowerAscii, isSkippedResponseHeader, VIA_TOKEN } from './forward-headers.js';
import type { UpstreamHandler } from './http1/upstream-pool.js';

/** The parts of the worker a call needs; implemented by the runloop. */
export interface ProxyHost {
  /** A failure before the response head: answer with a Kong-style error. */
  failUpstream(ctx: RequestContext, ex: Downstream, status: number, err: Error): void;
  /** Headers phase hook: returns the final header list (plugins may edit). */
  responseHeaders(ctx: RequestContext, status: number, raw: HeaderValue[], contentLength: number): HeaderValue[];
  /** Body filter hook, or null when no plugin filters bodies on this route. */
  bodyFilter(ctx: RequestContext): ((chunk: Buffer, last: boolean) => Buffer) | null;
  /** The exchange is over (response sent, or abandoned). */
  finish(ctx: RequestContext, ex: Downstream, err: Error | null): void;
  /** A header filter replaced the upstream's response (ctx.responseAbort): answer with this instead. */
  replaceResponse(ctx: RequestContext, ex: Downstream, reply: LocalReply): void;
  /** Retry hook for connection failures; returns true when it took over. */
  retry(ctx: RequestContext, ex: Downstream, err: Error, attempt: number): boolean;
}

/** The body stream of each exchange that has one, so its ProxyCall can watch the upstream side. */
const bodyStreams = new WeakMap<Downstream, RequestBodyStream>();

/** Request body as a Readable that the upstream pool consumes, with backpressure to the client. */
export class RequestBodyStream extends Readable implements RequestBodySink {
  private readonly ex: Downstream;
  /**
   * Told when the pool stops taking the body (it pauses the stream when the upstream socket
   * is full) and when it takes it again: the service's write_timeout runs in between.
   */
  onUpstreamBlocked: ((blocked: boolean) => void) | null = null;

  constructor(ex: Downstream) {
    super({ highWaterMark: 64 * 1024 });
    this.ex = ex;
    bodyStreams.set(ex, this);
  }

  onBodyChunk(chunk: Buffer): void {
    if (!this.push(chunk)) this.ex.pauseBody();
  }

  onBodyEnd(): void {
    this.push(null);
  }

  /** The body was cut (size limit, inspection): the pool aborts the upstream request with this error. */
  onBodyError(err: Error): void {
    this.destroy(err);
  }

  override _read(): void {
    this.ex.resumeBody();
  }

  override pause(): this {
    super.pause();
    const cb = this.onUpstreamBlocked;
    if (cb !== null) cb(true);
    return this;
  }

  override resume(): this {
    super.resume();
    const cb = this.onUpstreamBlocked;
    if (cb !== null) cb(false);
    return this;
  }
}

/** The upstream took no request body bytes for the service's write_timeout (nginx proxy_send_timeout). */
export class UpstreamWriteTimeoutError extends Error {
  readonly code = 'PORTCULLIS_UPSTREAM_WRITE_TIMEOUT';
  constructor(ms: number) {
    super(`upstream took no request body for ${ms} ms (write_timeout)`);
  }
}

const CONNECT_ERRORS = new Set(['ECONNREFUSED', 'UND_ERR_CONNECT_TIMEOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ENOTFOUND']);

export function isConnectError(err: Error): boolean {
  return CONNECT_ERRORS.has((err as NodeJS.ErrnoException).code ?? '');
}

/** Kong's status for an upstream failure: 504 for timeouts, 502 for everything else. */
export function statusForUpstreamError(err: Error): number {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'ETIMEDOUT' || code === 'PORTCULLIS_UPSTREAM_WRITE_TIMEOUT') return 504;
  return 502;
}

/** A plugin replaced or cut the upstream's response (ctx.responseAbort). */
export class ResponseReplacedError extends Error {
  readonly code = 'PORTCULLIS_RESPONSE_REPLACED';
  constructor() {
    super('upstream response refused by a plugin');
  }
}

export class ProxyCall implements UpstreamHandler {
  private readonly host: ProxyHost;
  private readonly ctx: RequestContext;
  private readonly ex: Downstream;
  private readonly attempt: number;
  private abortUpstream: ((err: Error) => void) | null = null;
  private resumeUpstream: (() => void) | null = null;
  private filter: ((chunk: Buffer, last: boolean) => Buffer) | null = null;
  private headersSeen = false;
  private done = false;
  /**
   * Length of a response body forwarded as-is with the upstream's Content-Length (no body
   * filter), else -1. Once that many bytes went to the Downstream, the last chunk may still
   * be waiting on the client: the Downstream finishes it by itself, without an onDrain.
   */
  private fixedLength = -1;
  /** The streamed request body, if any, and the write_timeout timer armed while the upstream does not take it. */
  private readonly body: RequestBodyStream | null;
  private writeTimer: NodeJS.Timeout | null = null;
  private readonly noBody: boolean;

  constructor(host: ProxyHost, ctx: RequestContext, ex: Downstream, attempt: number) {
    this.host = host;
    this.ctx = ctx;
    this.ex = ex;
    this.attempt = attempt;
    this.noBody = ctx.method === 'HEAD';
    ex.onAbort = () => this.clientAborted();
    ex.onDrain = () => {
      const resume = this.resumeUpstream;
      if (resume !== null) resume();
    };
    const body = bodyStreams.get(ex) ?? null;
    this.body = body;
    if (body !== null) body.onUpstreamBlocked = (blocked) => this.upstreamBlocked(blocked);
  }

  /**
   * write_timeout: the pool pauses the body stream when the upstream socket is full and
   * resumes it on drain; an upstream that takes nothing for write_timeout ms is given up on
   * (504 before the response head, a closed client connection after it). A client that is
   * slow to send is not this timer's business (the listener's client-body timeout).
   */
  private upstreamBlocked(blocked: boolean): void {
    if (this.writeTimer !== null) {
      clearTimeout(this.writeTimer);
      this.writeTimer = null;
    }
    if (!blocked || this.done) return;
    const ms = this.ctx.service?.write_timeout ?? 0;
    if (!(ms > 0)) return;
    this.writeTimer = setTimeout(() => {
      this.writeTimer = null;
      const abort = this.abortUpstream;
      if (this.done || abort === null) return;
      abort(new UpstreamWriteTimeoutError(ms));
    }, ms);
  }

  private clientAborted(): void {
    if (this.done) return;
    const abort = this.abortUpstream;
    if (abort !== null) abort(new Error('client aborted'));
    this.finish(new Error('client aborted'));
  }

  onConnect(abort: (err: Error) => void): void {
    this.abortUpstream = abort;
    if (this.ex.aborted) abort(new Error('client aborted'));
  }

  onHeaders(statusCode: number, rawHeaders: Array<string | Buffer>, resume: () => void, upstreamLength: number): boolean {
    if (this.done || this.ex.aborted) return false;
    // 1xx interim responses are not forwarded (uWS answered Expect itself).
    if (statusCode < 200) return true;
    this.headersSeen = true;
    this.resumeUpstream = resume;
    const ctx = this.ctx;
    ctx.upstreamHeadersAt = performance.now();

    let headers: HeaderValue[] = [];
    // Content-Length (parsed by the pool) is among the skipped names: the listener frames.
    let contentLength = upstreamLength;
    let dropped: string[] | null = null;
    for (let i = 0; i < rawHeaders.length; i += 2) {
      const name = rawHeaders[i]!;
      if (isSkippedResponseHeader(name)) {
        if (name.length === 10 && equalsLowerAscii(name, 'connection')) dropped = addConnectionTokens(dropped, rawHeaders[i + 1]!);
        continue;
      }
      headers.push(name, rawHeaders[i + 1]!);
    }
    // Headers named in Connection are hop-by-hop too (rare: the usual values name none).
    if (dropped !== null) headers = withoutNames(headers, dropped);
    let viaIndex = -1;
    for (let i = 0; i < headers.length; i += 2) {
      if (equalsLowerAscii(headers[i]!, 'via')) viaIndex = i;
    }
    if (viaIndex >= 0) headers[viaIndex + 1] = `${headers[viaIndex + 1]!.toString()}, ${VIA_TOKEN}`;
    else headers.push('Via', VIA_TOKEN);

    const final = this.host.responseHeaders(ctx, statusCode, headers, contentLength);
    const replacement = ctx.responseAbort;
    if (replacement !== null) {
      // A header filter refused the upstream's response (e.g. over a size limit): nothing
      // of it reaches the client, which gets the plugin's reply instead.
      ctx.responseAbort = null;
      this.release();
      const abort = this.abortUpstream;
      if (abort !== null) abort(new ResponseReplacedError());
      this.host.replaceResponse(ctx, this.ex, replacement);
      return false;
    }
    const noBody = this.noBody || statusCode === 204 || statusCode === 304;
    this.filter = noBody ? null : this.host.bodyFilter(ctx);
    // A body filter may change the length: stream chunked then.
    if (this.filter !== null) contentLength = -1;
    this.fixedLength = noBody ? -1 : contentLength;
    ctx.status = ctx.response?.status ?? statusCode;
    this.ex.writeHead(ctx.status, final, contentLength, noBody);
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.done) return false;
    this.ctx.bytesOut += chunk.length;
    if (this.noBody) return true;
    const filter = this.filter;
    if (filter !== null) {
      chunk = filter(chunk, false);
      if (this.ctx.responseAbort !== null) return this.cutResponse();
      if (chunk.length === 0) return true;
    }
    if (this.ex.write(chunk)) return true;
    // The client is behind. On the last chunk of a fixed-length body the Downstream sends
    // the rest from its writable callback and completes the response there, with no
    // onDrain: pausing the upstream now would leave the upstream request (and its pooled
    // connection) waiting for a resume that never comes.
    return this.fixedLength >= 0 && this.ctx.bytesOut >= this.fixedLength;
  }

  onComplete(): void {
    if (this.done) return;
    const filter = this.filter;
    if (filter !== null) {
      const tail = filter(Buffer.alloc(0), true);
      if (this.ctx.responseAbort !== null) {
        this.cutResponse();
        return;
      }
      if (tail.length > 0) this.ex.write(tail);
    }
    // A complete fixed-length body is finished by the Downstream itself (possibly still
    // flushing its tail to a slow client); end() is for chunked bodies, and for a
    // fixed-length body cut short it closes the connection (never a clean short body).
    if (this.fixedLength < 0 || this.ctx.bytesOut !== this.fixedLength) this.ex.end();
    this.finish(null);
  }

  onError(err: Error): void {
    if (this.done) return;
    if (this.ex.aborted) {
      this.finish(err);
      return;
    }
    if (!this.headersSeen) {
      if (isConnectError(err) && this.host.retry(this.ctx, this.ex, err, this.attempt)) {
        this.done = true;
        return;
      }
      // failUpstream answers the client and finishes the request itself (log phase and
      // observers run once): only release this call's own state here.
      this.release();
      this.host.failUpstream(this.ctx, this.ex, statusForUpstreamError(err), err);
      return;
    }
    // Mid-body failure: the client must see a broken response, never a clean short one.
    this.ex.destroy();
    this.finish(err);
  }

  /**
   * A body filter refused the response. Before any byte of it went out, the client gets the
   * filter's reply; after, it must see a broken response (never a clean short one). Either
   * way the upstream request is dropped.
   */
  private cutResponse(): false {
    const err = new ResponseReplacedError();
    const abort = this.abortUpstream;
    const reply = this.ctx.responseAbort;
    if (reply !== null && this.ex.retractHead()) {
      // Nothing of the upstream's response reached the client yet (its head is held until
      // the first body byte, and the filter held every byte back): the client gets the
      // plugin's reply instead, as Kong answers it (oas-validation's 406).
      this.ctx.responseAbort = null;
      this.release();
      if (abort !== null) abort(err);
      this.host.replaceResponse(this.ctx, this.ex, reply);
      return false;
    }
    this.ex.destroy();
    this.finish(err);
    if (abort !== null) abort(err);
    return false;
  }

  private finish(err: Error | null): void {
    if (this.done) return;
    this.release();
    this.host.finish(this.ctx, this.ex, err);
  }

  /** Marks the call done and drops its timers and callbacks. */
  private release(): void {
    this.done = true;
    if (this.writeTimer !== null) {
      clearTimeout(this.writeTimer);
      this.writeTimer = null;
    }
    if (this.body !== null) this.body.onUpstreamBlocked = null;
    this.ex.onAbort = null;
    this.ex.onDrain = null;
  }
}

/** `headers` without the entries whose (case-folded) name is in `names` (lowercase). */
function withoutNames(headers: HeaderValue[], names: readonly string[]): HeaderValue[] {
  const out: HeaderValue[] = [];
  for (let i = 0; i < headers.length; i += 2) {
    if (!names.includes(headers[i]!.toString('latin1').toLowerCase())) out.push(headers[i]!, headers[i + 1]!);
  }
  return out;
}
