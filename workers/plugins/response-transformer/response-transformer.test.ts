/**
 * response-transformer: the Kong config through the real loader, header edits in Kong's
 * order (with Kong's presence tests on the headers as received), and the JSON body held
 * back by the body filter and edited once complete, whatever the chunking; json_types;
 * compressed bodies decoded within the limit; the refusals where a transformation cannot
 * be guaranteed (over the limit, a coding it cannot decode). Kong sources:
 * kong/plugins/response-transformer/{schema,header_transformer,body_transformer}.lua.
 * The wire is in test/integration/response-transformer.test.ts.
 */
import { brotliCompressSync, deflateRawSync, deflateSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { loadConfigText } from '../../../src/config/load.js';
import type { GatewayConfig } from '../../../src/config/types.js';
import { RequestContext } from '../../http/request-context.js';
import type { PluginEnv, PluginHandler } from '../../pipeline/types.js';
import { pluginDefinitions } from '../index.js';
import { pluginSchemas } from '../registry-schemas.js';
import { isJsonContentType } from './handler.js';
import { responseTransformer } from './index.js';
import { jsonValue } from './json-body.js';
import type { ResponseTransformerConfig } from './schema.js';

const HEAD = '_format_version: "3.0"\n';

function load(text: string): GatewayConfig {
  const r = loadConfigText(text, 'kong.yml', {});
  if (!r.ok) throw new Error(r.issues.map((i) => `${i.line}:${i.col} ${i.path}: ${i.message}`).join('\n'));
  return r.config;
}

function issues(config: string): string[] {
  const r = loadConfigText(`${HEAD}plugins:\n  - name: response-transformer\n    config: ${config}\n`, 'kong.yml', {});
  if (r.ok) throw new Error('expected the config to be refused');
  return r.issues.map((i) => `${i.path}: ${i.message}`);
}

function configOf(config: string): ResponseTransformerConfig {
  return load(`${HEAD}plugins:\n  - name: response-transformer\n    config: ${config}\n`).plugins[0]!.config as ResponseTransformerConfig;
}

interface LogLine {
  level: string;
  obj: Record<string, unknown>;
  msg: string | undefined;
}

function handlerFor(config: string): { h: PluginHandler; logs: LogLine[] } {
  const logs: LogLine[] = [];
  const push = (level: string) => (obj: object, msg?: string) => void logs.push({ level, obj: obj as Record<string, unknown>, msg });
  const log = { info: push('info'), warn: push('warn'), error: push('error') };
  return { h: responseTransformer.create(configOf(config), { log } as unknown as PluginEnv), logs };
}

function response(
  headers: Record<string, string | string[]>,
  opts: { status?: number; method?: string; source?: 'upstream' | 'gateway'; contentLength?: number } = {},
): RequestContext {
  const ctx = new RequestContext('req-1', opts.method ?? 'GET', '/r', '', Object.create(null), null, 'api.example.com', 8000, 'http', '10.0.0.7', '10.0.0.7', 0);
  const h: Record<string, string | string[]> = Object.create(null);
  for (const [k, v] of Object.entries(headers)) h[k.toLowerCase()] = v;
  ctx.response = { status: opts.status ?? 200, headers: h, source: opts.source ?? 'upstream' };
  if (opts.contentLength !== undefined) (ctx.response as { contentLength?: number }).contentLength = opts.contentLength;
  return ctx;
}

/** Runs the body filter over `chunks` as the proxy does; returns what reached the client. */
function filterBody(h: PluginHandler, ctx: RequestContext, chunks: Array<string | Buffer>): { out: Buffer; emittedBeforeLast: number } {
  const out: Buffer[] = [];
  let before = 0;
  for (const c of chunks) {
    const b = Buffer.from(c);
    ctx.bytesOut += b.length;
    const r = h.bodyFilter!(ctx, b, false);
    before += r.length;
    out.push(r);
    if (ctx.responseAbort !== null) return { out: Buffer.concat(out), emittedBeforeLast: before };
  }
  out.push(h.bodyFilter!(ctx, Buffer.alloc(0), true));
  return { out: Buffer.concat(out), emittedBeforeLast: before };
}

function transform(h: PluginHandler, headers: Record<string, string | string[]>, body: string | Buffer, chunks?: Array<string | Buffer>): { ctx: RequestContext; body: string } {
  const ctx = response(headers);
  h.headerFilter!(ctx);
  const { out } = filterBody(h, ctx, chunks ?? [body]);
  return { ctx, body: out.toString('utf8') };
}

// ---------------------------------------------------------------------------------------

describe('response-transformer config (Kong schema.lua, through the loader)', () => {
  it("fills Kong's defaults (plus our body limit)", () => {
    const p = load(`${HEAD}plugins:\n  - name: response-transformer\n`).plugins[0]!;
    const typed = { json: [], json_types: [], headers: [] };
    expect(p.config).toEqual({
      remove: { json: [], headers: [] },
      rename: { json: [], headers: [] },
      replace: typed,
      add: typed,
      append: typed,
      max_body_size: 8 * 1024 * 1024,
    });
    expect(p.protocols).toEqual(['grpc', 'grpcs', 'http', 'https']);
  });

  it('is registered with Kong PRIORITY 800 for the loader and the workers', () => {
    expect(pluginSchemas.get('response-transformer')?.priority).toBe(800);
    expect(pluginDefinitions.get('response-transformer')?.priority).toBe(800);
  });

  it("loads Kong's documented examples unchanged", () => {
    const c = configOf(`
      remove: { headers: [x-toremove, x-another-one], json: [json-key-toremove, another-json-key] }
      rename: { headers: ["x-old:x-new"], json: ["old-key:new-key"] }
      replace: { headers: ["x-to-replace:new"], json: ["key-to-replace:1"], json_types: [number] }
      add: { headers: ["x-new-header:value", "x-another-header:something"], json: ["new-json-key:some_value", "another-json-key:true"], json_types: [string, boolean] }
      append: { headers: ["x-existing-header:some_value"], json: ["list:v"] }`);
    expect(c.add.json_types).toEqual(['string', 'boolean']);
    expect(c.rename.json).toEqual(['old-key:new-key']);
  });

  it("refuses what Kong refuses, with Kong's messages", () => {
    expect(issues('{ add: { json_types: [integer] } }')).toEqual(['plugins[0].config.add.json_types[0]: expected one of: boolean, number, string']);
    expect(issues('{ add: { json: [nocolon] } }')).toEqual(['plugins[0].config.add.json[0]: invalid value: nocolon']);
    expect(issues('{ rename: { json: [nocolon] } }')).toEqual(['plugins[0].config.rename.json[0]: invalid value: nocolon']);
    expect(issues('{ add: { headers: ["x a:1"] } }')).toEqual(["plugins[0].config.add.headers[0]: 'x a' is not a valid header"]);
    expect(issues('{ append: { headers: ["x-a:\\r\\nSet-Cookie: a=b"] } }')).toEqual(["plugins[0].config.append.headers[0]: '\r\nSet-Cookie: a=b' is not a valid header"]);
    expect(issues('{ rename: { headers: ["x-a:x b"] } }')).toEqual(["plugins[0].config.rename.headers[0]: 'x b' is not a valid header"]);
    expect(issues('{ replace: { uri: /x } }')).toEqual(['plugins[0].config.replace.uri: unknown field']);
  });
});

describe('response-transformer headers', () => {
  it('applies remove, rename, replace, add, append in order', () => {
    const { h } = handlerFor(
      '{ remove: { headers: [Server, X-Powered-By] }, rename: { headers: ["x-old:x-new"] }, replace: { headers: ["x-r:replaced", "x-absent:no"] }, add: { headers: ["x-add:added", "X-R:not-added"] }, append: { headers: ["x-r:appended", "set-cookie:b=2"] } }',
    );
    const ctx = response({ server: 'nginx', 'x-powered-by': 'php', 'x-old': 'o', 'x-r': 'r', 'set-cookie': 'a=1', 'content-type': 'text/plain' });
    h.headerFilter!(ctx);
    expect({ ...ctx.response!.headers }).toEqual({
      'x-new': 'o',
      'x-r': ['replaced', 'appended'],
      'x-add': 'added',
      'set-cookie': ['a=1', 'b=2'],
      'content-type': 'text/plain',
    });
  });

  it("tests presence on the headers as received, as Kong does (a removed header is not re-added)", () => {
    const { h } = handlerFor('{ remove: { headers: [x-a] }, add: { headers: ["x-a:new"] }, rename: { headers: ["x-b:x-c"] }, replace: { headers: ["x-c:replaced"] } }');
    const ctx = response({ 'x-a': 'old', 'x-b': 'b' });
    h.headerFilter!(ctx);
    // x-a was present when the edits started: add does nothing. x-c was absent: replace does nothing.
    expect({ ...ctx.response!.headers }).toEqual({ 'x-c': 'b' });
  });

  it('never edits framing headers, and keeps a header renamed to itself', () => {
    const { h } = handlerFor('{ remove: { headers: [Content-Length, transfer-encoding] }, add: { headers: ["content-length:1", "connection:close"] }, rename: { headers: ["X-A:x-a"] } }');
    const ctx = response({ 'x-a': '1' });
    h.headerFilter!(ctx);
    expect({ ...ctx.response!.headers }).toEqual({ 'x-a': '1' });
  });

  it("edits the gateway's own answers too (Kong's header_filter runs on them), without touching their body", () => {
    const { h } = handlerFor('{ add: { headers: ["x-env:prod"] }, remove: { json: [message] } }');
    const ctx = response({ 'content-type': 'application/json' }, { status: 401, source: 'gateway' });
    h.headerFilter!(ctx);
    expect(ctx.response!.headers['x-env']).toBe('prod');
    expect(h.bodyFilter!(ctx, Buffer.from('{"message":"x"}'), true).toString()).toBe('{"message":"x"}');
  });
});

describe('response-transformer JSON body', () => {
  const conf =
    '{ remove: { json: [internal_notes] }, rename: { json: ["old:new"] }, replace: { json: ["status:done", "count:7", "absent:x"], json_types: [string, number, string] }, add: { json: ["added:true", "num:0x1F", "status:no"], json_types: [boolean, number] }, append: { json: ["tags:c", "single:b", "fresh:1"], json_types: [string, string, number] } }';
  const body = '{"id":9007199254740993,"internal_notes":"secret","old":[1],"status":"open","count":1,"tags":["a","b"],"single":"a","price":10.00}';
  const expected = '{"id":9007199254740993,"status":"done","count":7,"tags":["a","b","c"],"single":["a","b"],"price":10.00,"new":[1],"added":true,"num":31,"fresh":[1]}';

  it("applies the operations in order with Kong's json_types, keeping untouched values byte for byte", () => {
    const { h } = handlerFor(conf);
    expect(transform(h, { 'content-type': 'application/json; charset=utf-8' }, body).body).toBe(expected);
  });

  it('holds the body back until it is complete, whatever the chunking', () => {
    const { h } = handlerFor(conf);
    for (let cut = 1; cut < body.length; cut++) {
      const ctx = response({ 'content-type': 'application/json' });
      h.headerFilter!(ctx);
      const r = filterBody(h, ctx, [body.slice(0, cut), body.slice(cut)]);
      expect(r.emittedBeforeLast).toBe(0);
      expect(r.out.toString()).toBe(expected);
    }
    const ctx = response({ 'content-type': 'application/json' });
    h.headerFilter!(ctx);
    expect(filterBody(h, ctx, [...body]).out.toString()).toBe(expected);
  });

  it('edits +json media types and any listed JSON type; passes other types through chunk by chunk', () => {
    const { h } = handlerFor('{ remove: { json: [a] } }');
    expect(transform(h, { 'content-type': 'application/vnd.api+json' }, '{"a":1,"b":2}').body).toBe('{"b":2}');
    expect(transform(h, { 'content-type': 'text/html, application/json' }, '{"a":1}').body).toBe('{}');
    const ctx = response({ 'content-type': 'text/plain' });
    h.headerFilter!(ctx);
    const chunk = Buffer.from('{"a":1}');
    expect(h.bodyFilter!(ctx, chunk, false)).toBe(chunk);
    expect(isJsonContentType('application/jsonp')).toBe(false);
    expect(isJsonContentType(['text/plain', 'Application/JSON'])).toBe(true);
    expect(isJsonContentType(undefined)).toBe(false);
  });

  it('sends a body that is not JSON unchanged (Kong), and logs it at info level', () => {
    const { h, logs } = handlerFor('{ remove: { json: [a] } }');
    expect(transform(h, { 'content-type': 'application/json' }, '<html>error</html>').body).toBe('<html>error</html>');
    expect(logs).toEqual([expect.objectContaining({ level: 'info', obj: { requestId: 'req-1' } })]);
    expect(transform(h, { 'content-type': 'application/json' }, '[{"a":1}]').body).toBe('[{"a":1}]');
    expect(transform(h, { 'content-type': 'application/json' }, '').body).toBe('');
  });

  it('never buffers what has no body: HEAD, 204, 304, and a 206 range is not a whole document', () => {
    const { h } = handlerFor('{ remove: { json: [a] } }');
    for (const opts of [{ method: 'HEAD' }, { status: 204 }, { status: 304 }, { status: 206 }]) {
      const ctx = response({ 'content-type': 'application/json' }, opts);
      h.headerFilter!(ctx);
      const chunk = Buffer.from('{"a":1}');
      expect(h.bodyFilter!(ctx, chunk, false)).toBe(chunk);
    }
  });

  it("warns at create about a json_types number that is not one, and skips that entry as Kong does", () => {
    const { h, logs } = handlerFor('{ add: { json: ["n:abc", "m:2"], json_types: [number, number] } }');
    expect(logs).toEqual([expect.objectContaining({ level: 'warn', obj: { property: 'n' } })]);
    expect(transform(h, { 'content-type': 'application/json' }, '{}').body).toBe('{"m":2}');
    expect([jsonValue('1e3', 'number'), jsonValue(' -2.5 ', 'number'), jsonValue('TRUE', 'boolean'), jsonValue('say "hi"', undefined)]).toEqual([
      '1e3',
      '-2.5',
      'false',
      '"say \\"hi\\""',
    ]);
  });
});

describe('response-transformer compressed bodies and limits', () => {
  const doc = '{"keep":"' + 'x'.repeat(200) + '","secret":"s"}';
  const edited = '{"keep":"' + 'x'.repeat(200) + '"}';

  it('decodes gzip, deflate (zlib or raw) and br, and sends the edited body without Content-Encoding', () => {
    const { h } = handlerFor('{ remove: { json: [secret] } }');
    const encodings: Array<[string, Buffer]> = [
      ['gzip', gzipSync(doc)],
      ['x-gzip', gzipSync(doc)],
      ['deflate', deflateSync(doc)],
      ['deflate', deflateRawSync(doc)],
      ['br', brotliCompressSync(doc)],
      ['identity, gzip', gzipSync(doc)],
    ];
    for (const [coding, bytes] of encodings) {
      const ctx = response({ 'content-type': 'application/json', 'content-encoding': coding, vary: 'Accept-Encoding' });
      h.headerFilter!(ctx);
      expect(ctx.response!.headers['content-encoding']).toBeUndefined();
      const half = Math.floor(bytes.length / 2);
      expect(filterBody(h, ctx, [bytes.subarray(0, half), bytes.subarray(half)]).out.toString()).toBe(edited);
    }
  });

  it('refuses (502 before the head) a coding it cannot decode, rather than send it untransformed', () => {
    const { h, logs } = handlerFor('{ remove: { json: [secret] } }');
    for (const coding of ['zstd', 'gzip, br', 'compress']) {
      const ctx = response({ 'content-type': 'application/json', 'content-encoding': coding });
      h.headerFilter!(ctx);
      expect(ctx.responseAbort).toEqual({ status: 502, message: 'An invalid response was received from the upstream server' });
    }
    expect(logs.every((l) => l.level === 'warn')).toBe(true);
    expect(logs).toHaveLength(3);
  });

  it('cuts the response when a compressed body is corrupt or inflates past max_body_size (a zip bomb)', () => {
    const { h } = handlerFor('{ remove: { json: [secret] }, max_body_size: 1000 }');
    const corrupt = response({ 'content-type': 'application/json', 'content-encoding': 'gzip' });
    h.headerFilter!(corrupt);
    const bytes = gzipSync(doc);
    bytes[bytes.length - 6] ^= 0xff; // CRC
    expect(filterBody(h, corrupt, [bytes]).out.length).toBe(0);
    expect(corrupt.responseAbort?.status).toBe(502);
    const bomb = response({ 'content-type': 'application/json', 'content-encoding': 'gzip' });
    h.headerFilter!(bomb);
    const small = gzipSync(`{"a":"${'0'.repeat(800_000)}"}`);
    expect(small.length).toBeLessThan(1000);
    expect(filterBody(h, bomb, [small]).out.length).toBe(0);
    expect(bomb.responseAbort?.status).toBe(502);
  });

  it('cuts a JSON body the moment it grows past max_body_size (nothing of it was sent)', () => {
    const { h, logs } = handlerFor('{ remove: { json: [secret] }, max_body_size: 100 }');
    const ctx = response({ 'content-type': 'application/json' });
    h.headerFilter!(ctx);
    const r = filterBody(h, ctx, ['{"a":"' + 'x'.repeat(60), 'x'.repeat(60) + '"}']);
    expect(r.out.length).toBe(0);
    expect(ctx.responseAbort?.status).toBe(502);
    expect(logs).toEqual([expect.objectContaining({ level: 'warn', obj: { requestId: 'req-1', limit: 100 } })]);
    const atLimit = response({ 'content-type': 'application/json' });
    h.headerFilter!(atLimit);
    const exact = '{"secret":"' + 'x'.repeat(87) + '"}';
    expect(exact.length).toBe(100);
    expect(filterBody(h, atLimit, [exact]).out.toString()).toBe('{}');
  });

  it('refuses before the head when the runloop reports a Content-Length over the limit', () => {
    const { h } = handlerFor('{ remove: { json: [secret] }, max_body_size: 100 }');
    const ctx = response({ 'content-type': 'application/json' }, { contentLength: 101 });
    h.headerFilter!(ctx);
    expect(ctx.responseAbort?.status).toBe(502);
    const ok = response({ 'content-type': 'application/json' }, { contentLength: 100 });
    h.headerFilter!(ok);
    expect(ok.responseAbort).toBeNull();
  });
});
