/**
 * correlation-id: the config a Kong 3.x user writes (validated by the real loader), and what
 * the handler does to the request sent upstream and to the response, driven through our
 * RequestContext without a listener. Kong sources: kong/plugins/correlation-id/{schema,handler}.lua.
 */
import { describe, expect, it } from 'vitest';
import { loadConfigText } from '../../../src/config/load.js';
import type { GatewayConfig } from '../../../src/config/types.js';
import { RequestContext } from '../../http/request-context.js';
import { compilePipelines } from '../../pipeline/compile.js';
import { runAccess, runHeaderFilter } from '../../pipeline/run.js';
import type { PluginEnv, PluginHandler } from '../../pipeline/types.js';
import { upstreamRequestHeaders } from '../../proxy/forward-headers.js';
import { pluginDefinitions } from '../index.js';
import { pluginSchemas } from '../registry-schemas.js';
import { correlationId } from './index.js';
import type { CorrelationIdConfig } from './schema.js';

const HEAD = '_format_version: "3.0"\n';
// Neither plugin reads its env; the cast keeps the tests independent of what else PluginEnv carries.
const env = { workerId: 0, log: { info() {}, warn() {}, error() {} } } as unknown as PluginEnv;
const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

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

/** `line:col` (1-based) of the first occurrence of `needle` in `text`. */
function at(text: string, needle: string): string {
  const index = text.indexOf(needle);
  if (index < 0) throw new Error(`'${needle}' not found`);
  const before = text.slice(0, index).split('\n');
  return `${before.length}:${before[before.length - 1]!.length + 1}`;
}

function globalPlugin(config: string): string {
  return `${HEAD}plugins:\n  - name: correlation-id\n    config: ${config}\n`;
}

function configOf(config: string): CorrelationIdConfig {
  return load(globalPlugin(config)).plugins[0]!.config as CorrelationIdConfig;
}

function handlerFor(config: string): PluginHandler {
  return correlationId.create(configOf(config), env);
}

function request(headers: Record<string, string> = {}): RequestContext {
  return new RequestContext(
    '0123456789abcdef0123456789abcdef',
    'GET',
    '/orders',
    '',
    { host: 'api.example.com', ...headers },
    null,
    'api.example.com',
    8000,
    'http',
    '10.0.0.7',
    '10.0.0.7',
    0,
  );
}

/** Runs access (which must not stop the request) and returns the request header it left. */
function accessed(h: PluginHandler, ctx: RequestContext, header: string): string | undefined {
  expect(h.access!(ctx)).toBeUndefined();
  return ctx.headers[header];
}

/** The response as header_filter sees it: an upstream answer with a header of its own. */
function upstreamResponse(ctx: RequestContext): void {
  ctx.response = { status: 200, headers: { 'content-type': 'text/plain', 'x-upstream': 'yes' }, source: 'upstream' };
}

// ---------------------------------------------------------------------------------------

describe('correlation-id config (Kong schema.lua, through the loader)', () => {
  it("fills Kong's defaults when config is left out", () => {
    const p = load(`${HEAD}plugins:\n  - name: correlation-id\n`).plugins[0]!;
    expect(p.config).toEqual({ header_name: 'Kong-Request-ID', generator: 'uuid#counter', echo_downstream: false });
    expect(p.protocols).toEqual(['grpc', 'grpcs', 'http', 'https']);
  });

  it("accepts Kong's three generators and nothing else", () => {
    for (const g of ['uuid', 'uuid#counter', 'tracker']) expect(configOf(`{ generator: "${g}" }`).generator).toBe(g);
    const text = globalPlugin('{ generator: random }');
    expect(issues(text)).toEqual([`${at(text, 'random')} plugins[0].config.generator: expected one of: uuid, uuid#counter, tracker`]);
  });

  it('refuses a header_name that could not be sent as a header', () => {
    const text = globalPlugin('{ header_name: "X Request ID" }');
    expect(issues(text)).toEqual([
      `${at(text, '"X Request')} plugins[0].config.header_name: bad header name 'X Request ID', allowed characters are A-Z, a-z, 0-9, '_', and '-'`,
    ]);
  });

  it('refuses unknown fields and non-boolean echo_downstream', () => {
    const text = globalPlugin('{ echo_downstream: "yes", header: X-Id }');
    expect(issues(text)).toEqual([
      `${at(text, '"yes"')} plugins[0].config.echo_downstream: expected a boolean`,
      `${at(text, 'header:')} plugins[0].config.header: unknown field`,
    ]);
  });

  it("registers with Kong 3's PRIORITY 100001 (first of all plugins)", () => {
    expect(correlationId.priority).toBe(100001);
    expect(pluginSchemas.get('correlation-id')?.priority).toBe(100001);
    expect(pluginDefinitions.get('correlation-id')).toBe(correlationId);
    const others = [...pluginSchemas].filter(([name]) => name !== 'correlation-id').map(([, e]) => e.priority);
    expect(Math.max(...others)).toBeLessThan(100001);
  });
});

describe('correlation-id on the request', () => {
  it('adds Kong-Request-ID when the client sent none, with the uuid#counter generator by default', () => {
    const h = handlerFor('{}');
    const first = accessed(h, request(), 'kong-request-id');
    const second = accessed(h, request(), 'kong-request-id');
    const m1 = /^([0-9a-f-]{36})#(\d+)$/.exec(first ?? '');
    const m2 = /^([0-9a-f-]{36})#(\d+)$/.exec(second ?? '');
    expect(m1).not.toBeNull();
    expect(m1![1]).toMatch(UUID_V4);
    // One UUID per worker, then a counter that goes up by one per request.
    expect(m2![1]).toBe(m1![1]);
    expect(Number(m2![2])).toBe(Number(m1![2]) + 1);
  });

  it('generates a fresh random UUID per request with generator uuid', () => {
    const h = handlerFor('{ generator: uuid }');
    const a = accessed(h, request(), 'kong-request-id');
    const b = accessed(h, request(), 'kong-request-id');
    expect(a).toMatch(UUID_V4);
    expect(b).toMatch(UUID_V4);
    expect(a).not.toBe(b);
  });

  it("generates Kong's tracker shape: address-port-pid-connection-requests-seconds.millis", () => {
    const id = accessed(handlerFor('{ generator: tracker }'), request(), 'kong-request-id');
    const m = /^(.+)-(\d+)-(\d+)-(\d+)-(\d+)-(\d+\.\d{3})$/.exec(id ?? '');
    expect(m).not.toBeNull();
    expect(m![2]).toBe('8000');
    expect(Number(m![3])).toBe(process.pid);
    expect(Math.abs(Number(m![6]) - Date.now() / 1000)).toBeLessThan(5);
  });

  it('keeps the id the client sent, looking the header up case-insensitively', () => {
    const h = handlerFor('{ header_name: X-Request-ID, generator: uuid }');
    expect(accessed(h, request({ 'x-request-id': 'client-chosen-42' }), 'x-request-id')).toBe('client-chosen-42');
  });

  it('replaces an empty id from the client with a generated one (Kong 3.x)', () => {
    expect(accessed(handlerFor('{ header_name: X-Request-ID, generator: uuid }'), request({ 'x-request-id': '' }), 'x-request-id')).toMatch(UUID_V4);
  });

  it('sends the id to the upstream', () => {
    const ctx = request();
    const id = accessed(handlerFor('{ header_name: X-Request-ID, generator: uuid }'), ctx, 'x-request-id');
    const flat = upstreamRequestHeaders(ctx, { host: 'orders.internal', trustedPeer: false, prefix: null });
    const i = flat.indexOf('x-request-id');
    expect(i).toBeGreaterThanOrEqual(0);
    expect(flat[i + 1]).toBe(id);
  });
});

describe('correlation-id on the response (echo_downstream)', () => {
  it('leaves the response alone by default', () => {
    const h = handlerFor('{}');
    expect(h.headerFilter).toBeUndefined();
  });

  it('echoes the generated id on the response, under the configured name', () => {
    const h = handlerFor('{ header_name: X-Request-ID, echo_downstream: true }');
    const ctx = request();
    const id = accessed(h, ctx, 'x-request-id');
    upstreamResponse(ctx);
    h.headerFilter!(ctx);
    expect(ctx.response!.headers['x-request-id']).toBe(id);
    expect(ctx.response!.headers['x-upstream']).toBe('yes');
  });

  it("echoes the client's own id unchanged", () => {
    const h = handlerFor('{ header_name: X-Request-ID, echo_downstream: true }');
    const ctx = request({ 'x-request-id': 'client-chosen-42' });
    accessed(h, ctx, 'x-request-id');
    upstreamResponse(ctx);
    h.headerFilter!(ctx);
    expect(ctx.response!.headers['x-request-id']).toBe('client-chosen-42');
  });

  it('overrides a value the upstream set for the same header (kong.response.set_header)', () => {
    const h = handlerFor('{ header_name: X-Request-ID, echo_downstream: true }');
    const ctx = request({ 'x-request-id': 'from-client' });
    accessed(h, ctx, 'x-request-id');
    ctx.response = { status: 200, headers: { 'x-request-id': 'from-upstream' }, source: 'upstream' };
    h.headerFilter!(ctx);
    expect(ctx.response.headers['x-request-id']).toBe('from-client');
  });

  it('also echoes on a reply another plugin produced, through the compiled chain', () => {
    const config = load(
      `${HEAD}routes:\n  - name: maint\n    paths: [/]\n    plugins:\n      - name: request-termination\n        config: { status_code: 503 }\nplugins:\n  - name: correlation-id\n    config: { echo_downstream: true }\n`,
    );
    const pipelines = compilePipelines(config, pluginDefinitions, () => env);
    const ctx = request();
    const verdict = runAccess(pipelines.forRoute(config.routes[0]!), ctx);
    expect(verdict).toMatchObject({ status: 503 });
    const id = ctx.headers['kong-request-id'];
    expect(id).toMatch(/#\d+$/);
    ctx.response = { status: 503, headers: { 'content-type': 'application/json; charset=utf-8' }, source: 'gateway' };
    runHeaderFilter(ctx);
    expect(ctx.response.headers['kong-request-id']).toBe(id);
  });

  it('echoes a fresh id when access never ran (e.g. the 404 for no matching route), as Kong 3.x', () => {
    // Kong's header_filter: `correlation_id = kong.ctx.plugin.correlation_id or
    // kong.request.get_header(conf.header_name)`, generating one when both are empty, so a
    // global instance tags the router's 404 too. Here header_filter only copies the request
    // header that access set, and access does not run when no route matched.
    const h = handlerFor('{ echo_downstream: true }');
    const ctx = request();
    ctx.response = { status: 404, headers: {}, source: 'gateway' };
    h.headerFilter!(ctx);
    expect(ctx.response.headers['kong-request-id']).toMatch(/#\d+$/);
  });
});
