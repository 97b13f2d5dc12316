/**
 * Downstream implemented on a uWS HttpResponse.
 *
 * uWS rules this file exists to honour (stack-facts.md):
 * - touching `res` after onAborted kills the process: every method checks `aborted`;
 * - onData must be attached before the handler returns or body bytes are lost, so it is
 *   attached in the constructor and chunks queue until a sink attaches;
 * - outside the request handler every write must be corked; we cork through module-level
 *   trampolines instead of per-call closures (the hot path allocates nothing here);
 * - with a known length we use tryEnd so the client gets Content-Length, and resend the
 *   unsent tail from onWritable (uWS does not buffer what tryEnd could not write);
 * - a streamed response's head is held back until the first body chunk (or the end), so
 *   head and body leave in one cork, i.e. one send() instead of two: for the small
 *   responses that dominate API traffic that is the biggest single cost on the data path.
 */
import { performance } from 'node:perf_hooks';
import type { HttpResponse } from 'uWebSockets.js';
import { statusLine } from '../../src/shared/http-messages.js';
import { RequestBodyLimitError, type Downstream, type HeaderValue, type RequestBodySink } from './downstream.js';
import type { InflightEntry } from './inflight-list.js';

const MODE_NONE = 0;
const MODE_FIXED = 1;
const MODE_CHUNKED = 2;

/** Request body bytes we hold before a sink attaches; above this the client is paused. */
const BODY_QUEUE_LIMIT = 64 * 1024;

/**
 * Status lines as bytes, one per status: uWS takes a Buffer as it is, where every string
 * argument is copied out through a freshly malloc'd UTF-8 buffer.
 */
const STATUS_BYTES: Buffer[] = [];
function statusBytes(status: number): Buffer {
  let b = STATUS_BYTES[status];
  if (b === undefined) STATUS_BYTES[status] = b = Buffer.from(statusLine(status), 'latin1');
  return b;
}

// Trampoline state for corked calls (set immediately before a synchronous res.cork()).
let corkTarget: UwsExchange | null = null;
let corkChunk: Buffer | null = null;
let corkStatus = 0;
let corkHeaders: ReadonlyArray<HeaderValue> | null = null;
let corkBody: string | Buffer | null = null;
let corkClose = false;
let corkLength = -1;
let corkNoBody = false;

function corkedRespond(): void {
  const ex = corkTarget as UwsExchange;
  ex.doRespond(corkStatus, corkHeaders as ReadonlyArray<HeaderValue>, corkBody, corkClose);
}
function corkedWriteHead(): void {
  const ex = corkTarget as UwsExchange;
  ex.doWriteHead(corkStatus, corkHeaders as ReadonlyArray<HeaderValue>, corkLength, corkNoBody);
}
let corkResult = false;
function corkedWrite(): void {
  corkResult = (corkTarget as UwsExchange).doWrite(corkChunk as Buffer);
}
function corkedEnd(): void {
  (corkTarget as UwsExchange).doEnd();
}

/**
 * Writes a flat header list. Runs of text headers go out in ONE writeHeader call, packed
 * as "v1\r\nName2: v2..." (uWS writes `key: value\r\n` verbatim): each native call costs
 * more than the bytes, and a response carries a dozen headers (bench: key-auth-rate-limiting
 * +7 headers). Safe: header values never contain CR or LF here (request values are checked
 * by request-guard.ts, upstream values by undici's parser, ours are built by the gateway),
 * and uWS would write such bytes verbatim whether packed or not.
 */
function writeHeaders(res: HttpResponse, headers: ReadonlyArray<HeaderValue>): void {
  let i = 0;
  const n = headers.length;
  while (i < n) {
    const name = headers[i]!;
    const value = headers[i + 1]!;
    i += 2;
    if (typeof name !== 'string' || typeof value !== 'string' || i >= n || typeof headers[i] !== 'string' || typeof headers[i + 1] !== 'string') {
      res.writeHeader(name, value);
      continue;
    }
    let packed = value;
    while (i < n && typeof headers[i] === 'string' && typeof headers[i + 1] === 'string') {
      packed += `\r\n${headers[i] as string}: ${headers[i + 1] as string}`;
      i += 2;
    }
    res.writeHeader(name, packed);
  }
}

export interface ExchangeOwner {
  /** Called exactly once when the exchange is finished or aborted. */
  exchangeDone(ex: UwsExchange): void;
}

export class UwsExchange implements Downstream, InflightEntry {
  aborted = false;
  finished = false;
  headSent = false;
  readonly hasBody: boolean;
  readonly contentLength: number;
  onDrain: (() => void) | null = null;
  onAbort: (() => void) | null = null;
  /** Downstream.status / bytesSent (metrics). */
  status = 0;
  bytesSent = 0;
  /** performance.now() of the last byte moved in either direction (for the idle sweep). */
  lastActivity: number;
  /** Set by the listener while the request body is still arriving. */
  receivingBody: boolean;
  /** While draining, responses carry Connection: close so clients do not reuse the socket. */
  closeAfter = false;
  /** The listener's in-flight list (inflight-list.ts). */
  inflightPrev: InflightEntry | null = null;
  inflightNext: InflightEntry | null = null;
  inflightListed = false;

  private readonly res: HttpResponse;
  private readonly owner: ExchangeOwner;
  private sink: RequestBodySink | null = null;
  private queue: Buffer[] | null = null;
  private queuedBytes = 0;
  private bodyEnded = false;
  /** Request body cap (limitBody) and bytes received so far; Infinity when uncapped. */
  private bodyLimit = Infinity;
  private bodyReceived = 0;
  get bytesReceived(): number {
    return this.bodyReceived;
  }
  private bodyError: Error | null = null;
  private paused = false;
  private mode = MODE_NONE;
  private total = 0;
  private pending: Buffer | null = null;
  private pendingStart = 0;
  private waitingDrain = false;
  private writableAttached = false;
  private released = false;
  /** A streamed response head not yet written (see writeHead). */
  private headStatus = 0;
  private headHeaders: ReadonlyArray<HeaderValue> | null = null;
  /** A fixed length turned into chunked (see doWrite): the length announced, and bytes sent. */
  private announced = -1;
  private written = 0;

  constructor(res: HttpResponse, owner: ExchangeOwner, hasBody: boolean, contentLength: number, now: number) {
    this.res = res;
    this.owner = owner;
    this.hasBody = hasBody;
    this.contentLength = contentLength;
    this.lastActivity = now;
    this.receivingBody = hasBody;
    res.onAborted(() => this.handleAborted());
    if (hasBody) res.onData((ab, isLast) => this.handleData(ab, isLast));
  }

  /** Waiting for the client to send more request body (not paused by us). */
  get stalledOnClientBody(): boolean {
    return this.receivingBody && !this.paused;
  }

  /** Waiting for the client to read response bytes it has not taken yet. */
  get stalledOnClientRead(): boolean {
    return this.pending !== null || this.waitingDrain;
  }

  // ---- request body -------------------------------------------------------------------

  private handleData(ab: ArrayBuffer, isLast: boolean): void {
    // After the response ended `res` is gone; the rest of the body is of no interest.
    if (this.aborted || this.finished) return;
    this.lastActivity = performance.now();
    if (this.bodyError !== null) return;
    this.bodyReceived += ab.byteLength;
    if (this.bodyReceived > this.bodyLimit) {
      this.failBody(new RequestBodyLimitError(this.bodyLimit));
      return;
    }
    // uWS neuters the ArrayBuffer when we return: copy.
    const chunk = ab.byteLength === 0 ? null : Buffer.from(new Uint8Array(ab));
    if (isLast) this.receivingBody = false;
    const sink = this.sink;
    if (sink !== null && this.queue === null) {
      if (chunk !== null) sink.onBodyChunk(chunk);
      if (isLast) {
        this.bodyEnded = true;
        sink.onBodyEnd();
      }
      return;
    }
    if (chunk !== null) {
      (this.queue ??= []).push(chunk);
      this.queuedBytes += chunk.length;
      if (this.queuedBytes > BODY_QUEUE_LIMIT && !this.paused) this.pauseBody();
    }
    if (isLast) this.bodyEnded = true;
  }

  limitBody(maxBytes: number): void {
    if (maxBytes >= this.bodyLimit) return;
    this.bodyLimit = maxBytes;
    if (this.bodyReceived > maxBytes && this.bodyError === null) this.failBody(new RequestBodyLimitError(maxBytes));
  }

  /** Stops the body: what is queued is dropped, the sink (now or when it attaches) gets the error. */
  private failBody(err: Error): void {
    this.bodyError = err;
    this.queue = null;
    this.queuedBytes = 0;
    // The rest of the body is never read: the connection cannot be reused.
    this.closeAfter = true;
    const sink = this.sink;
    if (sink !== null) sink.onBodyError(err);
  }

  attachBody(sink: RequestBodySink): void {
    this.sink = sink;
    if (this.bodyError !== null) {
      sink.onBodyError(this.bodyError);
      return;
    }
    const queue = this.queue;
    if (queue !== null) {
      this.queue = null;
      this.queuedBytes = 0;
      for (const chunk of queue) sink.onBodyChunk(chunk);
    }
    if (this.bodyEnded) {
      sink.onBodyEnd();
      return;
    }
    if (this.paused) this.resumeBody();
  }

  pauseBody(): void {
    if (this.aborted || this.finished || this.paused || this.bodyEnded) return;
    this.paused = true;
    this.res.pause();
  }

  resumeBody(): void {
    if (this.aborted || this.finished || !this.paused) return;
    this.paused = false;
    this.res.resume();
  }

  // ---- response -------------------------------------------------------------------------

  respond(status: number, headers: ReadonlyArray<HeaderValue>, body: string | Buffer | null, close: boolean): void {
    if (this.aborted || this.finished) return;
    this.status = status;
    if (body !== null) this.bytesSent += typeof body === 'string' ? Buffer.byteLength(body) : body.length;
    corkTarget = this;
    corkStatus = status;
    corkHeaders = headers;
    corkBody = body;
    // A reply sent before the request body was read leaves the connection unusable.
    corkClose = close || this.receivingBody;
    this.res.cork(corkedRespond);
    corkTarget = null;
    corkHeaders = null;
    corkBody = null;
  }

  /** @internal corked */
  doRespond(status: number, headers: ReadonlyArray<HeaderValue>, body: string | Buffer | null, close: boolean): void {
    const res = this.res;
    res.writeStatus(statusBytes(status));
    writeHeaders(res, headers);
    this.headSent = true;
    this.finished = true;
    const closeConn = close || this.closeAfter;
    if (body === null) {
      // endWithoutBody() must get no argument at all: `undefined` is read as 2^63 by this uWS build.
      if (status === 204 || status === 304 || (status >= 100 && status < 200)) {
        if (closeConn) res.writeHeader('Connection', 'close');
        res.endWithoutBody();
      } else res.end(undefined, closeConn);
    } else {
      res.end(body, closeConn);
    }
    this.release();
  }

  /** A HEAD reply (or any reply whose body must not be sent) that still reports its length. */
  respondNoBody(status: number, headers: ReadonlyArray<HeaderValue>, reportedLength: number): void {
    this.writeHead(status, headers, reportedLength, true);
  }

  writeHead(status: number, headers: ReadonlyArray<HeaderValue>, contentLength: number, noBody: boolean): void {
    if (this.aborted || this.finished || this.headSent) return;
    this.status = status;
    if (!noBody && contentLength !== 0) {
      // A body follows: keep the head until the first chunk so both go out together.
      this.headSent = true;
      this.headStatus = status;
      this.headHeaders = headers;
      if (contentLength > 0) {
        this.mode = MODE_FIXED;
        this.total = contentLength;
      } else {
        this.mode = MODE_CHUNKED;
      }
      return;
    }
    corkTarget = this;
    corkStatus = status;
    corkHeaders = headers;
    corkLength = contentLength;
    corkNoBody = noBody;
    this.res.cork(corkedWriteHead);
    corkTarget = null;
    corkHeaders = null;
  }

  /** @internal corked: a head with no body to follow (HEAD, 204, 304, empty body). */
  doWriteHead(status: number, headers: ReadonlyArray<HeaderValue>, contentLength: number, noBody: boolean): void {
    const res = this.res;
    res.writeStatus(statusBytes(status));
    writeHeaders(res, headers);
    this.headSent = true;
    this.finished = true;
    if (noBody) {
      // HEAD (or 304) reporting the length of the body it does not send. endWithoutBody(n)
      // would make this uWS build wait for n body bytes and wedge the connection, so the
      // length goes in as a plain header and the response ends with no length of its own.
      if (contentLength >= 0 && status !== 204) res.writeHeader('Content-Length', String(contentLength));
      if (this.closeAfter) res.writeHeader('Connection', 'close');
      res.endWithoutBody();
    } else {
      res.end(undefined, this.closeAfter);
    }
    this.release();
  }

  /** Writes the held-back head (inside a cork); `connClose` adds Connection: close when closing after. */
  private flushHead(connClose = true): void {
    const headers = this.headHeaders as ReadonlyArray<HeaderValue>;
    this.headHeaders = null;
    const res = this.res;
    res.writeStatus(statusBytes(this.headStatus));
    writeHeaders(res, headers);
    if (connClose && this.closeAfter) res.writeHeader('Connection', 'close');
  }

  write(chunk: Buffer): boolean {
    if (this.aborted || this.finished) return true;
    this.bytesSent += chunk.length;
    corkTarget = this;
    corkChunk = chunk;
    this.res.cork(corkedWrite);
    corkTarget = null;
    corkChunk = null;
    return corkResult;
  }

  /** @internal corked */
  doWrite(chunk: Buffer): boolean {
    const res = this.res;
    this.lastActivity = performance.now();
    if (this.headHeaders !== null) {
      if (this.mode === MODE_FIXED && chunk.length === this.total) {
        // The whole body in one chunk (most responses): end() sends head and body in one
        // write, keeps whatever the socket does not take yet (no retry state of ours, no
        // reference to the upstream's read buffer), and can close the connection after.
        this.flushHead(false);
        this.finished = true;
        res.end(chunk, this.closeAfter);
        this.release();
        return true;
      }
      if (this.closeAfter && this.mode === MODE_FIXED) {
        // tryEnd cannot close the connection afterwards (and close() after an end throws):
        // a longer body is sent chunked, so the connection can be closed at its end as
        // RFC 9112 9.6 requires.
        this.mode = MODE_CHUNKED;
        this.announced = this.total;
      }
      this.flushHead(true);
    }
    if (this.mode === MODE_FIXED) {
      const start = res.getWriteOffset();
      const [ok, done] = res.tryEnd(chunk, this.total);
      if (done) {
        this.finished = true;
        this.release();
        return true;
      }
      if (ok) return true;
      // The last chunk of a response may be flushed after its upstream exchange is over,
      // when the upstream connection reads the next response into the same buffer (see
      // UpstreamHandler): keep a copy of it. Earlier chunks pause the exchange instead.
      this.pending = this.bytesSent >= this.total ? Buffer.from(chunk) : chunk;
      this.pendingStart = start;
      this.attachWritable();
      return false;
    }
    this.written += chunk.length;
    if (res.write(chunk)) return true;
    this.waitingDrain = true;
    this.attachWritable();
    return false;
  }

  private attachWritable(): void {
    if (this.writableAttached) return;
    this.writableAttached = true;
    this.res.onWritable((offset) => this.handleWritable(offset));
  }

  private handleWritable(offset: number): boolean {
    if (this.aborted) return true;
    this.lastActivity = performance.now();
    const pending = this.pending;
    if (pending !== null) {
      const [ok, done] = this.res.tryEnd(pending.subarray(offset - this.pendingStart), this.total);
      if (done) {
        this.pending = null;
        this.finished = true;
        this.release();
        return true;
      }
      if (!ok) return false;
      this.pending = null;
    } else if (!this.waitingDrain) {
      return true;
    }
    this.waitingDrain = false;
    const drain = this.onDrain;
    if (drain !== null) drain();
    return true;
  }

  end(): void {
    if (this.aborted || this.finished) return;
    corkTarget = this;
    this.res.cork(corkedEnd);
    corkTarget = null;
  }

  /** @internal corked */
  doEnd(): void {
    if (this.headHeaders !== null) {
      if (this.mode === MODE_FIXED) {
        // Not one byte of an announced body arrived: nothing sent yet, but the client
        // must not see a clean empty answer either.
        this.destroy();
        return;
      }
      this.flushHead();
    }
    if (this.mode === MODE_FIXED || (this.announced >= 0 && this.written < this.announced)) {
      // Upstream ended before its announced length: the client must not see a clean end.
      this.destroy();
      return;
    }
    this.finished = true;
    this.res.end(undefined, this.closeAfter);
    this.release();
  }

  retractHead(): boolean {
    if (this.aborted || this.finished || this.headHeaders === null || this.bytesSent !== 0) return false;
    this.headHeaders = null;
    this.headSent = false;
    this.status = 0;
    this.mode = MODE_NONE;
    this.total = 0;
    this.announced = -1;
    this.written = 0;
    return true;
  }

  destroy(): void {
    if (this.aborted) return;
    // Mark first: res.close() runs onAborted synchronously.
    this.aborted = true;
    this.finished = true;
    this.res.close();
    this.release();
  }

  private handleAborted(): void {
    const wasOurs = this.aborted;
    this.aborted = true;
    this.finished = true;
    if (!wasOurs) {
      const cb = this.onAbort;
      this.onAbort = null;
      if (cb !== null) cb();
    }
    this.release();
  }

  private release(): void {
    if (this.released) return;
    this.released = true;
    this.owner.exchangeDone(this);
  }
}
