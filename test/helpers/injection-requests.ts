/**
 * In-process requests for the injection-protection unit and corpus tests: a RequestContext
 * as the listener fills it, a Downstream that delivers the body in the chunks asked for, a
 * logger that records what the plugin logs, and the access phase run to its verdict.
 */
import { loadConfigText } from '../../src/config/load.js';
import { ConsumerIndex } from '../../workers/auth/consumer-index.js';
import type { Downstream, RequestBodySink } from '../../workers/http/downstream.js';
import { RequestContext } from '../../workers/http/request-context.js';
import type { PluginEnv, PluginHandler, Verdict } from '../../workers/pipeline/types.js';
import { injectionProtection } from '../../workers/plugins/injection-protection/index.js';
import type { InjectionProtectionConfig } from '../../workers/plugins/injection-protection/schema.js';

export interface LogLine {
  level: 'info' | 'warn' | 'error';
  obj: Record<string, unknown>;
  msg: string | undefined;
}

export interface TestPlugin {
  handler: PluginHandler;
  logs: LogLine[];
  config: InjectionProtectionConfig;
}

/** The plugin built from a kong.yml `config:` (YAML flow or block text), through the real loader. */
export function pluginFrom(config: string | Record<string, unknown>): TestPlugin {
  const body = typeof config === 'string' ? config : JSON.stringify(config);
  const text = `_format_version: "3.0"\nplugins:\n  - name: injection-protection\n    config: ${body}\n`;
  const r = loadConfigText(text, 'kong.yml', {});
  if (!r.ok) throw new Error(r.issues.map((i) => `${i.line}:${i.col} ${i.path}: ${i.message}`).join('\n'));
  const conf = r.config.plugins[0]!.config as InjectionProtectionConfig;
  const logs: LogLine[] = [];
  const record = (level: LogLine['level']) => (obj: object, msg?: string) => void logs.push({ level, obj: obj as Record<string, unknown>, msg });
  const env: PluginEnv = { workerId: 1, log: { info: record('info'), warn: record('warn'), error: record('error') }, consumers: new ConsumerIndex([]) };
  return { handler: injectionProtection.create(conf, env), logs, config: conf };
}

export interface TestRequest {
  method?: string;
  /** Raw path, without the query. */
  path?: string;
  /** Raw query string, without '?'. */
  query?: string;
  headers?: Record<string, string>;
  body?: Buffer | string;
  /** Body split points (byte offsets); the body arrives in these pieces. */
  splits?: number[];
  /** Send without Content-Length. */
  chunked?: boolean;
}

export interface BodyFeed {
  /** How many times the body was attached (read). */
  attached: number;
  /** Bytes delivered to the sink that reached past the inspectors (what went "upstream"). */
  delivered: Buffer[];
}

function bodyDownstream(body: Buffer, splits: number[], chunked: boolean, feed: BodyFeed): Downstream {
  return {
    aborted: false,
    finished: false,
    headSent: false,
    hasBody: body.length > 0,
    contentLength: chunked ? -1 : body.length,
    status: 0,
    bytesReceived: 0,
    bytesSent: 0,
    limitBody() {},
    attachBody(sink: RequestBodySink) {
      feed.attached++;
      let at = 0;
      for (const s of [...splits, body.length]) {
        if (s <= at || s > body.length) continue;
        sink.onBodyChunk(Buffer.from(body.subarray(at, s)));
        at = s;
      }
      sink.onBodyEnd();
    },
    pauseBody() {},
    resumeBody() {},
    respond() {},
    writeHead() {},
    write: () => true,
    end() {},
    onDrain: null,
    onAbort: null,
    destroy() {},
  };
}

export function makeRequest(r: TestRequest): { ctx: RequestContext; feed: BodyFeed } {
  const headers: Record<string, string> = Object.assign(Object.create(null), { host: 'api.example.com' }, lower(r.headers ?? {}));
  const body = r.body === undefined ? Buffer.alloc(0) : Buffer.from(r.body);
  if (body.length > 0 && !r.chunked) headers['content-length'] = String(body.length);
  if (r.chunked) headers['transfer-encoding'] = 'chunked';
  const ctx = new RequestContext('0123456789abcdef0123456789abcdef', r.method ?? (body.length > 0 ? 'POST' : 'GET'), r.path ?? '/api/items', r.query ?? '', headers, null, 'api.example.com', 8000, 'http', '10.0.0.7', '10.0.0.7', 0);
  const feed: BodyFeed = { attached: 0, delivered: [] };
  ctx.downstream = bodyDownstream(body, r.splits ?? [], r.chunked ?? false, feed);
  return { ctx, feed };
}

function lower(h: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) out[k.toLowerCase()] = v;
  return out;
}

/**
 * Runs the access phase. When the plugin registered a streaming inspector (log_only), the
 * body is then streamed through it to a sink standing for the upstream, as the proxy does.
 */
export async function runAccess(p: TestPlugin, r: TestRequest): Promise<{ verdict: Verdict; ctx: RequestContext; feed: BodyFeed }> {
  const { ctx, feed } = makeRequest(r);
  const verdict = p.handler.access === undefined ? undefined : await p.handler.access(ctx);
  if (verdict === undefined && ctx.bodyInspectors !== null && ctx.body === null) {
    await new Promise<void>((resolve, reject) => {
      ctx.downstream!.attachBody(
        ctx.bodySink({
          onBodyChunk: (c) => void feed.delivered.push(c),
          onBodyEnd: () => resolve(),
          onBodyError: (e) => reject(e),
        }),
      );
    });
  }
  return { verdict, ctx, feed };
}

/** Query-string encodings of a value as clients send them. */
export function queryEncodings(value: string): string[] {
  const pct = encodeURIComponent(value);
  return [pct, pct.replace(/%20/g, '+')];
}
