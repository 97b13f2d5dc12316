/**
 * The uWS listener adapter: accepts requests on the shared port (SO_REUSEPORT across
 * worker threads), turns each into a RequestContext + UwsExchange synchronously (uWS's
 * HttpRequest dies when the handler returns), and hands them to the runloop.
 *
 * It also owns what uWS leaves to us: request deadlines (uWS disables its timeout once a
 * handler runs), the head checks of request-guard.ts, in-flight accounting and draining.
 */
import { randomBytes } from 'node:crypto';
import type { HttpRequest, HttpResponse, TemplatedApp, us_listen_socket } from 'uWebSockets.js';
import type { Logger } from 'pino';
import { statusLine } from '../../src/shared/http-messages.js';
import type { GatewaySettings } from '../../src/shared/settings.js';
import type { Runloop } from '../runloop.js';
import { SERVER_TOKEN } from '../runloop.js';
import { formatBinaryAddress, resolveClientIp, type TrustedProxies } from './client-address.js';
import { errorContentType, renderError } from './error-body.js';
import { isGuardFailure, readRequestHead } from './request-guard.js';
import { RequestContext } from './request-context.js';
import { UwsExchange, type ExchangeOwner } from './uws-exchange.js';
import type { Uws } from './uws-native.js';

const SWEEP_INTERVAL_MS = 1000;

export class UwsListener implements ExchangeOwner {
  readonly inflight = new Set<UwsExchange>();
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
      head.hostPort || this.listenPort,
      scheme,
      peer,
      clientIp,
      now,
    );
    ctx.downstream = ex;
    this.runloop.handle(ctx, ex);
  }

  /** Answers a request whose head failed the guards, and closes the connection. */
  private rejectHead(res: HttpResponse, req: HttpRequest, status: number, message: string): void {
    const id = this.nextId();
    const contentType = errorContentType(req.getHeader('accept'));
    const body = renderError(contentType, message, id);
    res
      .writeStatus(statusLine(status))
      .writeHeader('Content-Type', contentType)
      .writeHeader('Server', SERVER_TOKEN)
      .writeHeader('X-Kong-Request-Id', id)
      .end(body, true);
    this.log.debug({ status, requestId: id }, 'request rejected before routing');
  }

  exchangeDone(ex: UwsExchange): void {
    this.inflight.delete(ex);
    if (this.draining && this.inflight.size === 0 && this.drainWaiter !== null) this.drainWaiter();
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
        } else ex.destroy();
      } else if (ex.stalledOnClientRead && idle > limits.clientSendTimeoutMs) {
        this.log.info({ idleMs: Math.round(idle) }, 'client send timeout');
        ex.destroy();
      }
    }
  }

  /**
   * Stops accepting, lets in-flight requests finish (responses carry Connection: close),
   * then closes every connection. Resolves with the number of requests abandoned at the
   * deadline.
   */
  async drain(timeoutMs: number): Promise<number> {
    this.draining = true;
    if (this.listenSocket !== null) {
      this.uws.us_listen_socket_close(this.listenSocket);
      this.listenSocket = null;
    }
    for (const ex of this.inflight) ex.closeAfter = true;
    const deadline = performance.now() + timeoutMs;
    // Requests can still arrive on kept-alive connections until they see Connection: close;
    // wait for a quiet moment with nothing in flight, or the deadline.
    for (;;) {
      if (this.inflight.size > 0) {
        const left = deadline - performance.now();
        if (left <= 0) break;
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left);
          this.drainWaiter = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.drainWaiter = null;
      }
      await new Promise((r) => setTimeout(r, 100));
      if (this.inflight.size === 0 || performance.now() >= deadline) break;
    }
    const abandoned = this.inflight.size;
    for (const ex of [...this.inflight]) ex.destroy();
    clearInterval(this.sweepTimer);
    (this.app as unknown as { close(): void }).close();
    return abandoned;
  }
}
