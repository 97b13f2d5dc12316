/**
 * The upstream client: a keep-alive pool of HTTP/1.1 connections per upstream origin, per
 * worker (Kong's upstream keepalive pool), with the small dispatch interface the proxy
 * needs and nothing else.
 *
 * Why our own and not undici: measured on the bench machine, a bare uWS proxy on undici
 * spends ~27 µs of CPU per request against ~20 µs on a minimal node:net client, and the
 * gateway's whole budget at nginx's pace is ~15 µs. undici's generality (header objects
 * and validation per request, wasm parser callbacks, request queue bookkeeping, timers per
 * request) is what we pay for. Here: one write per request (head and a buffered body
 * corked into one syscall), headers passed on as Buffers sliced from the bytes read, one
 * coarse timer per worker for every deadline, no per-request closures on the bodiless path
 * but the abort function.
 *
 * The handler interface is undici's legacy one (onConnect/onHeaders/onData/onComplete/
 * onError), and error codes are undici's (UND_ERR_CONNECT_TIMEOUT, UND_ERR_HEADERS_TIMEOUT,
 * UND_ERR_BODY_TIMEOUT, UND_ERR_SOCKET), so ProxyCall and the error mapping stay the same.
 */
import { performance } from 'node:perf_hooks';
import net from 'node:net';
import type { Readable } from 'node:stream';
import tls from 'node:tls';
import { BodyKind, ResponseParser, type ResponseEvents } from './response-parser.js';

/**
 * Header names and values are latin1 strings, or Buffers when they carry bytes above 0x7F.
 * Header and body Buffers handed to a handler are slices of the connection's read buffer.
 * They stay valid until the exchange ends (onComplete/onError); a handler that keeps one
 * beyond that must copy it, because the next response on the connection is read into the
 * same memory.
 */
export interface UpstreamHandler {
  /** Called at dispatch with a function that aborts the request (then onError follows). */
  onConnect(abort: (err: Error) => void): void;
  /**
   * The final response head; return false to pause until `resume` is called. `contentLength`
   * is the parsed Content-Length (-1 when absent): its header is in `rawHeaders` too.
   */
  onHeaders(status: number, rawHeaders: Array<string | Buffer>, resume: () => void, contentLength: number): boolean;
  /** A piece of response body; return false to pause until `resume` is called. */
  onData(chunk: Buffer): boolean;
  onComplete(trailers: null): void;
  onError(err: Error): void;
}

export interface UpstreamRequest {
  path: string;
  method: string;
  /** Flat [name, value, ...]; Content-Length and Transfer-Encoding are replaced by our framing. */
  headers: string[];
  /**
   * The caller guarantees every name is a token and no value has CR, LF or NUL (the gateway's
   * request guard checked them), so dispatch does not check them again. The path always is.
   */
  headersChecked?: boolean;
  /** A buffered body, a stream (sent with the request's Content-Length, else chunked), or none. */
  body: Buffer | Readable | null;
  /** ms to wait for the response head once the request is sent (read_timeout); 0 = none. */
  headersTimeout: number;
  /** ms to wait between two reads of the response body (read_timeout); 0 = none. */
  bodyTimeout: number;
}

export interface PoolOptions {
  /** Connections per origin; requests queue beyond it. */
  connections: number;
  /** Idle keep-alive connections are closed after this long (Kong's upstream_keepalive_idle_timeout). */
  keepAliveTimeoutMs: number;
  /** Connect timeout (the service's connect_timeout). */
  connectTimeoutMs: number;
}

function codedError(code: string, message: string): Error {
  const err = new Error(message) as Error & { code: string };
  err.code = code;
  return err;
}

/** Whether header name `name` is `lower` (same length), ASCII case folded: no lowercased copy. */
function isNamed(name: string, lower: string): boolean {
  for (let i = 0; i < lower.length; i++) {
    let c = name.charCodeAt(i);
    if (c >= 0x41 && c <= 0x5a) c += 0x20;
    if (c !== lower.charCodeAt(i)) return false;
  }
  return true;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const BAD_VALUE = /[\r\n\0]/;
/** Methods that may be replayed on a fresh connection when a reused one turns out dead. */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE', 'TRACE']);
/** Methods for which a request without a body still says Content-Length: 0 (as undici does). */
const EXPECTS_BODY = new Set(['POST', 'PUT', 'PATCH']);
/** A keep-alive hint from the upstream is shortened by this much, against the close race. */
const HINT_MARGIN_MS = 1000;
/** Granularity of every deadline (connect, read, idle). */
const TICK_MS = 50;
/**
 * A connection's reusable read buffer: a small response (head and body) fits in one read.
 * Kept per connection, so 256 pooled connections hold 4 MiB per worker.
 */
const READ_BUFFER_BYTES = 16 * 1024;
/** Reads of a response still running get their own buffer of node's usual read size. */
const STREAM_READ_BUFFER_BYTES = 64 * 1024;

/** One dispatched request while it waits for, or runs on, a connection. */
class Exchange {
  readonly req: UpstreamRequest;
  readonly handler: UpstreamHandler;
  readonly pool: UpstreamPool;
  conn: Connection | null = null;
  done = false;
  /** Set when the request was replayed once on a fresh connection (stale keep-alive). */
  replayed = false;
  readonly abort = (err: Error): void => this.pool.abortExchange(this, err);

  constructor(pool: UpstreamPool, req: UpstreamRequest, handler: UpstreamHandler) {
    this.pool = pool;
    this.req = req;
    this.handler = handler;
  }
}

const S_CONNECTING = 0;
const S_IDLE = 1;
const S_ACTIVE = 2;
const S_CLOSED = 3;

class Connection implements ResponseEvents {
  readonly pool: UpstreamPool;
  readonly socket: net.Socket;
  private readonly parser: ResponseParser;
  state = S_CONNECTING;
  ex: Exchange | null = null;
  /** Requests completed on this connection (a reused one may have been closed by the upstream). */
  served = 0;
  /** Any byte of the current response received. */
  private gotBytes = false;
  private reusable = false;
  private responseDone = false;
  /** The request (with its body) is fully written. */
  private requestSent = false;
  private paused = false;
  private pending: Buffer | null = null;
  /** Absolute deadline (performance.now() ms) of whatever is awaited; 0 = none. */
  deadline = 0;
  private deadlineCode = '';
  private bodyTimeout = 0;
  idleUntil = 0;
  private body: Readable | null = null;
  private bodyExpected = -1;
  private bodySent = 0;
  private bodyChunked = false;
  private readonly resumeBound = (): void => this.resume();
  private readonly onBodyData = (chunk: Buffer): void => this.writeBodyChunk(chunk);
  private readonly onBodyEnd = (): void => this.endBody();
  private readonly onBodyError = (err: Error): void => this.fail(err);
  /**
   * Where the next read lands (plain TCP only). The bytes a handler gets are slices of it,
   * so it is reused only when no slice can still be held: the exchange it carried is over.
   * While an exchange runs (a held-back head, a paused chunk, a body filter collecting
   * chunks), every read gets a fresh buffer, as node's own reads do.
   */
  private readBuf: Buffer | null = null;
  private readonly nextReadBuffer = (): Buffer => this.readBuf!;
  private readonly onRead = (nread: number, buf: Buffer): boolean => {
    this.onSocketData(buf.subarray(0, nread));
    if (this.ex !== null) this.readBuf = Buffer.allocUnsafeSlow(STREAM_READ_BUFFER_BYTES);
    return true;
  };

  constructor(pool: UpstreamPool) {
    this.pool = pool;
    this.parser = new ResponseParser(this);
    const o = pool.origin;
    if (o.tls) {
      this.socket = tls.connect({ host: o.host, port: o.port, servername: net.isIP(o.host) === 0 ? o.host : undefined });
      this.socket.on('data', (buf: Buffer) => this.onSocketData(buf));
    } else {
      // Plain TCP reads straight into this connection's own buffer (node's `onread`):
      // no Buffer allocated per read and none of the Readable machinery, which together
      // cost more per request than parsing the response does.
      this.readBuf = Buffer.allocUnsafeSlow(READ_BUFFER_BYTES);
      this.socket = net.connect({ host: o.host, port: o.port, onread: { buffer: this.nextReadBuffer, callback: this.onRead } });
    }
    this.socket.setNoDelay(true);
    this.deadline = performance.now() + pool.options.connectTimeoutMs;
    this.deadlineCode = 'UND_ERR_CONNECT_TIMEOUT';
    this.socket.once(o.tls ? 'secureConnect' : 'connect', () => this.connected());
    this.socket.on('drain', () => {
      if (this.body !== null) this.body.resume();
    });
    this.socket.on('end', () => this.onSocketEnd());
    this.socket.on('error', (err) => this.fail(err));
    this.socket.on('close', () => this.onSocketClose());
  }

  private connected(): void {
    if (this.state === S_CLOSED) return;
    this.deadline = 0;
    this.state = this.ex !== null ? S_ACTIVE : S_IDLE;
    if (this.ex !== null) this.armHeadersDeadline();
  }

  /** Runs `ex` on this connection (idle, or still connecting). */
  start(ex: Exchange): void {
    ex.conn = this;
    this.ex = ex;
    this.gotBytes = false;
    this.reusable = false;
    this.responseDone = false;
    this.requestSent = false;
    this.paused = false;
    this.pending = null;
    this.body = null;
    this.bodySent = 0;
    this.bodyExpected = -1;
    this.bodyChunked = false;
    this.bodyTimeout = ex.req.bodyTimeout;
    this.parser.reset(ex.req.method === 'HEAD');
    if (this.state === S_IDLE) this.state = S_ACTIVE;
    this.writeRequest(ex.req);
  }

  private writeRequest(req: UpstreamRequest): void {
    const socket = this.socket;
    const hs = req.headers;
    let head = `${req.method} ${req.path} HTTP/1.1\r\n`;
    let declaredLength = -1;
    for (let i = 0; i < hs.length; i += 2) {
      const name = hs[i]!;
      const value = hs[i + 1]!;
      if (name.length === 14 && isNamed(name, 'content-length')) {
        declaredLength = Number(value);
        continue;
      }
      if (name.length === 17 && isNamed(name, 'transfer-encoding')) continue;
      head += `${name}: ${value}\r\n`;
    }
    // Said explicitly (as undici does) for upstreams that still default to HTTP/1.0 habits.
    head += 'connection: keep-alive\r\n';
    const body = req.body;
    if (body === null) {
      if (declaredLength >= 0 || EXPECTS_BODY.has(req.method)) head += 'content-length: 0\r\n';
      socket.write(`${head}\r\n`, 'latin1');
      this.requestWritten();
    } else if (Buffer.isBuffer(body)) {
      socket.cork();
      socket.write(`${head}content-length: ${body.length}\r\n\r\n`, 'latin1');
      socket.write(body);
      socket.uncork();
      this.requestWritten();
    } else {
      if (declaredLength >= 0) {
        this.bodyExpected = declaredLength;
        head += `content-length: ${declaredLength}\r\n\r\n`;
      } else {
        this.bodyChunked = true;
        head += 'transfer-encoding: chunked\r\n\r\n';
      }
      socket.write(head, 'latin1');
      this.body = body;
      body.on('data', this.onBodyData);
      body.on('end', this.onBodyEnd);
      body.on('error', this.onBodyError);
    }
  }

  private writeBodyChunk(chunk: Buffer): void {
    if (this.ex === null) return;
    this.bodySent += chunk.length;
    if (this.bodyExpected >= 0 && this.bodySent > this.bodyExpected) {
      this.fail(codedError('UND_ERR_REQ_CONTENT_LENGTH_MISMATCH', 'request body longer than its Content-Length'));
      return;
    }
    let ok: boolean;
    if (this.bodyChunked) {
      const socket = this.socket;
      socket.cork();
      socket.write(`${chunk.length.toString(16)}\r\n`, 'latin1');
      socket.write(chunk);
      ok = socket.write('\r\n', 'latin1');
      socket.uncork();
    } else {
      ok = this.socket.write(chunk);
    }
    // undici's contract with the body stream: pause() while the upstream socket is full
    // (ProxyCall's write_timeout watches exactly that), resume() on drain.
    if (!ok) this.body?.pause();
  }

  private endBody(): void {
    if (this.ex === null) return;
    if (this.bodyExpected >= 0 && this.bodySent !== this.bodyExpected) {
      this.fail(codedError('UND_ERR_REQ_CONTENT_LENGTH_MISMATCH', 'request body shorter than its Content-Length'));
      return;
    }
    if (this.bodyChunked) this.socket.write('0\r\n\r\n', 'latin1');
    this.detachBody();
    this.requestWritten();
    if (this.responseDone) this.complete();
  }

  private detachBody(): void {
    const body = this.body;
    if (body === null) return;
    this.body = null;
    body.off('data', this.onBodyData);
    body.off('end', this.onBodyEnd);
    body.off('error', this.onBodyError);
  }

  private requestWritten(): void {
    this.requestSent = true;
    if (this.state === S_ACTIVE && !this.gotBytes) this.armHeadersDeadline();
  }

  /** read_timeout for the head runs once the request is sent (nginx proxy_read_timeout). */
  private armHeadersDeadline(): void {
    const ex = this.ex;
    if (ex === null || !this.requestSent || this.gotBytes) return;
    const t = ex.req.headersTimeout;
    this.deadline = t > 0 ? performance.now() + t : 0;
    this.deadlineCode = 'UND_ERR_HEADERS_TIMEOUT';
  }

  private onSocketData(buf: Buffer): void {
    const ex = this.ex;
    if (ex === null) {
      // Bytes nobody asked for on an idle connection: it cannot be trusted any more.
      this.destroy();
      return;
    }
    this.gotBytes = true;
    this.feed(buf);
  }

  private feed(buf: Buffer): void {
    let used: number;
    try {
      used = this.parser.feed(buf);
    } catch (err) {
      this.fail(err as Error);
      return;
    }
    if (this.ex === null || this.state === S_CLOSED) return;
    if (this.responseDone) {
      // Bytes beyond the response: the upstream is out of step, never reuse.
      if (used < buf.length) this.reusable = false;
      if (this.requestSent) this.complete();
      return;
    }
    if (used < buf.length) this.pending = buf.subarray(used);
    if (this.paused) {
      this.deadline = 0;
      this.socket.pause();
    } else if (this.pending !== null) {
      // The parser stopped after a head that asked to pause only now resumed: go on.
      const rest = this.pending;
      this.pending = null;
      this.feed(rest);
    }
  }

  private resume(): void {
    if (!this.paused || this.ex === null) return;
    this.paused = false;
    this.armBodyDeadline();
    const rest = this.pending;
    if (rest !== null) {
      this.pending = null;
      this.feed(rest);
      if (this.paused || this.ex === null) return;
    }
    this.socket.resume();
  }

  private armBodyDeadline(): void {
    const t = this.bodyTimeout;
    this.deadline = t > 0 ? performance.now() + t : 0;
    this.deadlineCode = 'UND_ERR_BODY_TIMEOUT';
  }

  // ---- ResponseEvents -----------------------------------------------------------------

  onHead(status: number, headers: Array<string | Buffer>, kind: BodyKind, keepAlive: boolean, hintMs: number, contentLength: number): boolean {
    const ex = this.ex;
    if (ex === null) return false;
    this.reusable = keepAlive;
    if (hintMs > 0) this.hintMs = hintMs;
    if (kind !== BodyKind.None) this.armBodyDeadline();
    else this.deadline = 0;
    const go = ex.handler.onHeaders(status, headers, this.resumeBound, contentLength);
    if (!go && this.ex === ex && kind !== BodyKind.None) this.paused = true;
    return go;
  }

  /** The upstream's Keep-Alive: timeout=N, in ms (0 when it sent none). */
  private hintMs = 0;

  onBody(chunk: Buffer): boolean {
    const ex = this.ex;
    if (ex === null) return false;
    if (this.bodyTimeout > 0) this.deadline = performance.now() + this.bodyTimeout;
    const go = ex.handler.onData(chunk);
    if (this.ex !== ex) return false;
    if (!go) this.paused = true;
    return go;
  }

  onEnd(): void {
    if (this.ex === null) return;
    this.responseDone = true;
    this.deadline = 0;
    // A response that ends before its request body was sent (an early 413, say): the
    // upstream will not read the rest, so the connection cannot be reused.
    if (!this.requestSent) {
      this.reusable = false;
      this.detachBody();
      this.requestSent = true;
    }
  }

  /** The exchange finished cleanly: tell the handler, then reuse or close the connection. */
  private complete(): void {
    const ex = this.ex;
    if (ex === null) return;
    this.ex = null;
    ex.done = true;
    ex.conn = null;
    this.served++;
    const reuse = this.reusable && !this.parser.untilClose;
    this.pool.finished(this, reuse, this.hintMs);
    ex.handler.onComplete(null);
  }

  private onSocketEnd(): void {
    if (this.ex !== null && this.parser.untilClose) {
      this.parser.end();
      this.reusable = false;
      this.complete();
      return;
    }
    this.fail(codedError('UND_ERR_SOCKET', 'other side closed'));
  }

  private onSocketClose(): void {
    this.fail(codedError('UND_ERR_SOCKET', 'other side closed'));
  }

  /** Deadline check from the pool's tick. */
  expire(now: number): void {
    if (this.deadline !== 0 && now >= this.deadline) {
      const code = this.deadlineCode;
      const msg =
        code === 'UND_ERR_CONNECT_TIMEOUT'
          ? `connect timeout after ${this.pool.options.connectTimeoutMs} ms`
          : code === 'UND_ERR_HEADERS_TIMEOUT'
            ? 'upstream sent no response head within read_timeout'
            : 'upstream sent no body bytes within read_timeout';
      this.fail(codedError(code, msg));
    }
  }

  /** Ends the connection because of `err`; the exchange on it (if any) gets the error. */
  fail(err: Error): void {
    if (this.state === S_CLOSED) return;
    const ex = this.ex;
    const replayable =
      ex !== null && !ex.replayed && this.served > 0 && !this.gotBytes && !(ex.req.body !== null && !Buffer.isBuffer(ex.req.body)) && IDEMPOTENT.has(ex.req.method);
    this.ex = null;
    this.detachBody();
    this.destroy();
    if (ex === null || ex.done) return;
    ex.conn = null;
    if (replayable) {
      // A reused keep-alive connection died before any answer (the upstream closed it as
      // we sent): the request never reached an application, so it goes out again once.
      ex.replayed = true;
      this.pool.run(ex);
      return;
    }
    ex.done = true;
    ex.handler.onError(err);
  }

  destroy(): void {
    if (this.state === S_CLOSED) return;
    this.state = S_CLOSED;
    this.deadline = 0;
    this.socket.destroy();
    this.pool.removed(this);
  }
}

/** Every pool of this thread with live connections, for the one deadline timer. */
const livePools = new Set<UpstreamPool>();
let ticker: NodeJS.Timeout | null = null;

function tick(): void {
  const now = performance.now();
  for (const pool of livePools) pool.expire(now);
  if (livePools.size === 0 && ticker !== null) {
    clearInterval(ticker);
    ticker = null;
  }
}

export interface Origin {
  tls: boolean;
  host: string;
  port: number;
}

export function parseOrigin(origin: string): Origin {
  const u = new URL(origin);
  const isTls = u.protocol === 'https:';
  let host = u.hostname;
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  return { tls: isTls, host, port: u.port !== '' ? Number(u.port) : isTls ? 443 : 80 };
}

export class UpstreamPool {
  readonly origin: Origin;
  readonly options: PoolOptions;
  private readonly idle: Connection[] = [];
  private readonly all = new Set<Connection>();
  private readonly queue: Exchange[] = [];
  private closing: (() => void) | null = null;
  private closed = false;

  constructor(origin: string, options: PoolOptions) {
    this.origin = parseOrigin(origin);
    this.options = options;
  }

  /**
   * Sends a request. Header names and values are checked as undici does (unless the request
   * says they were): a value with CR, LF or NUL, or a name that is not a token, throws here
   * (the caller answers 400).
   */
  dispatch(req: UpstreamRequest, handler: UpstreamHandler): void {
    if (req.headersChecked !== true) {
      const hs = req.headers;
      for (let i = 0; i < hs.length; i += 2) {
        if (!TOKEN.test(hs[i]!) || BAD_VALUE.test(hs[i + 1]!)) throw codedError('UND_ERR_INVALID_ARG', `invalid header ${JSON.stringify(hs[i])}`);
      }
    }
    if (BAD_VALUE.test(req.path) || req.path.includes(' ')) throw codedError('UND_ERR_INVALID_ARG', 'invalid request path');
    const ex = new Exchange(this, req, handler);
    handler.onConnect(ex.abort);
    if (ex.done) return;
    if (this.closed) {
      ex.done = true;
      handler.onError(codedError('UND_ERR_CLOSED', 'upstream pool closed'));
      return;
    }
    this.run(ex);
  }

  /** Puts `ex` on an idle connection, a new one, or the queue. */
  run(ex: Exchange): void {
    const conn = this.idle.pop();
    if (conn !== undefined) {
      conn.idleUntil = 0;
      conn.start(ex);
      return;
    }
    if (this.all.size < this.options.connections) {
      const c = new Connection(this);
      this.all.add(c);
      this.watch();
      c.start(ex);
      return;
    }
    this.queue.push(ex);
  }

  abortExchange(ex: Exchange, err: Error): void {
    if (ex.done) return;
    const conn = ex.conn;
    if (conn !== null) {
      // The connection is in an unknown state mid-exchange: close it.
      ex.replayed = true;
      conn.fail(err);
      return;
    }
    ex.done = true;
    const i = this.queue.indexOf(ex);
    if (i >= 0) this.queue.splice(i, 1);
    ex.handler.onError(err);
  }

  /** A connection finished its exchange. */
  finished(conn: Connection, reuse: boolean, hintMs: number): void {
    if (!reuse || this.closed) {
      conn.destroy();
      this.next();
      return;
    }
    const next = this.queue.shift();
    if (next !== undefined) {
      conn.start(next);
      return;
    }
    const idleMs = hintMs > 0 ? Math.min(this.options.keepAliveTimeoutMs, hintMs - HINT_MARGIN_MS) : this.options.keepAliveTimeoutMs;
    if (idleMs <= 0) {
      conn.destroy();
      return;
    }
    conn.state = S_IDLE;
    conn.idleUntil = performance.now() + idleMs;
    this.idle.push(conn);
  }

  /** A connection closed (for whatever reason). */
  removed(conn: Connection): void {
    this.all.delete(conn);
    const i = this.idle.indexOf(conn);
    if (i >= 0) this.idle.splice(i, 1);
    if (this.closing !== null && this.all.size === 0) this.closing();
    this.next();
  }

  /** Starts queued requests on new connections while below the limit. */
  private next(): void {
    while (this.queue.length > 0 && !this.closed && this.all.size < this.options.connections) {
      this.run(this.queue.shift()!);
    }
  }

  private watch(): void {
    livePools.add(this);
    if (ticker === null) {
      ticker = setInterval(tick, TICK_MS);
      ticker.unref();
    }
  }

  expire(now: number): void {
    if (this.all.size === 0) {
      livePools.delete(this);
      return;
    }
    for (const conn of this.all) {
      if (conn.state === S_IDLE) {
        if (conn.idleUntil !== 0 && now >= conn.idleUntil) conn.destroy();
      } else conn.expire(now);
    }
  }

  /** Number of open connections (tests, status). */
  get size(): number {
    return this.all.size;
  }

  /** Stops taking requests; idle connections close now, busy ones after their exchange. */
  close(): Promise<void> {
    this.closed = true;
    for (const conn of [...this.idle]) conn.destroy();
    for (const ex of this.queue.splice(0)) {
      ex.done = true;
      ex.handler.onError(codedError('UND_ERR_CLOSED', 'upstream pool closed'));
    }
    if (this.all.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.closing = resolve;
    });
  }
}
