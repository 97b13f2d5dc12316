/**
 * response-size-limiting: the config through the real loader (units as request-size-limiting),
 * the refusal before the head when the upstream's Content-Length is over the limit (or
 * missing, with require_content_length), and the cut while streaming the moment the
 * counted bytes cross the limit, at every chunk boundary. The wire (a real upstream sending
 * large bodies, with and without Content-Length) is in
 * test/integration/response-size-limiting.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { loadConfigText } from '../../../src/config/load.js';
import type { GatewayConfig } from '../../../src/config/types.js';
import { RequestContext } from '../../http/request-context.js';
import type { PluginEnv, PluginHandler } from '../../pipeline/types.js';
import { pluginDefinitions } from '../index.js';
import { pluginSchemas } from '../registry-schemas.js';
import { allowedBytes } from './handler.js';
import { responseSizeLimiting } from './index.js';
import type { ResponseSizeLimitingConfig } from './schema.js';

const HEAD = '_format_version: "3.0"\n';

function load(text: string): GatewayConfig {
  const r = loadConfigText(text, 'kong.yml', {});
  if (!r.ok) throw new Error(r.issues.map((i) => `${i.line}:${i.col} ${i.path}: ${i.message}`).join('\n'));
  return r.config;
}

function configOf(config: string): ResponseSizeLimitingConfig {
  return load(`${HEAD}plugins:\n  - name: response-size-limiting\n    config: ${config}\n`).plugins[0]!.config as ResponseSizeLimitingConfig;
}

interface LogLine {
  level: string;
  obj: Record<string, unknown>;
}

function handlerFor(config: string): { h: PluginHandler; logs: LogLine[] } {
  const logs: LogLine[] = [];
  const push = (level: string) => (obj: object) => void logs.push({ level, obj: obj as Record<string, unknown> });
  const log = { info: push('info'), warn: push('warn'), error: push('error') };
  return { h: responseSizeLimiting.create(configOf(config), { log } as unknown as PluginEnv), logs };
}

function response(opts: { status?: number; method?: string; source?: 'upstream' | 'gateway'; contentLength?: number } = {}): RequestContext {
  const ctx = new RequestContext('req-1', opts.method ?? 'GET', '/r', '', Object.create(null), null, 'api.example.com', 8000, 'http', '10.0.0.7', '10.0.0.7', 0);
  ctx.response = { status: opts.status ?? 200, headers: Object.create(null), source: opts.source ?? 'upstream' };
  if (opts.contentLength !== undefined) (ctx.response as { contentLength?: number }).contentLength = opts.contentLength;
  return ctx;
}

/** Streams chunk sizes through the body filter as the proxy does; returns the bytes forwarded. */
function stream(h: PluginHandler, ctx: RequestContext, sizes: number[]): number {
  let forwarded = 0;
  for (const n of sizes) {
    ctx.bytesOut += n;
    forwarded += h.bodyFilter!(ctx, Buffer.alloc(n, 0x61), false).length;
    if (ctx.responseAbort !== null) return forwarded;
  }
  forwarded += h.bodyFilter!(ctx, Buffer.alloc(0), true).length;
  return forwarded;
}

describe('response-size-limiting config', () => {
  it('defaults to 128 megabytes without requiring a Content-Length; units as request-size-limiting', () => {
    expect(load(`${HEAD}plugins:\n  - name: response-size-limiting\n`).plugins[0]!.config).toEqual({
      allowed_payload_size: 128,
      size_unit: 'megabytes',
      require_content_length: false,
    });
    expect(allowedBytes(configOf('{}'))).toBe(128 * 1048576);
    expect(allowedBytes(configOf('{ allowed_payload_size: 3, size_unit: kilobytes }'))).toBe(3072);
    expect(allowedBytes(configOf('{ allowed_payload_size: 3, size_unit: bytes }'))).toBe(3);
  });

  it('is registered with PRIORITY 802 (the Optum plugin\'s: before the transformers) in both lists', () => {
    expect(pluginSchemas.get('response-size-limiting')?.priority).toBe(802);
    expect(pluginDefinitions.get('response-size-limiting')?.priority).toBe(802);
  });

  it('refuses bad values with their path', () => {
    const r = loadConfigText(`${HEAD}plugins:\n  - name: response-size-limiting\n    config: { size_unit: gigabytes, allowed_payload_size: -1 }\n`, 'kong.yml', {});
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.issues.map((i) => `${i.path}: ${i.message}`).sort()).toEqual([
        'plugins[0].config.allowed_payload_size: value should be between 0 and 1099511627776',
        'plugins[0].config.size_unit: expected one of: megabytes, kilobytes, bytes',
      ]);
    }
  });
});

describe('response-size-limiting with a known Content-Length (header filter)', () => {
  const { h, logs } = handlerFor('{ allowed_payload_size: 1, size_unit: kilobytes }');

  it('replaces a response over the limit with 502 before its head goes out, and logs it', () => {
    const ctx = response({ contentLength: 1025 });
    h.headerFilter!(ctx);
    expect(ctx.responseAbort).toEqual({ status: 502, message: 'Response size limit exceeded' });
    expect(logs.at(-1)).toEqual({ level: 'warn', obj: { requestId: 'req-1', limit: 1024, contentLength: 1025 } });
  });

  it('lets a response at the limit through', () => {
    const ctx = response({ contentLength: 1024 });
    h.headerFilter!(ctx);
    expect(ctx.responseAbort).toBeNull();
    expect(stream(h, ctx, [1000, 24])).toBe(1024);
  });

  it('never refuses what has no body: HEAD, 204, 304, or the gateway\'s own answers', () => {
    for (const opts of [{ method: 'HEAD' }, { status: 204 }, { status: 304 }, { source: 'gateway' as const }]) {
      const ctx = response({ ...opts, contentLength: 5000 });
      h.headerFilter!(ctx);
      expect(ctx.responseAbort).toBeNull();
    }
  });

  it('with require_content_length, refuses a body without one (but not when the runloop cannot say)', () => {
    const strict = handlerFor('{ require_content_length: true }').h;
    const chunked = response({ contentLength: -1 });
    strict.headerFilter!(chunked);
    expect(chunked.responseAbort).toEqual({ status: 502, message: 'Upstream response has no Content-Length' });
    const unknown = response();
    strict.headerFilter!(unknown);
    expect(unknown.responseAbort).toBeNull();
    const fine = response({ contentLength: 10 });
    strict.headerFilter!(fine);
    expect(fine.responseAbort).toBeNull();
  });
});

describe('response-size-limiting while streaming (body filter)', () => {
  it('cuts the moment the counted bytes cross the limit; the crossing chunk is not forwarded', () => {
    const { h, logs } = handlerFor('{ allowed_payload_size: 100, size_unit: bytes }');
    for (let first = 1; first <= 100; first++) {
      const ctx = response();
      h.headerFilter!(ctx);
      const forwarded = stream(h, ctx, [first, 100 - first, 1, 50]);
      expect(forwarded).toBe(100);
      expect(ctx.responseAbort).toEqual({ status: 502, message: 'Response size limit exceeded' });
    }
    expect(logs.at(-1)).toEqual({ level: 'warn', obj: { requestId: 'req-1', limit: 100, received: 101 } });
  });

  it('lets a body of exactly the limit through, in any chunking', () => {
    const { h } = handlerFor('{ allowed_payload_size: 100, size_unit: bytes }');
    for (const sizes of [[100], [1, 99], [50, 50], Array(100).fill(1)]) {
      const ctx = response();
      expect(stream(h, ctx, sizes)).toBe(100);
      expect(ctx.responseAbort).toBeNull();
    }
  });

  it('with a limit of 0 cuts at the first body byte', () => {
    const { h } = handlerFor('{ allowed_payload_size: 0 }');
    const ctx = response();
    expect(stream(h, ctx, [1])).toBe(0);
    expect(ctx.responseAbort?.status).toBe(502);
    const empty = response();
    expect(stream(h, empty, [])).toBe(0);
    expect(empty.responseAbort).toBeNull();
  });
});
