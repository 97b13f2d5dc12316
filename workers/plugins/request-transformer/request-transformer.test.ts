/**
 * request-transformer: the Kong config through the real loader (defaults, Kong's messages,
 * templates refused at load), then each operation and Kong's order (uri, method, headers,
 * body, querystring; remove, rename, replace, add, append) on a RequestContext with a
 * body fed through a fake Downstream, split at every position. Kong sources:
 * kong/plugins/request-transformer/{access,schema}.lua. The wire (what a real upstream
 * receives) is in test/integration/request-transformer.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { loadConfigText } from '../../../src/config/load.js';
import type { GatewayConfig } from '../../../src/config/types.js';
import type { Downstream, RequestBodySink } from '../../http/downstream.js';
import { RequestContext } from '../../http/request-context.js';
import type { LocalReply, PluginEnv, PluginHandler, Verdict } from '../../pipeline/types.js';
import { pluginDefinitions } from '../index.js';
import { pluginSchemas } from '../registry-schemas.js';
import { upstreamPathOf } from './handler.js';
import { requestTransformer } from './index.js';
import type { RequestTransformerConfig } from './schema.js';

const HEAD = '_format_version: "3.0"\n';

function load(text: string): GatewayConfig {
  const r = loadConfigText(text, 'kong.yml', {});
  if (!r.ok) throw new Error(r.issues.map((i) => `${i.line}:${i.col} ${i.path}: ${i.message}`).join('\n'));
  return r.config;
}

function issues(config: string): string[] {
  const r = loadConfigText(`${HEAD}plugins:\n  - name: request-transformer\n    config: ${config}\n`, 'kong.yml', {});
  if (r.ok) throw new Error('expected the config to be refused');
  return r.issues.map((i) => `${i.path}: ${i.message}`);
}

function configOf(config: string): RequestTransformerConfig {
  return load(`${HEAD}plugins:\n  - name: request-transformer\n    config: ${config}\n`).plugins[0]!.config as RequestTransformerConfig;
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
  return { h: requestTransformer.create(configOf(config), { log } as unknown as PluginEnv), logs };
}

interface Req {
  method?: string;
  path?: string;
  query?: string;
  headers?: Record<string, string>;
  /** The request body, fed in these chunks (one chunk when a Buffer/string). */
  body?: string | Buffer | Array<string | Buffer>;
  /** Send the body without a Content-Length. */
  chunked?: boolean;
  captures?: Record<string, string>;
}

interface Fed {
  /** How many times a sink was attached (the body was read). */
  reads: number;
}

function request(r: Req = {}): RequestContext & { fed: Fed } {
  const headers: Record<string, string> = Object.assign(Object.create(null), { host: 'api.example.com' }, r.headers ?? {});
  const chunks = r.body === undefined ? [] : (Array.isArray(r.body) ? r.body : [r.body]).map((c) => Buffer.from(c));
  const total = chunks.reduce((n, c) => n + c.length, 0);
  if (r.body !== undefined && !r.chunked) headers['content-length'] = String(total);
  const ctx = new RequestContext('req-1', r.method ?? 'POST', r.path ?? '/orders', r.query ?? '', headers, null, 'api.example.com', 8000, 'http', '10.0.0.7', '10.0.0.7', 0);
  ctx.upstreamPath = r.path ?? '/orders';
  ctx.uriCaptures = r.captures ?? null;
  const fed: Fed = { reads: 0 };
  const unexpected = () => {
    throw new Error('not used by request-transformer');
  };
  const ds: Downstream = {
    aborted: false,
    finished: false,
    headSent: false,
    hasBody: r.body !== undefined && (total > 0 || r.chunked === true),
    contentLength: r.body !== undefined && !r.chunked ? total : -1,
    bytesReceived: 0,
    bytesSent: 0,
    status: 0,
    limitBody: unexpected,
    attachBody: (sink: RequestBodySink) => {
      fed.reads++;
      for (const c of chunks) sink.onBodyChunk(c);
      sink.onBodyEnd();
    },
    pauseBody: () => undefined,
    resumeBody: () => undefined,
    respond: unexpected,
    writeHead: unexpected,
    write: unexpected,
    end: unexpected,
    onDrain: null,
    onAbort: null,
    destroy: unexpected,
    retractHead: () => false,
  } as unknown as Downstream;
  ctx.downstream = ds;
  return Object.assign(ctx, { fed });
}

async function run(h: PluginHandler, ctx: RequestContext): Promise<Verdict> {
  return h.access!(ctx);
}

function sync(h: PluginHandler, ctx: RequestContext): Verdict {
  const v = h.access!(ctx);
  if (v instanceof Promise) throw new Error('expected a synchronous verdict');
  return v;
}

/**
 * The method and Host the upstream gets. Read through upstream-request.ts's view: today the
 * runloop sends ctx.method and (with preserve_host) ctx.headers.host; with the RequestContext
 * fields proposed in the README, ctx.upstreamMethod / ctx.upstreamHost.
 */
function upstreamMethod(ctx: RequestContext): string {
  return (ctx as { upstreamMethod?: string | null }).upstreamMethod ?? ctx.method;
}
function upstreamHost(ctx: RequestContext): string | undefined {
  return (ctx as { upstreamHost?: string | null }).upstreamHost ?? ctx.headers['host'];
}

/** The body the upstream gets: ctx.body when the plugin set one, else what the client sent. */
function upstreamBody(ctx: RequestContext, sent: string | Buffer): string {
  return (ctx.body ?? Buffer.from(sent)).toString('utf8');
}

// ---------------------------------------------------------------------------------------

describe('request-transformer config (Kong schema.lua, through the loader)', () => {
  it("fills Kong's defaults: every list empty, no method, no uri (plus our body limit)", () => {
    const p = load(`${HEAD}plugins:\n  - name: request-transformer\n`).plugins[0]!;
    const lists = { body: [], headers: [], querystring: [] };
    expect(p.config).toEqual({
      http_method: null,
      remove: lists,
      rename: lists,
      replace: { ...lists, uri: null },
      add: lists,
      append: lists,
      max_body_size: 8 * 1024 * 1024,
    });
    expect(p.protocols).toEqual(['grpc', 'grpcs', 'http', 'https']);
  });

  it('is registered with Kong PRIORITY 801 for the loader and the workers', () => {
    expect(pluginSchemas.get('request-transformer')?.priority).toBe(801);
    expect(pluginDefinitions.get('request-transformer')?.priority).toBe(801);
  });

  it("loads Kong's documented examples unchanged", () => {
    const c = configOf(`
      http_method: POST
      remove: { headers: [x-toremove, x-another-one], querystring: ["qs-old-name:qs-new-name", qs2], body: [formparam-toremove] }
      rename: { headers: ["header-old-name:header-new-name"], querystring: ["qs-old-name:qs-new-name"], body: ["param-old:param-new"] }
      replace: { uri: "/anything/$(uri_captures[1])", headers: ["x-to-replace:new"], body: ["body-param1:new-value-1"] }
      add: { headers: ["x-new-header:value", "X-Order-Id:$(uri_captures.order_id)"], querystring: ["new-param:some_value"], body: ["new-form-param:some_value"] }
      append: { headers: ["x-existing-header:some_value"], querystring: ["q:$(query_params.x or 'none')"], body: ["p:$(headers['x-user'])"] }`);
    expect(c.replace.uri).toBe('/anything/$(uri_captures[1])');
    expect(c.add.headers).toEqual(['x-new-header:value', 'X-Order-Id:$(uri_captures.order_id)']);
  });

  it("refuses what Kong refuses, with Kong's messages", () => {
    expect(issues('{ http_method: get }')).toEqual(['plugins[0].config.http_method: invalid value: get']);
    expect(issues('{ add: { body: ["nocolon"] } }')).toEqual(["plugins[0].config.add.body[0]: key 'nocolon' has no value"]);
    expect(issues('{ append: { querystring: ["q:"] } }')).toEqual(["plugins[0].config.append.querystring[0]: key 'q' has no value"]);
    expect(issues('{ add: { headers: ["x-a"] } }')).toEqual(['plugins[0].config.add.headers[0]: invalid value: x-a']);
    expect(issues('{ add: { headers: ["x a:1"] } }')).toEqual(["plugins[0].config.add.headers[0]: 'x a' is not a valid header"]);
    expect(issues('{ remove: { headers: ["bad header"] } }')).toEqual(["plugins[0].config.remove.headers[0]: 'bad header' is not a valid header"]);
    expect(issues('{ rename: { headers: ["x-a:bad name"] } }')).toEqual(["plugins[0].config.rename.headers[0]: 'bad name' is not a valid header"]);
    expect(issues('{ add: { headers: ["x-a:\\u0001"] } }')).toEqual(["plugins[0].config.add.headers[0]: '\u0001' is not a valid header"]);
    expect(issues('{ rnd: 1 }')).toEqual(['plugins[0].config.rnd: unknown field']);
  });

  it('refuses templates outside the supported subset in every templated field', () => {
    const detail = "unsupported name 'type' at position 3";
    expect(issues('{ add: { headers: ["x-a:$(type(headers.b))"] } }')[0]).toContain(`add.headers[0]: value '$(type(headers.b))' is not in supported format, error: ${detail}`);
    expect(issues('{ append: { body: ["a:$(type(headers.b))"] } }')[0]).toContain('append.body[0]: value');
    expect(issues('{ replace: { querystring: ["a:$(type(headers.b))"] } }')[0]).toContain('replace.querystring[0]: value');
    expect(issues('{ rename: { body: ["a:$(os.exit())"] } }')[0]).toContain("rename.body[0]: value '$(os.exit())' is not in supported format");
    expect(issues('{ replace: { uri: "/a/$(string.rep(\\"x\\", 9))" } }')[0]).toContain('replace.uri: value');
  });

  it('refuses a uri that is not a path, or that walks up', () => {
    expect(issues('{ replace: { uri: "anything" } }')).toEqual(["plugins[0].config.replace.uri: invalid value: anything (the path must start with '/')"]);
    expect(issues('{ replace: { uri: "/a/../admin" } }')).toEqual(["plugins[0].config.replace.uri: invalid value: /a/../admin (the path must not contain '.' or '..' segments)"]);
    expect(issues('{ max_body_size: -1 }')).toEqual(['plugins[0].config.max_body_size: value should be between 0 and 1073741824']);
  });
});

describe('request-transformer headers (remove, rename, replace, add, append)', () => {
  it('applies the five operations in order on the same header', () => {
    const { h } = handlerFor('{ remove: { headers: [x-a] }, rename: { headers: ["x-b:x-a"] }, replace: { headers: ["X-A:r"] }, add: { headers: ["x-a:added", "x-new:n"] }, append: { headers: ["x-a:app", "x-c:c2"] } }');
    const ctx = request({ method: 'GET', headers: { 'x-a': '1', 'x-b': '2', 'x-c': 'c1' } });
    expect(sync(h, ctx)).toBeUndefined();
    // x-a removed, x-b renamed into x-a (2), replaced (r), add skipped (present), append joined.
    expect(ctx.headers['x-a']).toBe('r, app');
    expect(ctx.headers['x-b']).toBeUndefined();
    expect(ctx.headers['x-new']).toBe('n');
    expect(ctx.headers['x-c']).toBe('c1, c2');
  });

  it('replace only touches present headers, add only absent ones; names are case-insensitive', () => {
    const { h } = handlerFor('{ replace: { headers: ["X-Absent:r", "X-Present:r"] }, add: { headers: ["X-PRESENT:a", "x-added:a"] } }');
    const ctx = request({ method: 'GET', headers: { 'x-present': 'p' } });
    sync(h, ctx);
    expect(ctx.headers['x-absent']).toBeUndefined();
    expect(ctx.headers['x-present']).toBe('r');
    expect(ctx.headers['x-added']).toBe('a');
  });

  it('appends a cookie with "; " and keeps appending order', () => {
    const { h } = handlerFor('{ append: { headers: ["cookie:b=2", "x-l:1", "x-l:2"] } }');
    const ctx = request({ method: 'GET', headers: { cookie: 'a=1' } });
    sync(h, ctx);
    expect(ctx.headers['cookie']).toBe('a=1; b=2');
    expect(ctx.headers['x-l']).toBe('1, 2');
  });

  it('changes Host only through replace (or a rename to it), as Kong sets upstream_host', () => {
    const noop = handlerFor('{ remove: { headers: [host] }, add: { headers: ["host:added"] }, append: { headers: ["host:appended"] }, rename: { headers: ["host:x-was-host"] } }').h;
    const a = request({ method: 'GET' });
    sync(noop, a);
    expect(upstreamHost(a)).toBe('api.example.com');
    expect(a.headers['x-was-host']).toBeUndefined();
    const rep = handlerFor('{ replace: { headers: ["Host:internal.example:8443"] } }').h;
    const b = request({ method: 'GET' });
    sync(rep, b);
    expect(upstreamHost(b)).toBe('internal.example:8443');
    const ren = handlerFor('{ rename: { headers: ["x-target:host"] } }').h;
    const c = request({ method: 'GET', headers: { 'x-target': 'other.example' } });
    sync(ren, c);
    expect(upstreamHost(c)).toBe('other.example');
    expect(c.headers['x-target']).toBeUndefined();
  });

  it('renders templates from the request as it arrived, not as the earlier edits left it', () => {
    const { h } = handlerFor(
      '{ remove: { headers: [x-user] }, add: { headers: ["x-copy:$(headers.x_user or \'anon\')", "x-order:$(uri_captures.order_id)", "x-q:$(query_params.q)", "x-t:$(shared.tenant)"] } }',
    );
    const ctx = request({ method: 'GET', headers: { 'x-user': 'alice' }, query: 'q=a%20b', captures: { '0': '/orders/7', '1': '7', order_id: '7' } });
    ctx.shared = { tenant: 'acme' };
    sync(h, ctx);
    expect(ctx.headers['x-user']).toBeUndefined();
    expect(ctx.headers).toMatchObject({ 'x-copy': 'alice', 'x-order': '7', 'x-q': 'a b', 'x-t': 'acme' });
  });

  it('refuses (400) a templated value that would inject a header line, and logs which header', () => {
    const { h, logs } = handlerFor('{ add: { headers: ["x-q:$(query_params.q)"] } }');
    const ctx = request({ method: 'GET', query: 'q=a%0D%0AX-Admin:%201' });
    expect(sync(h, ctx)).toEqual({ status: 400, message: 'Bad request' });
    expect(ctx.headers['x-q']).toBeUndefined();
    expect(logs).toEqual([expect.objectContaining({ level: 'warn', obj: { requestId: 'req-1', header: 'x-q' } })]);
    expect(JSON.stringify(logs)).not.toContain('X-Admin');
  });

  it('never edits the framing headers (the gateway frames the body it sends)', () => {
    const { h } = handlerFor(
      '{ remove: { headers: [Content-Length] }, replace: { headers: ["content-length:1"] }, add: { headers: ["transfer-encoding:chunked", "x-keep:content-length"] }, rename: { headers: ["x-len:content-length"] } }',
    );
    const ctx = request({ method: 'POST', headers: { 'x-len': '5' }, body: 'abc' });
    sync(h, ctx);
    expect(ctx.headers['content-length']).toBe('3');
    expect(ctx.headers['transfer-encoding']).toBeUndefined();
    expect(ctx.headers['x-len']).toBe('5');
    expect(ctx.headers['x-keep']).toBe('content-length');
  });

  it('sets an empty header when a template renders nothing (Penlight renders nil as "")', () => {
    const { h } = handlerFor('{ add: { headers: ["x-user:$(headers.missing)"] } }');
    const ctx = request({ method: 'GET' });
    sync(h, ctx);
    expect(ctx.headers['x-user']).toBe('');
  });
});

describe('request-transformer querystring', () => {
  it('applies remove, rename, replace, add, append in order and keeps untouched arguments byte for byte', () => {
    const { h } = handlerFor(
      '{ remove: { querystring: [drop] }, rename: { querystring: ["old:new"] }, replace: { querystring: ["r:replaced value", "absent:x"] }, add: { querystring: ["new:not-added", "a:added/1"] }, append: { querystring: ["tag:c", "z:1"] } }',
    );
    const ctx = request({ method: 'GET', query: 'keep=%7Ex+y%2f&drop=1&old=o&drop&r=1&r=2&tag=a&tag=b&flag' });
    const before = ctx.queryArgs();
    expect(before['drop']).toEqual(['1', true]);
    sync(h, ctx);
    expect(ctx.query).toBe('keep=%7Ex+y%2f&new=o&r=replaced%20value&tag=a&tag=b&flag&a=added%2F1&tag=c&z=1');
    // Plugins after this one read the new query, as after Kong's set_query.
    expect(ctx.queryArgs()).toMatchObject({ new: 'o', r: 'replaced value', tag: ['a', 'b', 'c'], a: 'added/1', flag: true });
    expect(ctx.queryArgs()['drop']).toBeUndefined();
  });

  it('leaves the query exactly as sent when no edit applies', () => {
    const { h } = handlerFor('{ remove: { querystring: [absent] }, replace: { querystring: ["absent:1"] } }');
    const ctx = request({ method: 'GET', query: 'a=%41&&b' });
    sync(h, ctx);
    expect(ctx.query).toBe('a=%41&&b');
  });

  it('renders query values from templates, encoded like ngx.encode_args', () => {
    const { h } = handlerFor('{ add: { querystring: ["user:$(headers.x_user)", "cap:$(uri_captures[1])"] } }');
    const ctx = request({ method: 'GET', headers: { 'x-user': "o'brien & co" }, captures: { '0': '/x', '1': 'a/b' } });
    sync(h, ctx);
    expect(ctx.query).toBe('user=o%27brien%20%26%20co&cap=a%2Fb');
  });
});

describe('request-transformer replace.uri and http_method', () => {
  it('replaces the upstream path with a rendered template', () => {
    const { h } = handlerFor('{ replace: { uri: "/anything/$(uri_captures[1])/$(uri_captures.rest)" } }');
    const ctx = request({ method: 'GET', path: '/users/123/a/b', captures: { '0': '/users/123/a/b', '1': '123', rest: 'a/b' } });
    sync(h, ctx);
    expect(ctx.upstreamPath).toBe('/anything/123/a/b');
  });

  it('encodes what a path cannot carry, so a value cannot start a query or a fragment', () => {
    expect(upstreamPathOf('/a/$x?y=1#frag b')).toBe('/a/$x%3Fy=1%23frag%20b');
    expect(upstreamPathOf('/caf\u00e9/%41/100%')).toBe('/caf%C3%A9/%41/100%25');
    expect(upstreamPathOf('no-slash')).toBe('/no-slash');
    expect(upstreamPathOf('/\u{1F600}')).toBe('/%F0%9F%98%80');
  });

  it("refuses (400) a rendered path with '.' or '..' segments, encoded or not", () => {
    const { h, logs } = handlerFor('{ replace: { uri: "/files/$(query_params.name)" } }');
    for (const name of ['..%2Fadmin', '%2E%2E/admin', '.', 'a/../../b']) {
      const ctx = request({ method: 'GET', query: `name=${encodeURIComponent(decodeURIComponent(name))}` });
      expect(sync(h, ctx)).toEqual({ status: 400, message: 'Bad request' });
      expect(ctx.upstreamPath).toBe('/orders');
    }
    expect(upstreamPathOf('/a/%2e%2E/b')).toBeNull();
    expect(upstreamPathOf('/a/..b/c.d/...')).toBe('/a/..b/c.d/...');
    expect(logs.length).toBe(4);
  });

  it('sets the upstream method; GET moves an urlencoded body into the query (the body stays)', async () => {
    const { h } = handlerFor('{ http_method: GET }');
    const ctx = request({ method: 'POST', query: 'a=1', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'a=2&b=x+y' });
    expect(await run(h, ctx)).toBeUndefined();
    expect(upstreamMethod(ctx)).toBe('GET');
    expect(ctx.query).toBe('a=1&a=2&b=x%20y');
    expect(ctx.body?.toString()).toBe('a=2&b=x+y');
  });

  it('sets the method without reading a body that is not a form, and never changes HEAD', () => {
    const { h } = handlerFor('{ http_method: PUT }');
    const ctx = request({ method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(sync(h, ctx)).toBeUndefined();
    expect(upstreamMethod(ctx)).toBe('PUT');
    expect(ctx.fed.reads).toBe(0);
    const head = request({ method: 'HEAD' });
    sync(h, head);
    expect(upstreamMethod(head)).toBe('HEAD');
    const toHead = handlerFor('{ http_method: HEAD }').h;
    const get = request({ method: 'GET' });
    sync(toHead, get);
    expect(upstreamMethod(get)).toBe('GET');
  });
});

describe('request-transformer JSON body', () => {
  const conf =
    '{ remove: { body: [secret, absent] }, rename: { body: ["old:new"] }, replace: { body: ["r:replaced", "absent2:x"] }, add: { body: ["flag:true", "n:42", "r:not-added"] }, append: { body: ["list:c", "s:b", "num:2", "fresh:x"] } }';
  const body = '{"id":12345678901234567890,"secret":"s3","old":{"k":[1,2]},"r":1,"list":["a","b"],"s":"a","num":1,"price":1.50}';

  it('applies the operations in order; added values are strings; untouched values keep their bytes', async () => {
    const { h } = handlerFor(conf);
    const ctx = request({ headers: { 'content-type': 'application/json; charset=utf-8' }, body });
    expect(await run(h, ctx)).toBeUndefined();
    expect(upstreamBody(ctx, body)).toBe(
      '{"id":12345678901234567890,"r":"replaced","list":["a","b","c"],"s":["a","b"],"num":[1,"2"],"price":1.50,"new":{"k":[1,2]},"flag":"true","n":"42","fresh":["x"]}',
    );
  });

  it('gives the same result wherever the body is split into chunks', async () => {
    const { h } = handlerFor(conf);
    const expected = await (async () => {
      const ctx = request({ headers: { 'content-type': 'application/json' }, body });
      await run(h, ctx);
      return upstreamBody(ctx, body);
    })();
    for (let cut = 1; cut < body.length; cut++) {
      const ctx = request({ headers: { 'content-type': 'application/json' }, body: [body.slice(0, cut), body.slice(cut)], chunked: cut % 2 === 0 });
      await run(h, ctx);
      expect(upstreamBody(ctx, body)).toBe(expected);
    }
  });

  it('removes every duplicate of a removed name and names spelled with escapes', async () => {
    const { h } = handlerFor('{ remove: { body: [role] } }');
    const sent = '{"role":"admin","x":1,"rol\\u0065":"root","role":"user"}';
    const ctx = request({ headers: { 'content-type': 'application/json' }, body: sent });
    await run(h, ctx);
    expect(upstreamBody(ctx, sent)).toBe('{"x":1}');
  });

  it('builds a document from an empty body with add/append only (Kong: remove/rename/replace need content)', async () => {
    const { h } = handlerFor('{ remove: { body: [a] }, replace: { body: ["a:1"] }, add: { body: ["a:$(headers.x_user)"] }, append: { body: ["b:1"] } }');
    const ctx = request({ method: 'POST', headers: { 'content-type': 'application/json', 'x-user': 'alice' } });
    expect(sync(h, ctx)).toBeUndefined();
    expect(ctx.body?.toString()).toBe('{"a":"alice","b":["1"]}');
  });

  it('refuses (400) a body that is not JSON or not UTF-8, rather than forward it untransformed', async () => {
    const { h, logs } = handlerFor('{ remove: { body: [secret] } }');
    for (const bad of ['{"secret":1,}', "{'secret':1}", Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d])]) {
      const ctx = request({ headers: { 'content-type': 'application/json' }, body: bad });
      expect(await run(h, ctx)).toEqual({ status: 400, message: 'Invalid request body' });
      expect(ctx.body === null || ctx.body.equals(Buffer.from(bad))).toBe(true);
    }
    expect(logs.every((l) => l.level === 'warn' && (l.obj['contentType'] as string) === 'application/json')).toBe(true);
  });

  it('passes a JSON document that is not an object as it came (there is no property to edit)', async () => {
    const { h } = handlerFor('{ add: { body: ["a:1"] } }');
    for (const sent of ['[1,2]', '"text"', '7']) {
      const ctx = request({ headers: { 'content-type': 'application/json' }, body: sent });
      expect(await run(h, ctx)).toBeUndefined();
      expect(upstreamBody(ctx, sent)).toBe(sent);
    }
  });

  it('leaves the body bytes alone when no edit applied', async () => {
    const { h } = handlerFor('{ remove: { body: [absent] } }');
    const sent = '{ "a" : 1 }';
    const ctx = request({ headers: { 'content-type': 'application/json' }, body: sent });
    await run(h, ctx);
    expect(upstreamBody(ctx, sent)).toBe(sent);
  });

  it('reads the body with the Content-Type the header edits left (Kong reads it after them)', async () => {
    const { h } = handlerFor('{ replace: { headers: ["content-type:application/json"] }, add: { body: ["a:1"] } }');
    const ctx = request({ headers: { 'content-type': 'text/plain' }, body: '{}' });
    await run(h, ctx);
    expect(ctx.body?.toString()).toBe('{"a":"1"}');
  });
});

describe('request-transformer form body', () => {
  it('applies the operations in order, keeping untouched arguments byte for byte', async () => {
    const { h } = handlerFor(
      '{ remove: { body: [password] }, rename: { body: ["user:login"] }, replace: { body: ["mode:fast"] }, add: { body: ["source:$(headers.x_src)", "mode:x"] }, append: { body: ["tag:b"] } }',
    );
    const sent = 'user=a%2Bb&password=p%40ss&mode=slow&note=caf%C3%A9+au+lait&tag=a';
    const ctx = request({ headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-src': 'web app' }, body: sent });
    await run(h, ctx);
    expect(upstreamBody(ctx, sent)).toBe('login=a%2Bb&mode=fast&note=caf%C3%A9+au+lait&tag=a&source=web%20app&tag=b');
  });

  it('keeps raw bytes that are not UTF-8 in untouched arguments', async () => {
    const { h } = handlerFor('{ add: { body: ["x:1"] } }');
    const sent = Buffer.concat([Buffer.from('raw='), Buffer.from([0xe9, 0xff]), Buffer.from('&b=2')]);
    const ctx = request({ headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: sent });
    await run(h, ctx);
    expect(ctx.body).toEqual(Buffer.concat([sent, Buffer.from('&x=1')]));
  });
});

describe('request-transformer multipart body', () => {
  const B = 'XyZ-boundary';
  const ct = `multipart/form-data; boundary=${B}`;
  const file = Buffer.from([0x00, 0xff, 0x0d, 0x0a, 0x2d, 0x2d, 0x58, 0x10, 0x80]); // binary with CRLF--X inside
  function form(parts: Array<[string, string | Buffer, string?]>): Buffer {
    const chunks: Buffer[] = [Buffer.from('preamble ignored\r\n')];
    for (const [name, value, extra] of parts) {
      chunks.push(Buffer.from(`--${B}\r\nContent-Disposition: form-data; name="${name}"${extra ?? ''}\r\n\r\n`), Buffer.from(value), Buffer.from('\r\n'));
    }
    chunks.push(Buffer.from(`--${B}--\r\nepilogue`));
    return Buffer.concat(chunks);
  }

  it('renames (keeping the file part whole), removes, replaces and adds parts', async () => {
    const { h } = handlerFor('{ rename: { body: ["upload:document"] }, remove: { body: [secret] }, replace: { body: ["mode:fast"] }, add: { body: ["source:api", "mode:x"] }, append: { body: ["ignored:1"] } }');
    const sent = form([
      ['upload', file, '; filename="a.bin"\r\nContent-Type: application/octet-stream'],
      ['secret', 's3'],
      ['mode', 'slow'],
      ['keep', 'v'],
    ]);
    const ctx = request({ headers: { 'content-type': ct }, body: sent });
    expect(await run(h, ctx)).toBeUndefined();
    const expected = Buffer.concat([
      Buffer.from(`--${B}\r\nContent-Disposition: form-data; name="document"; filename="a.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`),
      file,
      Buffer.from(`\r\n--${B}\r\nContent-Disposition: form-data; name="keep"\r\n\r\nv\r\n`),
      Buffer.from(`--${B}\r\nContent-Disposition: form-data; name="mode"\r\n\r\nfast\r\n`),
      Buffer.from(`--${B}\r\nContent-Disposition: form-data; name="source"\r\n\r\napi\r\n`),
      Buffer.from(`--${B}--\r\n`),
    ]);
    expect(ctx.body).toEqual(expected);
  });

  it('gives the same result wherever the body is split', async () => {
    const { h } = handlerFor('{ remove: { body: [secret] } }');
    const sent = form([
      ['a', '1'],
      ['secret', 's3'],
      ['f', file, '; filename="f"'],
    ]);
    const whole = request({ headers: { 'content-type': ct }, body: sent });
    await run(h, whole);
    expect(whole.body!.includes(Buffer.from('s3'))).toBe(false);
    for (let cut = 1; cut < sent.length; cut += 3) {
      const ctx = request({ headers: { 'content-type': ct }, body: [sent.subarray(0, cut), sent.subarray(cut)], chunked: true });
      await run(h, ctx);
      expect(ctx.body).toEqual(whole.body);
    }
  });

  it('refuses (400) broken framing and ambiguous field names, which an upstream might read differently', async () => {
    const { h } = handlerFor('{ remove: { body: [role] } }');
    const bad = [
      Buffer.from(`--${B}\r\nContent-Disposition: form-data; name="role"\r\n\r\nadmin\r\n`), // never closed
      Buffer.from(`no delimiter at all`),
      Buffer.from(`--${B}\r\nContent-Disposition: form-data; name="a"; name="role"\r\n\r\nadmin\r\n--${B}--\r\n`),
      Buffer.from(`--${B}\r\nContent-Disposition: form-data; name="a"\r\nContent-Disposition: form-data; name="role"\r\n\r\nadmin\r\n--${B}--\r\n`),
      Buffer.from(`--${B}\r\nContent-Disposition: form-data; name*=utf-8''role\r\n\r\nadmin\r\n--${B}--\r\n`),
      Buffer.from(`--${B}\r\nContent-Disposition: form-data; name="role"\r\nno blank line--${B}--\r\n`),
    ];
    for (const sent of bad) {
      const ctx = request({ headers: { 'content-type': ct }, body: sent });
      expect(await run(h, ctx)).toEqual({ status: 400, message: 'Invalid request body' });
    }
    const noBoundary = request({ headers: { 'content-type': 'multipart/form-data' }, body: form([['a', '1']]) });
    expect(await run(h, noBoundary)).toEqual({ status: 400, message: 'Invalid request body' });
  });

  it('handles a quoted boundary and an empty body with add', async () => {
    const { h } = handlerFor('{ add: { body: ["a:1"] } }');
    const ctx = request({ headers: { 'content-type': `multipart/form-data; boundary="${B}"` } });
    expect(sync(h, ctx)).toBeUndefined();
    expect(ctx.body?.toString()).toBe(`--${B}\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--${B}--\r\n`);
  });
});

describe('request-transformer body limits and what it never reads', () => {
  it('answers 413 without reading a body whose Content-Length is over max_body_size', async () => {
    const { h } = handlerFor('{ max_body_size: 10, add: { body: ["a:1"] } }');
    const ctx = request({ headers: { 'content-type': 'application/json' }, body: '{"abcdef":12}' });
    expect(await run(h, ctx)).toEqual({ status: 413, message: 'Request size limit exceeded' });
    expect(ctx.fed.reads).toBe(0);
    const atLimit = request({ headers: { 'content-type': 'application/json' }, body: '{"ab":123}' });
    expect(await run(h, atLimit)).toBeUndefined();
    expect(atLimit.body?.toString()).toBe('{"ab":123,"a":"1"}');
  });

  it('answers 413 when a chunked body grows past max_body_size', async () => {
    const { h } = handlerFor('{ max_body_size: 10, remove: { body: ["a"] } }');
    const ctx = request({ headers: { 'content-type': 'application/json' }, body: ['{"a":', '"0123456789"}'], chunked: true });
    expect(await run(h, ctx)).toEqual<LocalReply>({ status: 413, message: 'Request size limit exceeded' });
    expect(ctx.body).toBeNull();
  });

  it('answers 415 to a compressed body it would have to edit', () => {
    const { h } = handlerFor('{ remove: { body: ["a"] } }');
    const ctx = request({ headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' }, body: 'xx' });
    expect(sync(h, ctx)).toEqual({ status: 415, message: 'Unsupported Content-Encoding' });
    const identity = request({ headers: { 'content-type': 'application/json', 'content-encoding': 'identity' }, body: '{"a":1}' });
    expect(h.access!(identity)).toBeInstanceOf(Promise);
  });

  it('stays synchronous and never reads the body when no body edit applies to its type', () => {
    const { h } = handlerFor('{ add: { headers: ["x-a:1"], querystring: ["q:1"] }, remove: { body: [secret] } }');
    const ctx = request({ headers: { 'content-type': 'text/plain' }, body: 'secret=1' });
    expect(sync(h, ctx)).toBeUndefined();
    expect(ctx.fed.reads).toBe(0);
    expect(ctx.body).toBeNull();
    expect(ctx.headers['x-a']).toBe('1');
    expect(ctx.query).toBe('q=1');
  });
});
