/**
 * json-threat-protection as a plugin: the Kong config through the real loader (defaults,
 * bounds, registration and PRIORITY), which requests it checks (methods, Content-Type), the
 * answer it gives (configured status and message), the streaming path through the real
 * InspectingSink (a violation stops the body before the next stage sees the rest), and
 * log_only (the request passes, one log line says which rule fired and where).
 * The scanner's own rules are in json-scanner.test.ts; the wire in
 * test/integration/json-threat-protection.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { loadConfigText } from '../../../src/config/load.js';
import type { GatewayConfig } from '../../../src/config/types.js';
import { BodyRejectedError } from '../../http/body-inspection.js';
import type { Downstream, RequestBodySink } from '../../http/downstream.js';
import { RequestContext } from '../../http/request-context.js';
import type { PluginEnv, PluginHandler, Verdict } from '../../pipeline/types.js';
import { pluginDefinitions } from '../index.js';
import { pluginSchemas } from '../registry-schemas.js';
import { isJsonContentType } from './handler.js';
import { jsonThreatProtection } from './index.js';
import type { JsonThreatProtectionConfig } from './schema.js';

const HEAD = '_format_version: "3.0"\n';

function load(text: string): GatewayConfig {
  const r = loadConfigText(text, 'kong.yml', {});
  if (!r.ok) throw new Error(r.issues.map((i) => `${i.line}:${i.col} ${i.path}: ${i.message}`).join('\n'));
  return r.config;
}

function issues(config: string): string[] {
  const r = loadConfigText(`${HEAD}plugins:\n  - name: json-threat-protection\n    config: ${config}\n`, 'kong.yml', {});
  if (r.ok) throw new Error('expected the config to be refused');
  return r.issues.map((i) => `${i.path}: ${i.message}`);
}

function configOf(config: string): JsonThreatProtectionConfig {
  return load(`${HEAD}plugins:\n  - name: json-threat-protection\n    config: ${config}\n`).plugins[0]!.config as JsonThreatProtectionConfig;
}

interface LogLine {
  level: string;
  obj: Record<string, unknown>;
  msg: string | undefined;
}

function handlerFor(config = '{}'): { h: PluginHandler; logs: LogLine[] } {
  const logs: LogLine[] = [];
  const log = {
    info: (obj: object, msg?: string) => void logs.push({ level: 'info', obj: obj as Record<string, unknown>, msg }),
    warn: (obj: object, msg?: string) => void logs.push({ level: 'warn', obj: obj as Record<string, unknown>, msg }),
    error: (obj: object, msg?: string) => void logs.push({ level: 'error', obj: obj as Record<string, unknown>, msg }),
  };
  return { h: jsonThreatProtection.create(configOf(config), { log } as unknown as PluginEnv), logs };
}

/** A Downstream whose body the test pushes by hand through whatever sink was attached. */
interface FakeDownstream extends Downstream {
  sink: RequestBodySink | null;
}

function fakeDownstream(hasBody: boolean, contentLength: number): FakeDownstream {
  const unexpected = () => {
    throw new Error('not used by json-threat-protection');
  };
  const ds: FakeDownstream = {
    sink: null,
    aborted: false,
    finished: false,
    headSent: false,
    hasBody,
    contentLength,
    limitBody: unexpected,
    attachBody: (s: RequestBodySink) => void (ds.sink = s),
    pauseBody: unexpected,
    resumeBody: unexpected,
    respond: unexpected,
    writeHead: unexpected,
    write: unexpected,
    end: unexpected,
    onDrain: null,
    onAbort: null,
    destroy: unexpected,
  };
  return ds;
}

function request(opts: { method?: string; contentType?: string; framing?: number | 'chunked' | 'none' } = {}): RequestContext & { downstream: FakeDownstream } {
  const headers: Record<string, string> = Object.assign(Object.create(null), { host: 'api.example.com' });
  if (opts.contentType !== undefined) headers['content-type'] = opts.contentType;
  const framing = opts.framing ?? 'chunked';
  const ctx = new RequestContext('req-0001', opts.method ?? 'POST', '/orders', '', headers, null, 'api.example.com', 8000, 'http', '10.0.0.7', '10.0.0.7', 0);
  ctx.downstream = fakeDownstream(framing !== 'none' && framing !== 0, typeof framing === 'number' ? framing : -1);
  return ctx as RequestContext & { downstream: FakeDownstream };
}

function verdict(h: PluginHandler, ctx: RequestContext): Verdict {
  const v = h.access!(ctx);
  if (v instanceof Promise) throw new Error('expected a synchronous verdict');
  return v;
}

/** What reached the stage after the inspectors (another plugin's readBody, or the upstream). */
interface Received {
  bytes: Buffer[];
  ended: boolean;
  error: Error | null;
}

/** Streams `chunks` through the request's inspectors, as the listener would. */
function stream(ctx: RequestContext & { downstream: FakeDownstream }, chunks: Array<string | Buffer>): Received {
  const got: Received = { bytes: [], ended: false, error: null };
  const sink = ctx.bodySink({
    onBodyChunk: (c) => void got.bytes.push(c),
    onBodyEnd: () => void (got.ended = true),
    onBodyError: (e) => void (got.error = e),
  });
  for (const c of chunks) sink.onBodyChunk(Buffer.from(c));
  sink.onBodyEnd();
  return got;
}

describe('json-threat-protection config (Kong EE schema, through the loader)', () => {
  it("fills Kong's defaults, plus the forbidden names", () => {
    const p = load(`${HEAD}plugins:\n  - name: json-threat-protection\n`).plugins[0]!;
    expect(p.config).toEqual({
      max_body_size: 8192,
      max_container_depth: -1,
      max_object_entry_count: -1,
      max_object_entry_name_length: -1,
      max_array_element_count: -1,
      max_string_value_length: -1,
      allow_duplicate_object_entry_name: true,
      allow_non_json_requests: false,
      enforcement_mode: 'block',
      error_status_code: 400,
      error_message: 'Bad Request',
      forbidden_object_entry_names: ['__proto__', 'constructor', 'prototype'],
    });
    expect(p.protocols).toEqual(['grpc', 'grpcs', 'http', 'https']);
  });

  it("loads Kong's documented example unchanged", () => {
    const c = configOf(
      '{ max_body_size: 1024, max_container_depth: 2, max_object_entry_count: 4, max_object_entry_name_length: 7, max_array_element_count: 2, max_string_value_length: 6, enforcement_mode: log_only, error_status_code: 400, error_message: Incorrect request format }',
    );
    expect(c).toMatchObject({ max_body_size: 1024, max_container_depth: 2, enforcement_mode: 'log_only', error_message: 'Incorrect request format' });
  });

  it('is registered with Kong PRIORITY 1009 for the loader and the workers', () => {
    expect(pluginSchemas.get('json-threat-protection')?.priority).toBe(1009);
    expect(pluginDefinitions.get('json-threat-protection')?.priority).toBe(1009);
  });

  it('refuses out-of-range values with their path', () => {
    expect(issues('{ error_status_code: 500 }')).toEqual(['plugins[0].config.error_status_code: value should be between 400 and 499']);
    expect(issues('{ max_container_depth: -2 }')).toEqual(['plugins[0].config.max_container_depth: value should be between -1 and 2147483648']);
    expect(issues('{ enforcement_mode: tap }')).toEqual(['plugins[0].config.enforcement_mode: expected one of: block, log_only']);
    expect(issues('{ max_depth: 3 }')).toEqual(['plugins[0].config.max_depth: unknown field']);
  });
});

describe('json-threat-protection: which requests are checked', () => {
  const { h } = handlerFor('{ max_container_depth: 1 }');

  it('checks POST, PUT and PATCH only (Kong 3.10+)', () => {
    for (const method of ['POST', 'PUT', 'PATCH']) {
      const ctx = request({ method });
      expect(verdict(h, ctx)).toBeUndefined();
      expect(stream(ctx, ['[[1]]']).error).toBeInstanceOf(BodyRejectedError);
    }
    for (const method of ['GET', 'DELETE', 'OPTIONS', 'HEAD']) {
      const ctx = request({ method });
      expect(verdict(h, ctx)).toBeUndefined();
      expect(stream(ctx, ['[[1]]'])).toMatchObject({ ended: true, error: null });
    }
  });

  it("checks any Content-Type by default (Kong): a form body is not JSON and is refused", () => {
    const ctx = request({ contentType: 'application/x-www-form-urlencoded' });
    verdict(h, ctx);
    expect(stream(ctx, ['a=1&b=2']).error).toBeInstanceOf(BodyRejectedError);
  });

  it('with allow_non_json_requests lets declared non-JSON types through, still checks JSON and undeclared bodies', () => {
    const { h: lenient } = handlerFor('{ max_container_depth: 1, allow_non_json_requests: true }');
    const form = request({ contentType: 'application/x-www-form-urlencoded' });
    verdict(lenient, form);
    expect(stream(form, ['a=1&b=2'])).toMatchObject({ ended: true, error: null });
    for (const contentType of ['application/json', 'Application/JSON; charset=utf-8', 'application/merge-patch+json', 'text/json', undefined]) {
      const ctx = request(contentType === undefined ? {} : { contentType });
      verdict(lenient, ctx);
      expect(stream(ctx, ['[[1]]']).error, String(contentType)).toBeInstanceOf(BodyRejectedError);
    }
  });

  it('recognises JSON media types', () => {
    expect(isJsonContentType('application/json')).toBe(true);
    expect(isJsonContentType('application/vnd.api+json; charset=utf-8')).toBe(true);
    expect(isJsonContentType(undefined)).toBe(true);
    expect(isJsonContentType('application/jsonp')).toBe(false);
    expect(isJsonContentType('text/plain')).toBe(false);
    expect(isJsonContentType('multipart/form-data; boundary=json')).toBe(false);
  });

  it('lets a request without a body (or an empty one) through', () => {
    expect(verdict(h, request({ framing: 'none' }))).toBeUndefined();
    expect(verdict(h, request({ framing: 0 }))).toBeUndefined();
    const empty = request();
    verdict(h, empty);
    expect(stream(empty, [])).toMatchObject({ ended: true, error: null });
  });
});

describe('json-threat-protection in block mode: the answer', () => {
  it('refuses a Content-Length over max_body_size before reading the body, with the configured answer', () => {
    const { h, logs } = handlerFor('{ max_body_size: 100, error_status_code: 413, error_message: Too big }');
    const ctx = request({ framing: 101 });
    expect(verdict(h, ctx)).toEqual({ status: 413, message: 'Too big' });
    expect(ctx.downstream.sink).toBeNull();
    expect(logs).toMatchObject([{ level: 'info', obj: { rule: 'max_body_size', request_id: 'req-0001', enforcement_mode: 'block' } }]);
    expect(verdict(h, request({ framing: 100 }))).toBeUndefined();
  });

  it('stops a streamed body at the chunk that violates: later stages never see it or anything after', () => {
    const { h } = handlerFor('{ max_string_value_length: 5, error_message: Incorrect request format }');
    const ctx = request();
    verdict(h, ctx);
    const got = stream(ctx, ['{"a":"12', '345",', '"b":"123456"', ',"c":1}']);
    expect(got.error).toBeInstanceOf(BodyRejectedError);
    expect((got.error as BodyRejectedError).reply).toEqual({ status: 400, message: 'Incorrect request format' });
    // One chunk is held back, so only the first went on; the violating one never did.
    expect(Buffer.concat(got.bytes).toString()).toBe('{"a":"12');
    expect(got.ended).toBe(false);
  });

  it('refuses a truncated document at the end, after every chunk was held back', () => {
    const { h } = handlerFor();
    const ctx = request();
    verdict(h, ctx);
    const got = stream(ctx, ['{"a":', '[1,2']);
    expect((got.error as BodyRejectedError).reply).toEqual({ status: 400, message: 'Bad Request' });
    expect(Buffer.concat(got.bytes).toString()).toBe('{"a":');
  });

  it('counts a chunked body against max_body_size while it streams', () => {
    const { h } = handlerFor('{ max_body_size: 11 }');
    const ctx = request();
    verdict(h, ctx);
    expect(stream(ctx, ['[1,2,3,', '4,5', ',6]']).error).toBeInstanceOf(BodyRejectedError);
    const ok = request();
    verdict(h, ok);
    expect(stream(ok, ['[1,2,3,', '4,5]'])).toMatchObject({ ended: true, error: null });
  });

  it('refuses __proto__ by default, and a body an earlier plugin buffered is checked at once', () => {
    const { h, logs } = handlerFor();
    const ctx = request();
    ctx.body = Buffer.from('{"user":{"__pro\\u0074o__":{"admin":true}}}');
    expect(verdict(h, ctx)).toEqual({ status: 400, message: 'Bad Request' });
    expect(logs[0]!.obj).toMatchObject({ rule: 'forbidden_object_entry_names', detail: '__proto__' });
  });

  it('passes a valid body through unchanged, byte for byte, whatever the chunking', () => {
    const { h } = handlerFor('{ max_container_depth: 3, max_array_element_count: 3, max_object_entry_count: 3, allow_duplicate_object_entry_name: false }');
    const doc = '{"id":7,"items":[{"sku":"é-1","qty":2},{"sku":"\\u00e9-2","qty":1}],"note":"ok"}';
    for (const size of [1, 2, 5, 1000]) {
      const ctx = request();
      verdict(h, ctx);
      const chunks: string[] = [];
      for (let i = 0; i < doc.length; i += size) chunks.push(doc.slice(i, i + size));
      const got = stream(ctx, chunks);
      expect(got).toMatchObject({ ended: true, error: null });
      expect(Buffer.concat(got.bytes).toString()).toBe(doc);
    }
  });
});

describe('json-threat-protection never throws from its inspector', () => {
  it('turns a failure inside the scanner into a refusal (fail closed)', () => {
    const { h, logs } = handlerFor();
    const ctx = request();
    verdict(h, ctx);
    const inspector = ctx.bodyInspectors![0]!;
    const poisoned = new Proxy(Buffer.from('{}'), {
      get(target, prop, receiver) {
        if (prop === 'length') throw new RangeError('simulated failure');
        return Reflect.get(target, prop, receiver);
      },
    });
    expect(inspector.chunk(poisoned)).toEqual({ status: 400, message: 'Bad Request' });
    expect(logs).toMatchObject([{ obj: { rule: 'internal_error', detail: 'simulated failure' } }]);
    expect(inspector.chunk(Buffer.from('{}'))).toBeUndefined();
  });
});

describe('json-threat-protection in log_only mode', () => {
  it('lets a violating body through whole and logs one warning: rule, where, no content', () => {
    const { h, logs } = handlerFor('{ enforcement_mode: log_only, max_object_entry_name_length: 7 }');
    const ctx = request();
    expect(verdict(h, ctx)).toBeUndefined();
    const got = stream(ctx, ['{"parents":', '["secret-value"]', ',"another_long_name":1}']);
    expect(got).toMatchObject({ ended: true, error: null });
    expect(Buffer.concat(got.bytes).toString()).toBe('{"parents":["secret-value"],"another_long_name":1}');
    expect(logs).toHaveLength(1);
    expect(logs[0]).toMatchObject({
      level: 'warn',
      obj: { request_id: 'req-0001', rule: 'max_object_entry_name_length', offset: 36, depth: 1, enforcement_mode: 'log_only' },
    });
    expect(JSON.stringify(logs)).not.toContain('secret-value');
    expect(JSON.stringify(logs)).not.toContain('parents');
  });

  it('logs a Content-Length over max_body_size and lets the request go on', () => {
    const { h, logs } = handlerFor('{ enforcement_mode: log_only, max_body_size: 10 }');
    expect(verdict(h, request({ framing: 11 }))).toBeUndefined();
    expect(logs).toMatchObject([{ level: 'warn', obj: { rule: 'max_body_size' } }]);
  });

  it('logs malformed JSON too, and a valid body logs nothing', () => {
    const { h, logs } = handlerFor('{ enforcement_mode: log_only }');
    const bad = request();
    verdict(h, bad);
    expect(stream(bad, ['{"a":01}'])).toMatchObject({ ended: true, error: null });
    const good = request();
    verdict(h, good);
    stream(good, ['{"a":1}']);
    expect(logs).toMatchObject([{ obj: { rule: 'invalid_json', detail: 'leading zero' } }]);
  });
});
