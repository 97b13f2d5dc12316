/**
 * OTLP/HTTP JSON exporter: spans are queued as ready-made JSON strings and sent in batches
 * off the request path.
 *
 * - enqueue() is O(1) and never throws or blocks: when the queue holds max_entries spans
 *   (or max_bytes), the span is dropped and counted (`dropped`), with a warning at most
 *   once per 10 s.
 * - A batch goes out when max_batch_size spans are waiting, or max_coalescing_delay after
 *   the first span of a batch arrived (one unref'd timer, only armed while spans wait).
 * - concurrency_limit 1 (Kong's default) keeps one request in flight; a failed batch is
 *   retried with exponential backoff (initial_retry_delay doubling up to max_retry_delay)
 *   until max_retry_time has passed, then dropped and counted (`failed`).
 * - connect_timeout bounds the TCP/TLS connect, send_timeout + read_timeout the rest of
 *   the request (undici has no separate write timeout).
 *
 * One exporter per distinct endpoint + settings per worker (see exporterFor), so a
 * config reload that keeps the plugin's settings keeps its queue and connections.
 */
import { Agent, request } from 'undici';

export interface ExporterSettings {
  endpoint: string;
  headers: Record<string, string>;
  /** service.name and the other resource attributes. */
  resource: Record<string, string>;
  maxBatchSize: number;
  maxCoalescingDelayMs: number;
  maxEntries: number;
  maxBytes: number | null;
  maxRetryTimeMs: number;
  initialRetryDelayMs: number;
  maxRetryDelayMs: number;
  concurrencyLimit: number;
  connectTimeoutMs: number;
  sendTimeoutMs: number;
  readTimeoutMs: number;
}

export interface ExporterLog {
  warn(obj: object, msg?: string): void;
}

/** Name and version of the instrumentation scope our spans are reported under. */
export const SCOPE_NAME = 'portcullis';
export const SCOPE_VERSION = '0.1.0';

function attributesJson(attrs: Record<string, string>): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(attrs)) parts.push(`{"key":${JSON.stringify(k)},"value":{"stringValue":${JSON.stringify(v)}}}`);
  return `[${parts.join(',')}]`;
}

export class OtlpExporter {
  /** Spans dropped because the queue was full. */
  dropped = 0;
  /** Spans dropped because their batch could not be delivered within max_retry_time. */
  failed = 0;
  /** Spans delivered (2xx from the collector). */
  exported = 0;

  private readonly queue: string[] = [];
  private queuedBytes = 0;
  private inFlight = 0;
  private timer: NodeJS.Timeout | null = null;
  private readonly prefix: string;
  private readonly suffix = ']}]}]}';
  private readonly dispatcher: Agent;
  private readonly requestHeaders: Record<string, string>;
  private lastDropWarning = 0;

  constructor(
    readonly settings: ExporterSettings,
    private readonly log: ExporterLog,
  ) {
    this.prefix =
      `{"resourceSpans":[{"resource":{"attributes":${attributesJson(settings.resource)}},` +
      `"scopeSpans":[{"scope":{"name":"${SCOPE_NAME}","version":"${SCOPE_VERSION}"},"spans":[`;
    this.dispatcher = new Agent({ connect: { timeout: settings.connectTimeoutMs }, connections: 4 });
    this.requestHeaders = { ...settings.headers, 'content-type': 'application/json' };
  }

  /** Spans waiting to be sent. */
  get pending(): number {
    return this.queue.length;
  }

  /** Queues one span (an OTLP JSON span object). Never throws, never blocks. */
  enqueue(span: string): void {
    const s = this.settings;
    if (this.queue.length >= s.maxEntries || (s.maxBytes !== null && this.queuedBytes + span.length > s.maxBytes)) {
      this.dropped++;
      const now = Date.now();
      if (now - this.lastDropWarning > 10_000) {
        this.lastDropWarning = now;
        this.log.warn({ dropped: this.dropped, endpoint: s.endpoint }, 'opentelemetry queue full: spans dropped');
      }
      return;
    }
    this.queue.push(span);
    this.queuedBytes += span.length;
    if (this.queue.length >= s.maxBatchSize) this.kick(0);
    else if (this.timer === null) this.kick(s.maxCoalescingDelayMs);
  }

  /** Sends everything queued now (tests, shutdown); resolves when the queue is empty or stuck. */
  async flush(): Promise<void> {
    for (let i = 0; i < 1000 && (this.queue.length > 0 || this.inFlight > 0); i++) {
      this.pump();
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  private kick(delayMs: number): void {
    if (this.timer !== null) {
      if (delayMs > 0) return;
      clearTimeout(this.timer);
    }
    this.timer = setTimeout(() => {
      this.timer = null;
      this.pump();
    }, delayMs);
    this.timer.unref();
  }

  /** Starts as many batches as the concurrency limit allows. */
  private pump(): void {
    const limit = this.settings.concurrencyLimit < 0 ? Infinity : this.settings.concurrencyLimit;
    while (this.queue.length > 0 && this.inFlight < limit) {
      const batch = this.queue.splice(0, this.settings.maxBatchSize);
      for (const s of batch) this.queuedBytes -= s.length;
      this.inFlight++;
      void this.deliver(batch).finally(() => {
        this.inFlight--;
        if (this.queue.length >= this.settings.maxBatchSize) this.kick(0);
        else if (this.queue.length > 0) this.kick(this.settings.maxCoalescingDelayMs);
      });
    }
  }

  private async deliver(batch: string[]): Promise<void> {
    const body = this.prefix + batch.join(',') + this.suffix;
    const s = this.settings;
    const giveUpAt = Date.now() + s.maxRetryTimeMs;
    let delay = s.initialRetryDelayMs;
    for (;;) {
      let problem: string;
      try {
        const res = await request(s.endpoint, {
          method: 'POST',
          body,
          headers: this.requestHeaders,
          dispatcher: this.dispatcher,
          headersTimeout: s.sendTimeoutMs + s.readTimeoutMs,
          bodyTimeout: s.readTimeoutMs,
        });
        await res.body.dump();
        if (res.statusCode >= 200 && res.statusCode < 300) {
          this.exported += batch.length;
          return;
        }
        problem = `collector answered ${res.statusCode}`;
        // 4xx other than 429 will not get better by retrying (OTLP/HTTP spec).
        if (res.statusCode >= 400 && res.statusCode < 500 && res.statusCode !== 429) {
          this.fail(batch.length, problem);
          return;
        }
      } catch (err) {
        problem = (err as Error).message;
      }
      if (Date.now() + delay > giveUpAt) {
        this.fail(batch.length, problem);
        return;
      }
      await new Promise((r) => setTimeout(r, delay).unref());
      delay = Math.min(delay * 2, s.maxRetryDelayMs);
    }
  }

  private fail(spans: number, problem: string): void {
    this.failed += spans;
    this.log.warn({ spans, failed: this.failed, endpoint: this.settings.endpoint, problem }, 'opentelemetry export failed: spans dropped');
  }
}

const exporters = new Map<string, OtlpExporter>();

/** The worker's exporter for these settings (created on first use, shared across reloads). */
export function exporterFor(settings: ExporterSettings, log: ExporterLog): OtlpExporter {
  const key = JSON.stringify(settings);
  let e = exporters.get(key);
  if (e === undefined) {
    e = new OtlpExporter(settings, log);
    exporters.set(key, e);
  }
  return e;
}
