/**
 * cors: the config a Kong 3.x user writes (through the real loader, with positions) and what
 * the handler answers, driven through our RequestContext. Kong sources:
 * kong/plugins/cors/{schema,handler}.lua. The two documented differences (no reflection of
 * an arbitrary Origin with credentials, no unmatched single origin) are tested as such.
 */
import { describe, expect, it } from 'vitest';
import { loadConfigText } from '../../../src/config/load.js';
import type { GatewayConfig } from '../../../src/config/types.js';
import { RequestContext, type ResponseState } from '../../http/request-context.js';
import type { LocalReply, PluginEnv, PluginHandler, Verdict } from '../../pipeline/types.js';
import { pluginDefinitions } from '../index.js';
import { pluginSchemas } from '../registry-schemas.js';
import { normalizeOrigin, ORIGIN_CACHE_SIZE } from './handler.js';
import { cors } from './index.js';
import type { CorsConfig } from './schema.js';

const HEAD = '_format_version: "3.0"\n';
const ALL_METHODS = 'GET,HEAD,PUT,PATCH,POST,DELETE,OPTIONS,TRACE,CONNECT';

function load(text: string): GatewayConfig {
  const r = loadConfigText(text, 'kong.yml', {});
  if (!r.ok) throw new Error(r.issues.map((i) => `${i.line}:${i.col} ${i.path}: ${i.message}`).join('\n'));
  return r.config;
}

function issues(text: string): string[] {
  const r = loadConfigText(text, 'kong.yml', {});
  if (r.ok) throw new Error('expected the config to be refused');
  return r.issues.map((i) => `${i.line}:${i.col} ${i.path}: ${i.message}`);
}

function configOf(config: string): CorsConfig {
  return load(`${HEAD}plugins:\n  - name: cors\n    config: ${config}\n`).plugins[0]!.config as CorsConfig;
}

interface Logged {
  level: string;
  msg: string;
  obj: object;
}

function makeEnv(workerId = 0): { env: PluginEnv; logged: Logged[] } {
  const logged: Logged[] = [];
  const log = (level: string) => (obj: object, msg?: string) => void logged.push({ level, msg: msg ?? '', obj });
  const env = { workerId, log: { info: log('info'), warn: log('warn'), error: log('error') }, consumers: null } as unknown as PluginEnv;
  return { env, logged };
}

function handlerFor(config = '{}'): PluginHandler {
  return cors.create(configOf(config), makeEnv(1).env);
}

function request(method: string, headers: Record<string, string> = {}, repeated: string[] | null = null): RequestContext {
  const h: Record<string, string> = Object.assign(Object.create(null), { host: 'api.example.com' }, headers);
  return new RequestContext('0123456789abcdef0123456789abcdef', method, '/orders', '', h, repeated, 'api.example.com', 8000, 'http', '10.0.0.7', '10.0.0.7', 0);
}

function preflight(headers: Record<string, string> = {}): RequestContext {
  return request('OPTIONS', { origin: 'https://app.example.com', 'access-control-request-method': 'POST', ...headers });
}

function access(h: PluginHandler, ctx: RequestContext): Verdict {
  const v = h.access!(ctx);
  if (v instanceof Promise) throw new Error('expected a synchronous verdict');
  return v;
}

function reply(h: PluginHandler, ctx: RequestContext): LocalReply {
  const v = access(h, ctx);
  if (v === undefined) throw new Error('expected a preflight reply');
  return v;
}

/** The reply's headers as a name -> value object (each name once). */
function headersOf(r: LocalReply): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of r.headers ?? []) {
    expect(out[k], `header ${k} sent twice`).toBeUndefined();
    out[k] = v;
  }
  return out;
}

/** Runs access (as the chain would) then header_filter on an upstream response. */
function filtered(h: PluginHandler, ctx: RequestContext, upstream: Record<string, string | string[]> = {}): ResponseState['headers'] {
  expect(access(h, ctx)).toBeUndefined();
  ctx.response = { status: 200, headers: { 'content-type': 'application/json', ...upstream }, source: 'upstream' };
  h.headerFilter!(ctx);
  return ctx.response.headers;
}

const CORS_NAMES = /^(access-control-|vary$)/;
function corsHeaders(headers: ResponseState['headers']): Record<string, string | string[]> {
  return Object.fromEntries(Object.entries(headers).filter(([k]) => CORS_NAMES.test(k)));
}

// ---------------------------------------------------------------------------------------

describe('cors config (Kong schema.lua, through the loader)', () => {
  it("fills Kong's defaults: all nine methods, no origins (any), allow_origin_absent", () => {
    const p = load(`${HEAD}plugins:\n  - name: cors\n`).plugins[0]!;
    expect(p.config).toEqual({
      origins: null,
      headers: null,
      exposed_headers: null,
      methods: ['GET', 'HEAD', 'PUT', 'PATCH', 'POST', 'DELETE', 'OPTIONS', 'TRACE', 'CONNECT'],
      max_age: null,
      credentials: false,
      private_network: false,
      preflight_continue: false,
      allow_origin_absent: true,
    });
    expect(p.protocols).toEqual(['grpc', 'grpcs', 'http', 'https']);
  });

  it('is registered with Kong PRIORITY 2000 for the loader and the workers, no_consumer', () => {
    expect(pluginSchemas.get('cors')?.priority).toBe(2000);
    expect(pluginDefinitions.get('cors')?.priority).toBe(2000);
    expect(pluginSchemas.get('cors')?.noConsumer).toBe(true);
  });

  it('loads a typical Kong config unchanged: exact origins, Kong-style regexes, numbers', () => {
    const c = configOf(
      '{ origins: ["https://app.example.com", "http://localhost:3000", "(.*\\\\.)?example\\\\.org", "^https://.*\\\\.example\\\\.net$"], headers: [Authorization, Content-Type], exposed_headers: [X-Request-Id], methods: [GET, POST], max_age: 3600, credentials: true, private_network: true, preflight_continue: false, allow_origin_absent: false }',
    );
    expect(c.origins).toEqual(['https://app.example.com', 'http://localhost:3000', '(.*\\.)?example\\.org', '^https://.*\\.example\\.net$']);
    expect(c.max_age).toBe(3600);
    expect(configOf('{ max_age: 1.5 }').max_age).toBe(1.5);
  });

  it('refuses an origin that is not a valid regex, with its position and RE2 reason', () => {
    const out = issues(`${HEAD}plugins:\n  - name: cors\n    config: { origins: ["https://ok.example", "(unclosed"] }\n`);
    expect(out).toHaveLength(1);
    expect(out[0]).toMatch(/^4:47 plugins\[0\]\.config\.origins\[1\]: '\(unclosed' is not a valid regex \(RE2: .+\)$/);
    // PCRE-only syntax (lookahead) is refused rather than silently never matching.
    expect(issues(`${HEAD}plugins:\n  - name: cors\n    config: { origins: ["(?!evil).*"] }\n`)[0]).toMatch(/is not a valid regex/);
  });

  it('refuses unknown methods, unknown fields, wrong types, control characters and a consumer scope', () => {
    expect(issues(`${HEAD}plugins:\n  - name: cors\n    config: { methods: [GET, FETCH] }\n`)).toEqual([
      '4:30 plugins[0].config.methods[1]: expected one of: GET, HEAD, PUT, PATCH, POST, DELETE, OPTIONS, TRACE, CONNECT',
    ]);
    expect(issues(`${HEAD}plugins:\n  - name: cors\n    config: { origin: "*" }\n`)).toEqual(['4:15 plugins[0].config.origin: unknown field']);
    expect(issues(`${HEAD}plugins:\n  - name: cors\n    config: { credentials: "yes" }\n`)).toEqual([
      '4:28 plugins[0].config.credentials: expected a boolean',
    ]);
    expect(issues(`${HEAD}plugins:\n  - name: cors\n    config: { headers: ["X-A\\r\\nSet-Cookie: a=b"] }\n`)).toEqual([
      '4:25 plugins[0].config.headers[0]: must not contain control characters',
    ]);
    expect(issues(`${HEAD}consumers:\n  - username: alice\n    plugins:\n      - name: cors\n`)[0]).toMatch(
      /plugin 'cors' cannot be applied to a consumer/,
    );
  });
});

describe("normalizeOrigin (Kong's normalize_origin, LuaSocket url.parse)", () => {
  it('keeps scheme://host[:port], drops default ports and paths', () => {
    expect(normalizeOrigin('https://app.example.com')).toEqual({ domain: 'https://app.example.com', host: 'app.example.com' });
    expect(normalizeOrigin('https://app.example.com:443')).toEqual({ domain: 'https://app.example.com', host: 'app.example.com' });
    expect(normalizeOrigin('http://app.example.com:80/x?y#z')).toEqual({ domain: 'http://app.example.com', host: 'app.example.com' });
    expect(normalizeOrigin('http://app.example.com:443')).toEqual({ domain: 'http://app.example.com:443', host: 'app.example.com' });
    expect(normalizeOrigin('http://localhost:3000')).toEqual({ domain: 'http://localhost:3000', host: 'localhost' });
    expect(normalizeOrigin('https://user@app.example.com')).toEqual({ domain: 'https://app.example.com', host: 'app.example.com' });
  });

  it('keeps IPv6 brackets in the domain, not in the host', () => {
    expect(normalizeOrigin('http://[::1]:8080')).toEqual({ domain: 'http://[::1]:8080', host: '::1' });
    expect(normalizeOrigin('http://[::1]')).toEqual({ domain: 'http://[::1]', host: '::1' });
  });

  it('returns a value without a host as is (null, bare names)', () => {
    expect(normalizeOrigin('null')).toEqual({ domain: 'null', host: 'null' });
    expect(normalizeOrigin('app.example.com')).toEqual({ domain: 'app.example.com', host: 'app.example.com' });
    expect(normalizeOrigin('localhost:3000')).toEqual({ domain: 'localhost:3000', host: 'localhost:3000' });
  });
});

describe('cors preflight (access)', () => {
  it('answers 200 with an empty body and Kong headers with the default config', () => {
    const r = reply(handlerFor(), preflight());
    expect(r.status).toBe(200);
    expect(r.body).toBe('');
    expect(r.message).toBeUndefined();
    expect(headersOf(r)).toEqual({ 'access-control-allow-origin': '*', 'access-control-allow-methods': ALL_METHODS });
  });

  it('echoes Access-Control-Request-Headers when no headers are configured', () => {
    const r = reply(handlerFor(), preflight({ 'access-control-request-headers': 'X-Custom, Content-Type' }));
    expect(headersOf(r)['access-control-allow-headers']).toBe('X-Custom, Content-Type');
  });

  it('sends the configured lists joined with "," (Kong concat), Max-Age and Vary for an origin list', () => {
    const h = handlerFor(
      '{ origins: ["https://app.example.com", "https://admin.example.com"], headers: [Authorization, Content-Type], methods: [GET, POST], max_age: 3600, exposed_headers: [X-Id] }',
    );
    const r = reply(h, preflight({ 'access-control-request-headers': 'X-Ignored' }));
    expect(headersOf(r)).toEqual({
      vary: 'Origin',
      'access-control-allow-origin': 'https://app.example.com',
      'access-control-allow-headers': 'Authorization,Content-Type',
      'access-control-allow-methods': 'GET,POST',
      'access-control-max-age': '3600',
    });
    // Same answer again (cached per origin), never with exposed headers on a preflight.
    expect(headersOf(reply(h, preflight()))).toEqual(headersOf(r));
  });

  it('sends credentials with a listed origin, and nothing but Vary for an unlisted one', () => {
    const h = handlerFor('{ origins: ["https://app.example.com", "https://admin.example.com"], credentials: true }');
    expect(headersOf(reply(h, preflight()))).toEqual({
      vary: 'Origin',
      'access-control-allow-origin': 'https://app.example.com',
      'access-control-allow-credentials': 'true',
      'access-control-allow-methods': ALL_METHODS,
    });
    // Kong: ACAO cleared, Access-Control-Allow-Credentials still sent (harmless without an ACAO).
    expect(headersOf(reply(h, preflight({ origin: 'https://evil.example' })))).toEqual({
      vary: 'Origin',
      'access-control-allow-credentials': 'true',
      'access-control-allow-methods': ALL_METHODS,
    });
  });

  it('answers Access-Control-Request-Private-Network only when private_network is set', () => {
    const pna = { 'access-control-request-private-network': 'true' };
    expect(headersOf(reply(handlerFor(), preflight(pna)))['access-control-allow-private-network']).toBeUndefined();
    const h = handlerFor('{ private_network: true, headers: [X-A] }');
    expect(headersOf(reply(h, preflight(pna)))['access-control-allow-private-network']).toBe('true');
    expect(headersOf(reply(h, preflight()))['access-control-allow-private-network']).toBeUndefined();
    expect(headersOf(reply(h, preflight({ 'access-control-request-private-network': 'false' })))['access-control-allow-private-network']).toBeUndefined();
  });

  it('is only OPTIONS with both Origin and Access-Control-Request-Method', () => {
    const h = handlerFor();
    expect(access(h, request('OPTIONS', { origin: 'https://a.example' }))).toBeUndefined();
    expect(access(h, request('OPTIONS', { 'access-control-request-method': 'GET' }))).toBeUndefined();
    expect(access(h, request('POST', { origin: 'https://a.example', 'access-control-request-method': 'GET' }))).toBeUndefined();
    // An empty Origin is present (Lua's "" is truthy): still a preflight.
    expect(access(h, preflight({ origin: '' }))?.status).toBe(200);
  });

  it('with preflight_continue proxies the preflight and adds nothing to the upstream answer', () => {
    const h = handlerFor('{ preflight_continue: true, origins: ["https://app.example.com"] }');
    const ctx = preflight();
    const headers = filtered(h, ctx, { 'access-control-allow-origin': 'https://upstream.example' });
    expect(corsHeaders(headers)).toEqual({ 'access-control-allow-origin': 'https://upstream.example' });
  });

  it("adds headers to a preflight's error answer when access never ran (an earlier plugin answered)", () => {
    const h = handlerFor('{ origins: ["https://app.example.com"] }');
    const ctx = preflight();
    ctx.response = { status: 403, headers: {}, source: 'gateway' };
    h.headerFilter!(ctx);
    expect(corsHeaders(ctx.response.headers)).toEqual({ vary: 'Origin', 'access-control-allow-origin': 'https://app.example.com' });
  });
});

describe('cors response headers (header_filter)', () => {
  it('with any origin: ACAO * replacing the upstream one, no Vary, exposed headers', () => {
    const h = handlerFor('{ exposed_headers: [X-Request-Id, X-Total] }');
    const headers = filtered(h, request('GET', { origin: 'https://a.example' }), { 'access-control-allow-origin': 'https://x' });
    expect(corsHeaders(headers)).toEqual({ 'access-control-allow-origin': '*', 'access-control-expose-headers': 'X-Request-Id,X-Total' });
    expect(headers['content-type']).toBe('application/json');
  });

  it('with an origin list: the normalised matching origin, Vary appended to the upstream Vary', () => {
    const h = handlerFor('{ origins: ["https://app.example.com", "http://localhost:3000"], credentials: true }');
    expect(corsHeaders(filtered(h, request('GET', { origin: 'https://app.example.com:443' }), { vary: 'Accept-Encoding' }))).toEqual({
      vary: ['Accept-Encoding', 'Origin'],
      'access-control-allow-origin': 'https://app.example.com',
      'access-control-allow-credentials': 'true',
    });
    expect(corsHeaders(filtered(h, request('GET', { origin: 'http://localhost:3000' }), { vary: ['A', 'B'] }))).toEqual({
      vary: ['A', 'B', 'Origin'],
      'access-control-allow-origin': 'http://localhost:3000',
      'access-control-allow-credentials': 'true',
    });
  });

  it("removes the upstream's ACAO when the origin is not listed (Kong clear_header)", () => {
    const h = handlerFor('{ origins: ["https://app.example.com", "https://admin.example.com"] }');
    const headers = filtered(h, request('GET', { origin: 'https://evil.example' }), { 'access-control-allow-origin': '*' });
    expect(corsHeaders(headers)).toEqual({ vary: 'Origin' });
  });

  it('with allow_origin_absent (default) adds headers without Origin; with false leaves the response alone', () => {
    expect(corsHeaders(filtered(handlerFor(), request('GET')))).toEqual({ 'access-control-allow-origin': '*' });
    const list = handlerFor('{ origins: ["https://app.example.com", "https://b.example"], credentials: true }');
    expect(corsHeaders(filtered(list, request('GET')))).toEqual({ vary: 'Origin', 'access-control-allow-credentials': 'true' });
    const strict = handlerFor('{ allow_origin_absent: false, exposed_headers: [X-A] }');
    expect(corsHeaders(filtered(strict, request('GET'), { 'access-control-allow-origin': 'up' }))).toEqual({ 'access-control-allow-origin': 'up' });
    expect(corsHeaders(filtered(strict, request('GET', { origin: 'https://a.example' })))).toEqual({
      'access-control-allow-origin': '*',
      'access-control-expose-headers': 'X-A',
    });
  });

  it('adds headers to gateway answers too (a 401 of a later plugin)', () => {
    const h = handlerFor('{ origins: ["https://app.example.com", "https://b.example"] }');
    const ctx = request('GET', { origin: 'https://b.example' });
    expect(access(h, ctx)).toBeUndefined();
    ctx.response = { status: 401, headers: { 'www-authenticate': 'Key' }, source: 'gateway' };
    h.headerFilter!(ctx);
    expect(ctx.response.headers).toEqual({ 'www-authenticate': 'Key', vary: 'Origin', 'access-control-allow-origin': 'https://b.example' });
  });

  it('does nothing before a response exists', () => {
    const ctx = request('GET', { origin: 'https://a.example' });
    handlerFor().headerFilter!(ctx);
    expect(ctx.response).toBeNull();
  });
});

describe('cors origin matching (exact, regex, anchoring)', () => {
  const acao = (h: PluginHandler, origin: string) => filtered(h, request('GET', { origin }))['access-control-allow-origin'];

  it('matches a regex without ":" against the host only, anchored at both ends', () => {
    const h = handlerFor('{ origins: ["(.*\\\\.)?example\\\\.com", "https://fixed.example"] }');
    expect(acao(h, 'https://example.com')).toBe('https://example.com');
    expect(acao(h, 'http://api.example.com:8080')).toBe('http://api.example.com:8080');
    expect(acao(h, 'https://example.com.evil.org')).toBeUndefined();
    expect(acao(h, 'https://evilexample.com')).toBeUndefined();
    expect(acao(h, 'https://example.comm')).toBeUndefined();
  });

  it('matches a regex with ":" against scheme://host[:port]; a leading ^ and trailing $ are accepted', () => {
    const h = handlerFor('{ origins: ["^https://.*\\\\.example\\\\.net$", "http://localhost:[0-9]+", "x"] }');
    expect(acao(h, 'https://a.example.net')).toBe('https://a.example.net');
    expect(acao(h, 'http://a.example.net')).toBeUndefined();
    expect(acao(h, 'https://a.example.net.evil')).toBeUndefined();
    expect(acao(h, 'http://localhost:5173')).toBe('http://localhost:5173');
    expect(acao(h, 'http://localhost:5173.evil.org')).toBeUndefined();
    expect(acao(h, 'https://localhost:5173')).toBeUndefined();
  });

  it("keeps Kong's anchoring of an alternation: only the last branch gets the $", () => {
    // Kong matches "a\.example|b\.example" as ^(?:a\.example|b\.example$): the first branch is a prefix.
    const h = handlerFor('{ origins: ["a\\\\.example|b\\\\.example", "https://z.example"] }');
    expect(acao(h, 'https://a.example')).toBe('https://a.example');
    expect(acao(h, 'https://a.example.evil.org')).toBe('https://a.example.evil.org');
    expect(acao(h, 'https://b.example.evil.org')).toBeUndefined();
    expect(acao(h, 'https://xa.example')).toBeUndefined();
  });

  it('matches exact origins exactly (case, scheme and port count)', () => {
    const h = handlerFor('{ origins: ["https://app.example.com", "https://b.example:8443"] }');
    expect(acao(h, 'https://app.example.com')).toBe('https://app.example.com');
    expect(acao(h, 'http://app.example.com')).toBeUndefined();
    expect(acao(h, 'https://app.example.com:8443')).toBeUndefined();
    expect(acao(h, 'https://APP.example.com')).toBeUndefined();
    expect(acao(h, 'https://b.example:8443')).toBe('https://b.example:8443');
    expect(acao(h, 'https://b.example')).toBeUndefined();
  });

  it('never matches a repeated Origin header', () => {
    const h = handlerFor('{ origins: [".*", "https://app.example.com"] }');
    const ctx = request('GET', { origin: 'https://app.example.com, https://evil.example' }, ['origin']);
    expect(corsHeaders(filtered(h, ctx))).toEqual({ vary: 'Origin' });
  });

  it('stays correct when more distinct origins arrive than the cache holds', () => {
    const h = handlerFor('{ origins: ["https://app.example.com", "https://[a-z]+\\\\.example\\\\.org"] }');
    for (let i = 0; i < ORIGIN_CACHE_SIZE + 50; i++) expect(acao(h, `https://o${i}.example`)).toBeUndefined();
    expect(acao(h, 'https://app.example.com')).toBe('https://app.example.com');
    expect(acao(h, 'https://abc.example.org')).toBe('https://abc.example.org');
    expect(acao(h, 'https://o1.example')).toBeUndefined();
  });
});

describe('cors credentials safety (beyond Kong)', () => {
  it("origins '*' + credentials: ACAO * without credentials, never the request Origin (Kong reflects it)", () => {
    for (const conf of ['{ credentials: true }', '{ origins: ["*"], credentials: true }', '{ origins: [], credentials: true }']) {
      const h = handlerFor(conf);
      expect(corsHeaders(filtered(h, request('GET', { origin: 'https://evil.example' })))).toEqual({ 'access-control-allow-origin': '*' });
      expect(headersOf(reply(h, preflight({ origin: 'https://evil.example' })))).toEqual({
        'access-control-allow-origin': '*',
        'access-control-allow-methods': ALL_METHODS,
      });
    }
  });

  it("'*' among listed origins + credentials: listed origins get credentials, others '*' without", () => {
    const h = handlerFor('{ origins: ["*", "https://app.example.com"], credentials: true }');
    expect(corsHeaders(filtered(h, request('GET', { origin: 'https://app.example.com' })))).toEqual({
      vary: 'Origin',
      'access-control-allow-origin': 'https://app.example.com',
      'access-control-allow-credentials': 'true',
    });
    expect(corsHeaders(filtered(h, request('GET', { origin: 'https://evil.example' })))).toEqual({
      vary: 'Origin',
      'access-control-allow-origin': '*',
    });
  });

  it("'*' among listed origins without credentials: '*' for every Origin, as Kong", () => {
    const h = handlerFor('{ origins: ["https://app.example.com", "*"] }');
    expect(filtered(h, request('GET', { origin: 'https://app.example.com' }))['access-control-allow-origin']).toBe('*');
    expect(filtered(h, request('GET', { origin: 'https://other.example' }))['access-control-allow-origin']).toBe('*');
    // No Origin: Kong clears ACAO for a list (its '*' is only seen when an Origin is matched).
    expect(corsHeaders(filtered(h, request('GET')))).toEqual({ vary: 'Origin' });
  });

  it('a single exact origin is sent only to that origin (Kong sends it to every Origin)', () => {
    const h = handlerFor('{ origins: ["https://app.example.com"], credentials: true }');
    expect(corsHeaders(filtered(h, request('GET', { origin: 'https://app.example.com' })))).toEqual({
      vary: 'Origin',
      'access-control-allow-origin': 'https://app.example.com',
      'access-control-allow-credentials': 'true',
    });
    expect(corsHeaders(filtered(h, request('GET', { origin: 'https://evil.example' })))).toEqual({
      vary: 'Origin',
      'access-control-allow-credentials': 'true',
    });
    expect(headersOf(reply(h, preflight({ origin: 'https://evil.example' })))['access-control-allow-origin']).toBeUndefined();
  });

  it('warns once per config (worker 0) about * with credentials and about catch-all regexes', () => {
    const star = makeEnv(0);
    cors.create(configOf('{ origins: ["*"], credentials: true }'), star.env);
    expect(star.logged.map((l) => l.level)).toEqual(['warn']);
    expect(star.logged[0]!.msg).toMatch(/without credentials/);
    const other = makeEnv(1);
    cors.create(configOf('{ origins: ["*"], credentials: true }'), other.env);
    expect(other.logged).toEqual([]);
    const loose = makeEnv(0);
    cors.create(configOf('{ origins: [".*", "https://[a-z]+\\\\.example\\\\.com"], credentials: true }'), loose.env);
    expect(loose.logged).toHaveLength(1);
    expect(loose.logged[0]!.obj).toEqual({ plugin: 'cors', origin: '.*' });
    const quiet = makeEnv(0);
    cors.create(configOf('{ origins: [".*"] }'), quiet.env);
    expect(quiet.logged).toEqual([]);
  });
});
