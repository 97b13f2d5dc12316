/**
 * The uWS listener adapter: accepts requests on the shared port (SO_REUSEPORT across
 * worker threads), turns each into a RequestContext + UwsExchange synchronously (uWS's
 * HttpRequest dies when the handler returns), and hands them to the runloop.
 *
 * It also owns what uWS leaves to us: request deadlines (uWS disables its timeout once a
 * handler runs), the head checks of request-guard.ts, in-flight accounting and draining.
 */
import { performance } from 'node:perf_hooks';
import { randomBytes } from 'node:crypto';
import type { HttpRequest, HttpResponse, TemplatedApp, us_listen_socket } from 'uWebSockets.js';
import type { Logger } from 'pino';
import { statusLine } from '../../src/shared/http-messages.js';
import type { GatewaySettings } from '../../src/shared/settings.js';
import type { Runloop } from '../runloop.js';
import { SERVER_TOKEN } from '../runloop.js';
import { formatBinaryAddress, resolveClientIp, type TrustedProxies } from './client-address.js';
import { errorContentType, renderError } from './error-body.js';
import { InflightList } from './inflight-list.js';
import { isGuardFailure, readRequestHead } from './request-guard.js';
import { RequestContext } from './request-context.js';
import { UwsExchange, type ExchangeOwner } from './uws-exchange.js';
import type { Uws } from './uws-native.js';

const SWEEP_INTERVAL_MS = 1000;
const CLOSE_TOKEN = /(?:^|,)\s*close\s*(?:,|$)/i;
/**
 * While draining, how long a connection that may still be kept alive gets to send its
 * next request (which is then answered with Connection: close) before it is closed.
 * Counted from the start of the drain (connections idle at that moment) and from the end
 * of each response whose head went out before the drain (and so without Connection: close).
 */
const DRAIN_QUIET_MS = 500;

export class UwsListener implements ExchangeOwner {
  readonly inflight = new InflightList<UwsExchange>();
  requests = 0;
  private readonly uws: Uws;
  private readonly app: TemplatedApp;
  private readonly settings: GatewaySettings;
  private readonly runloop: Runloop;
  private readonly trusted: TrustedProxies;
  private readonly log: Logger;
  private listenSocket: us_listen_socket | null = null;
  private listenPort = 0;
  private draining = false;
  private drainWaiter: (() => void) | null = null;
  /** Exchanges whose response head was out when the drain began: their connection stays open. */
  private keptAlive: Set<UwsExchange> | null = null;
  private lastKeptAliveEnd = 0;
  private readonly idPrefix: string;
  private idCounter = 0;
  private readonly sweepTimer: NodeJS.Timeout;

  constructor(uws: Uws, settings: GatewaySettings, runloop: Runloop, trusted: TrustedProxies, log: Logger) {
    this.uws = uws;
    this.settings = settings;
    this.runloop = runloop;
    this.trusted = trusted;
    this.log = log;
    this.idPrefix = randomBytes(8).toString('hex');
    this.app = uws.App();
    this.app.any('/*', (res, req) => this.onRequest(res, req));
    this.sweepTimer = setInterval(() => this.sweep(), SWEEP_INTERVAL_MS);
    this.sweepTimer.unref();
  }

  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.app.listen(host, port, (socket) => {
        if (socket === false) {
          reject(new Error(`cannot listen on ${host}:${port}`));
          return;
        }
        this.listenSocket = socket;
        this.listenPort = this.uws.us_socket_local_port(socket);
        resolve(this.listenPort);
      });
    });
  }

  private nextId(): string {
    const n = (++this.idCounter).toString(16);
    return this.idPrefix + '0000000000000000'.slice(n.length) + n;
  }

  private onRequest(res: HttpResponse, req: HttpRequest): void {
    const now = performance.now();
    this.requests++;
    const method = req.getCaseSensitiveMethod();
    const url = req.getUrl();
    const query = req.getQuery() ?? '';
    const head = readRequestHead(req, method, url, query, this.settings.limits);
    if (isGuardFailure(head)) {
      this.rejectHead(res, req, head.status, head.message);
      return;
    }
    const hasBody = head.chunked || head.contentLength > 0;
    const ex = new UwsExchange(res, this, hasBody, head.contentLength, now);
    this.inflight.add(ex);
    if (this.draining) ex.closeAfter = true;
    // RFC 9112 9.6: a `close` among several Connection tokens must close too (uWS only
    // honours the header when it is exactly "close").
    const conn = head.headers['connection'];
    if (conn !== undefined && conn.length > 5 && CLOSE_TOKEN.test(conn)) ex.closeAfter = true;

    const peer = formatBinaryAddress(res.getRemoteAddress());
    const headers = head.headers;
    const clientIp = resolveClientIp(peer, headers, this.trusted, this.settings.realIpHeader, this.settings.realIpRecursive);
    let scheme: 'http' | 'https' = 'http';
    if (clientIp !== peer || (!this.trusted.empty && this.trusted.has(peer))) {
      const xfp = headers['x-forwarded-proto'];
      if (xfp !== undefined && xfp.toLowerCase() === 'https') scheme = 'https';
    }
    const ctx = new RequestContext(
      this.nextId(),
      method,
      url,
      query,
      headers,
      head.repeated,
      head.host,
      // The port the request arrived on (nginx $server_port: kong.request.get_port(), the
      // router's net.dst.port, X-Forwarded-Port), never the port a client wrote in Host.
      this.listenPort,
      scheme,
      peer,
      clientIp,
      now,
    );
    ctx.headersChecked = !head.nonAscii;
    ctx.headerNames = head.names;
    ctx.downstream = ex;
    this.runloop.handle(ctx, ex);
  }

  /** Answers a request whose head failed the guards, and closes the connection. */
  /**
   * Answers a request whose head failed the guards, and closes the connection.
   *
   * The answer is written on the next turn of the loop, not inside this handler: uWS keeps
   * parsing bytes already buffered on the connection after an in-handler end(), so a
   * request smuggled behind a framing error (duplicate Content-Length, TE gzip...) would
   * be routed. With our response still pending, uWS refuses a pipelined request by closing
   * the connection, so nothing behind a rejected head is ever processed. (Rare path: the
   * closures here cost nothing on the hot path.)
   */
  private rejectHead(res: HttpResponse, req: HttpRequest, status: number, message: string): void {
    const id = this.nextId();
    const contentType = errorContentType(req.getHeader('accept'));
    const body = renderError(contentType, message, id);
    let aborted = false;
    res.onAborted(() => {
      aborted = true;
    });
    setImmediate(() => {
      if (aborted) return;
      res.cork(() => {
        res
          .writeStatus(statusLine(status))
          .writeHeader('Content-Type', contentType)
          .writeHeader('Server', SERVER_TOKEN)
          .writeHeader('X-Kong-Request-Id', id)
          .end(body, true);
      });
    });
    this.log.debug({ status, requestId: id }, 'request rejected before routing');
  }

  exchangeDone(ex: UwsExchange): void {
    this.inflight.delete(ex);
    if (this.keptAlive !== null && this.keptAlive.delete(ex)) this.lastKeptAliveEnd = performance.now();
    if (this.draining && this.inflight.size === 0 && this.drainWaiter !== null) this.drainWaiter();
  }

  /**
   * Closes an exchange on the listener's behalf (deadline, drain) and tells whoever
   * serves it (the proxy call aborts its upstream request), as a client abort would.
   */
  private abandon(ex: UwsExchange): void {
    const onAbort = ex.onAbort;
    ex.onAbort = null;
    ex.destroy();
    if (onAbort !== null) onAbort();
  }

  /** Request deadlines uWS does not enforce once a handler runs. */
  private sweep(): void {
    const now = performance.now();
    const limits = this.settings.limits;
    for (const ex of this.inflight) {
      if (ex.finished) continue;
      const idle = now - ex.lastActivity;
      if (ex.stalledOnClientBody && idle > limits.clientBodyTimeoutMs) {
        this.log.info({ idleMs: Math.round(idle) }, 'client body timeout');
        if (!ex.headSent) {
          ex.respond(408, ['Content-Type', 'application/json; charset=utf-8'], '{\n  "message":"Request timeout"\n}', true);
        } else this.abandon(ex);
      } else if (ex.stalledOnClientRead && idle > limits.clientSendTimeoutMs) {
        this.log.info({ idleMs: Math.round(idle) }, 'client send timeout');
        this.abandon(ex);
      }
    }
  }

  /**
   * Stops accepting, lets in-flight requests finish (responses carry Connection: close),
   * then closes every connection. Resolves with the number of requests abandoned at the
   * deadline.
   *
   * Connections are closed only when nothing is in flight and no kept-alive connection
   * is likely to send another request (DRAIN_QUIET_MS), or at the deadline: a request
   * whose bytes we read is answered, never reset.
   */
  async drain(timeoutMs: number): Promise<number> {
    if (!this.draining) {
      this.draining = true;
      if (this.listenSocket !== null) {
        this.uws.us_listen_socket_close(this.listenSocket);
        this.listenSocket = null;
      }
      this.keptAlive = new Set();
      for (const ex of this.inflight) {
        ex.closeAfter = true;
        if (ex.headSent) this.keptAlive.add(ex);
      }
    }
    const start = performance.now();
    const deadline = start + timeoutMs;
    for (;;) {
      const now = performance.now();
      if (now >= deadline) break;
      if (this.inflight.size > 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, deadline - now);
          this.drainWaiter = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.drainWaiter = null;
        continue;
      }
      const quietUntil = Math.min(Math.max(start, this.lastKeptAliveEnd) + DRAIN_QUIET_MS, deadline);
      if (now >= quietUntil) break;
      await new Promise((r) => setTimeout(r, quietUntil - now));
    }
    const abandoned = this.inflight.size;
    for (const ex of this.inflight.toArray()) this.abandon(ex);
    clearInterval(this.sweepTimer);
    (this.app as unknown as { close(): void }).close();
    return abandoned;
  }
}
