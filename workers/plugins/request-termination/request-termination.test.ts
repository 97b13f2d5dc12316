/**
 * request-termination: the config a Kong 3.x user writes (validated by the real loader, with
 * positions), and what the handler answers, driven through our RequestContext without a
 * listener. Kong sources: kong/plugins/request-termination/{schema,handler}.lua.
 */
import { describe, expect, it } from 'vitest';
import { loadConfigText } from '../../../src/config/load.js';
import type { GatewayConfig, PluginConfig } from '../../../src/config/types.js';
import type { Downstream, RequestBodySink } from '../../http/downstream.js';
import { RequestContext } from '../../http/request-context.js';
import { compilePipelines } from '../../pipeline/compile.js';
import { runAccess } from '../../pipeline/run.js';
import type { LocalReply, PluginEnv, PluginHandler, Verdict } from '../../pipeline/types.js';
import { pluginDefinitions } from '../index.js';
import { pluginSchemas } from '../registry-schemas.js';
import { requestTermination } from './index.js';
import type { RequestTerminationConfig } from './schema.js';

const HEAD = '_format_version: "3.0"\n';
const JSON_TYPE = 'application/json; charset=utf-8';
// Neither plugin reads its env; the cast keeps the tests independent of what else PluginEnv carries.
const env = { workerId: 0, log: { info() {}, warn() {}, error() {} } } as unknown as PluginEnv;

function load(text: string): GatewayConfig {
  const r = loadConfigText(text, 'kong.yml', {});
  if (!r.ok) throw new Error(r.issues.map((i) => `${i.line}:${i.col} ${i.path}: ${i.message}`).join('\n'));
  return r.config;
}

/** Every issue as `line:col path: message`, for a config that must be refused. */
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

/** Refuses a global instance with `config`; returns its one issue, and where it should point. */
function refused(config: string, needle: string): { got: string[]; want: (path: string, message: string) => string[] } {
  const text = globalPlugin(config);
  return { got: issues(text), want: (path, message) => [`${at(text, needle)} plugins[0].config.${path}: ${message}`] };
}

/** A global request-termination plugin with `config` given as a YAML flow mapping. */
function globalPlugin(config: string): string {
  return `${HEAD}plugins:\n  - name: request-termination\n    config: ${config}\n`;
}

/** The validated config of a global instance, exactly as a worker would receive it. */
function configOf(config: string): RequestTerminationConfig {
  return load(globalPlugin(config)).plugins[0]!.config as RequestTerminationConfig;
}

function handlerFor(config: string): PluginHandler {
  return requestTermination.create(configOf(config), env);
}

interface Req {
  method?: string;
  path?: string;
  query?: string;
  headers?: Record<string, string>;
  repeated?: string[];
  body?: Buffer;
}

/** A request body source: delivers `body` in two chunks when the plugin asks for it. */
function bodySource(body: Buffer, chunked = false): Downstream {
  return {
    aborted: false,
    finished: false,
    headSent: false,
    hasBody: true,
    contentLength: chunked ? -1 : body.length,
    attachBody(sink: RequestBodySink) {
      const mid = Math.floor(body.length / 2);
      sink.onBodyChunk(body.subarray(0, mid));
      sink.onBodyChunk(body.subarray(mid));
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

function request(r: Req = {}): RequestContext {
  const headers: Record<string, string> = { host: 'api.example.com', ...(r.headers ?? {}) };
  const ctx = new RequestContext(
    '0123456789abcdef0123456789abcdef',
    r.method ?? 'GET',
    r.path ?? '/orders',
    r.query ?? '',
    headers,
    r.repeated ?? null,
    'api.example.com',
    8000,
    'http',
    '10.0.0.7',
    '10.0.0.7',
    0,
  );
  if (r.body !== undefined) ctx.downstream = bodySource(r.body);
  return ctx;
}

/** Runs the access handler; a synchronous verdict stays synchronous. */
function access(handler: PluginHandler, ctx: RequestContext): Verdict | Promise<Verdict> {
  return handler.access!(ctx);
}

function syncReply(handler: PluginHandler, ctx: RequestContext): LocalReply {
  const v = access(handler, ctx);
  if (v === undefined || v instanceof Promise) throw new Error(`expected a synchronous reply, got ${String(v)}`);
  return v;
}

async function echoed(handler: PluginHandler, ctx: RequestContext): Promise<{ reply: LocalReply; json: any }> {
  const v = access(handler, ctx);
  expect(v).toBeInstanceOf(Promise);
  const reply = (await v) as LocalReply;
  return { reply, json: JSON.parse(String(reply.body)) };
}

// ---------------------------------------------------------------------------------------

describe('request-termination config (Kong schema.lua, through the loader)', () => {
  it("fills Kong's defaults when config is left out, and defaults protocols to Kong's http set", () => {
    const p = load(`${HEAD}plugins:\n  - name: request-termination\n`).plugins[0]!;
    expect(p.config).toEqual({ status_code: 503, message: null, content_type: null, body: null, echo: false, trigger: null });
    expect(p.protocols).toEqual(['grpc', 'grpcs', 'http', 'https']);
    expect(p.enabled).toBe(true);
  });

  it('accepts status_code 100..599 and refuses 99 and 600, pointing at the value', () => {
    expect(configOf('{ status_code: 100 }').status_code).toBe(100);
    expect(configOf('{ status_code: 599 }').status_code).toBe(599);
    for (const bad of ['99', '600']) {
      const r = refused(`{ status_code: ${bad} }`, bad);
      expect(r.got).toEqual(r.want('status_code', 'value should be between 100 and 599'));
    }
  });

  it('refuses a status_code that is not an integer', () => {
    for (const bad of ['"503"', '503.5']) {
      const r = refused(`{ status_code: ${bad} }`, bad);
      expect(r.got).toEqual(r.want('status_code', 'expected an integer'));
    }
  });

  it("refuses message together with body or content_type (Kong's message), blaming message", () => {
    for (const config of ['{ message: down, body: "<h1>down</h1>", content_type: text/html }', '{ message: down, body: "<h1>down</h1>" }']) {
      const r = refused(config, 'down,');
      expect(r.got).toEqual(r.want('message', 'message cannot be used with content_type or body'));
    }
  });

  it('refuses content_type without a body', () => {
    const r = refused('{ content_type: text/html }', 'text/html');
    expect(r.got).toEqual(r.want('content_type', 'content_type requires a body'));
  });

  it('refuses echo together with a body', () => {
    const r = refused('{ echo: true, body: "x", content_type: text/plain }', 'true');
    expect(r.got).toEqual(r.want('echo', 'echo cannot be used with content_type and body'));
  });

  it('accepts echo with a message and a trigger (the debugging setup of the Kong docs)', () => {
    expect(configOf('{ echo: true, message: debug, trigger: X-Debug, status_code: 200 }')).toEqual({
      status_code: 200,
      message: 'debug',
      content_type: null,
      body: null,
      echo: true,
      trigger: 'X-Debug',
    });
  });

  it('refuses a trigger that is not a header name (typedefs.header_name)', () => {
    const r = refused('{ trigger: "x maint" }', '"x maint"');
    expect(r.got).toEqual(r.want('trigger', "bad header name 'x maint', allowed characters are A-Z, a-z, 0-9, '_', and '-'"));
  });

  it("refuses Kong 2.x's echo_trigger and any other unknown field, at the key", () => {
    const r = refused('{ echo: true, echo_trigger: x-debug }', 'echo_trigger');
    expect(r.got).toEqual(r.want('echo_trigger', 'unknown field'));
  });

  it('refuses an empty message (Kong strings are non-empty)', () => {
    const r = refused('{ message: "" }', '""');
    expect(r.got).toEqual(r.want('message', 'length must be at least 1'));
  });

  it('applies at every scope: global, service, route, consumer, and one instance per scope', () => {
    const text = [
      HEAD.trimEnd(),
      'services:',
      '  - name: orders',
      '    url: http://orders.internal:8080',
      '    plugins: [{ name: request-termination, config: { status_code: 503 } }]',
      '    routes:',
      '      - name: orders-route',
      '        paths: [/orders]',
      '        plugins: [{ name: request-termination, config: { status_code: 410 } }]',
      'consumers:',
      '  - username: alice',
      '    plugins: [{ name: request-termination, config: { status_code: 403 } }]',
      'plugins:',
      '  - name: request-termination',
      '    config: { status_code: 418 }',
      '',
    ].join('\n');
    const c = load(text);
    const scope = (p: PluginConfig) => [p.service !== null, p.route !== null, p.consumer !== null, p.config.status_code];
    expect(c.plugins.map(scope).sort()).toEqual([
      [false, false, false, 418],
      [false, false, true, 403],
      [false, true, false, 410],
      [true, false, false, 503],
    ]);
    const twice = `${text}  - name: request-termination\n    service: orders\n`;
    expect(issues(twice)).toEqual([
      "16:11 plugins[1].name: plugin 'request-termination' is already configured for the same route, service and consumer at services[0].plugins[0] (one instance per plugin and scope)",
    ]);
  });

  it('refuses stream protocols (typedefs.protocols_http)', () => {
    expect(issues(`${HEAD}plugins:\n  - name: request-termination\n    protocols: [tcp]\n`)).toEqual([
      '4:17 plugins[0].protocols[0]: expected one of: grpc, grpcs, http, https',
    ]);
  });

  it("registers with Kong's PRIORITY 2 in both registries", () => {
    expect(requestTermination.priority).toBe(2);
    expect(pluginSchemas.get('request-termination')?.priority).toBe(2);
    expect(pluginDefinitions.get('request-termination')).toBe(requestTermination);
  });
});

describe('request-termination answers (Kong handler.lua)', () => {
  it('by default answers 503 {"message":"Service unavailable"} as JSON', () => {
    expect(syncReply(handlerFor('{}'), request())).toEqual({
      status: 503,
      body: '{"message":"Service unavailable"}',
      contentType: JSON_TYPE,
    });
  });

  it("uses Kong's default message for the status codes Kong has one for", () => {
    const defaults: Array<[number, string]> = [
      [401, 'Unauthorized'],
      [404, 'Not found'],
      [405, 'Method not allowed'],
      [500, 'An unexpected error occurred'],
      [502, 'Bad Gateway'],
      [503, 'Service unavailable'],
    ];
    for (const [status, message] of defaults) {
      const r = syncReply(handlerFor(`{ status_code: ${status} }`), request());
      expect(r.status).toBe(status);
      expect(JSON.parse(String(r.body))).toEqual({ message });
    }
  });

  it('sends a configured message as {"message": ...} with the configured status', () => {
    const r = syncReply(handlerFor('{ status_code: 403, message: "account suspended" }'), request());
    expect(r).toEqual({ status: 403, body: '{"message":"account suspended"}', contentType: JSON_TYPE });
  });

  it('sends a configured body byte for byte with its content_type', () => {
    const r = syncReply(handlerFor('{ status_code: 451, body: "<h1>blocked</h1>", content_type: "text/html; charset=utf-8" }'), request());
    expect(r).toEqual({ status: 451, body: '<h1>blocked</h1>', contentType: 'text/html; charset=utf-8' });
  });

  it('answers whatever the method and path (it terminates, it does not route)', () => {
    const h = handlerFor('{ status_code: 410, message: gone }');
    for (const method of ['GET', 'POST', 'DELETE', 'OPTIONS']) {
      expect(syncReply(h, request({ method, path: '/anything/else' })).status).toBe(410);
    }
  });

  it('with no message for the status (e.g. 204), sends no body, as Kong (exit(status, nil))', () => {
    // Kong: `kong.response.exit(status, message and { message = message } or nil)` with
    // message nil sends Content-Length: 0 and nothing else. Here the reply carries the
    // body "{}", which on a 204 puts two stray bytes on a kept-alive connection.
    const r = syncReply(handlerFor('{ status_code: 204 }'), request());
    expect(r.status).toBe(204);
    expect(r.body === undefined || r.body.length === 0).toBe(true);
  });
});

describe('request-termination trigger', () => {
  const h = handlerFor('{ status_code: 503, message: maintenance, trigger: X-Maint }');

  it('lets requests without the trigger through (the plugin does nothing)', () => {
    expect(access(h, request())).toBeUndefined();
    expect(access(h, request({ query: 'x-maintenance=1&other=x-maint' }))).toBeUndefined();
  });

  it('terminates when the trigger header is present, whatever its case or value', () => {
    expect(syncReply(h, request({ headers: { 'x-maint': '1' } })).status).toBe(503);
    expect(syncReply(h, request({ headers: { 'x-maint': '' } })).status).toBe(503);
  });

  it('terminates when the trigger is a query argument, with a value, empty, or as a bare flag', () => {
    expect(syncReply(h, request({ query: 'X-Maint=on' })).status).toBe(503);
    expect(syncReply(h, request({ query: 'a=1&X-Maint=' })).status).toBe(503);
    expect(syncReply(h, request({ query: 'X-Maint' })).status).toBe(503);
  });

  it('matches query argument names exactly, as Kong does (only header names are case-insensitive)', () => {
    expect(access(h, request({ query: 'x-maint=on' }))).toBeUndefined();
  });
});

describe('request-termination echo', () => {
  it('echoes the request as JSON with the matched route and service', async () => {
    const config = load(
      `${HEAD}services:\n  - name: orders\n    url: http://orders.internal:8080/v1\n    routes:\n      - name: debug\n        paths: [/orders]\n        plugins:\n          - name: request-termination\n            config: { echo: true, status_code: 200 }\n`,
    );
    const h = requestTermination.create(config.plugins[0]!.config as RequestTerminationConfig, env);
    const ctx = request({
      method: 'POST',
      path: '/orders/42',
      query: 'expand=items&tag=a&tag=b&debug',
      headers: { 'content-type': 'application/json', 'x-multi': 'a, b' },
      repeated: ['x-multi'],
      body: Buffer.from('{"qty":3}'),
    });
    ctx.route = config.routes[0]!;
    ctx.service = config.services[0]!;
    const { reply, json } = await echoed(h, ctx);

    expect(reply.status).toBe(200);
    expect(reply.contentType).toBe(JSON_TYPE);
    expect(json.request).toMatchObject({
      scheme: 'http',
      host: 'api.example.com',
      port: 8000,
      method: 'POST',
      path: '/orders/42',
      query: { expand: 'items', tag: ['a', 'b'], debug: true },
      body: { qty: 3 },
      raw_body: '{"qty":3}',
    });
    expect(json.request.headers).toMatchObject({ host: 'api.example.com', 'content-type': 'application/json', 'x-multi': ['a', 'b'] });
    expect(json.matched_route).toMatchObject({ id: config.routes[0]!.id, name: 'debug', paths: ['/orders'] });
    expect(json.matched_service).toMatchObject({ id: config.services[0]!.id, name: 'orders', host: 'orders.internal', port: 8080, path: '/v1' });
    expect(json.kong).toMatchObject({ worker_pid: process.pid });
    expect(typeof json.kong.node_id).toBe('string');
    expect(typeof json.kong.hostname).toBe('string');
  });

  it("puts the configured message, or the status's default, in the echo", async () => {
    expect((await echoed(handlerFor('{ echo: true, message: hello, status_code: 200 }'), request())).json.message).toBe('hello');
    expect((await echoed(handlerFor('{ echo: true }'), request())).json.message).toBe('Service unavailable');
  });

  it('parses a form body and keeps the raw text', async () => {
    const ctx = request({ method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: Buffer.from('a=1&b=two+words') });
    const { json } = await echoed(handlerFor('{ echo: true, status_code: 200 }'), ctx);
    expect(json.request.body).toEqual({ a: '1', b: 'two words' });
    expect(json.request.raw_body).toBe('a=1&b=two+words');
  });

  it('keeps the body it read, so a request that is not terminated can still be proxied', async () => {
    const ctx = request({ method: 'POST', body: Buffer.from('payload') });
    await echoed(handlerFor('{ echo: true }'), ctx);
    expect(ctx.body?.toString()).toBe('payload');
  });

  it('answers 413 when a chunked body grows past the 1 MiB echo limit', async () => {
    const ctx = request({ method: 'POST' });
    ctx.downstream = bodySource(Buffer.alloc(1024 * 1024 + 1, 0x61), true);
    const v = await access(handlerFor('{ echo: true, status_code: 200 }'), ctx);
    expect(v).toEqual({ status: 413, message: 'Request size limit exceeded' });
  });

  it('with a trigger, echoes only the requests that carry it', async () => {
    const h = handlerFor('{ echo: true, trigger: x-debug, status_code: 200 }');
    expect(access(h, request())).toBeUndefined();
    const { json } = await echoed(h, request({ headers: { 'x-debug': '1' } }));
    expect(json.request.headers['x-debug']).toBe('1');
  });
});

describe('request-termination in a plugin chain', () => {
  it('runs last (PRIORITY 2): correlation-id (100001) has already tagged the request it echoes', async () => {
    const config = load(
      `${HEAD}routes:\n  - name: debug\n    paths: [/]\n    plugins:\n      - name: request-termination\n        config: { echo: true, status_code: 200 }\n      - name: correlation-id\n        config: { header_name: X-Request-ID, generator: uuid }\n`,
    );
    const pipelines = compilePipelines(config, pluginDefinitions, () => env);
    const ctx = request();
    ctx.route = config.routes[0]!;
    const v = await runAccess(pipelines.forRoute(config.routes[0]!), ctx);
    const json = JSON.parse(String(v!.body));
    expect(json.request.headers['x-request-id']).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('a route-scoped instance wins over the global one for that route only', () => {
    const config = load(
      `${HEAD}routes:\n  - name: a\n    paths: [/a]\n    plugins: [{ name: request-termination, config: { status_code: 410 } }]\n  - name: b\n    paths: [/b]\nplugins:\n  - name: request-termination\n    config: { status_code: 503 }\n`,
    );
    const pipelines = compilePipelines(config, pluginDefinitions, () => env);
    const status = (i: number) => (runAccess(pipelines.forRoute(config.routes[i]!), request()) as LocalReply).status;
    expect(status(0)).toBe(410);
    expect(status(1)).toBe(503);
  });

  it('a disabled instance does not run', () => {
    const config = load(`${HEAD}routes:\n  - name: a\n    paths: [/a]\n    plugins: [{ name: request-termination, enabled: false }]\n`);
    const pipelines = compilePipelines(config, pluginDefinitions, () => env);
    expect(runAccess(pipelines.forRoute(config.routes[0]!), request())).toBeUndefined();
  });
});
