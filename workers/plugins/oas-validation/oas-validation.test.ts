/**
 * oas-validation as a plugin: the Kong config through the real loader (defaults, Kong's
 * URI-encoded YAML, spec errors with their location, registration and PRIORITY), the spec
 * compiler (3.0 nullable and exclusive bounds, 3.1 type arrays, $ref cycles, shared
 * components), path matching, every parameter location and style with coercion, request
 * bodies (media types, the streaming read, the offload pool), the answers (Kong's messages,
 * verbose_response, collect_all_errors, structured_errors) and notify-only mode.
 * The wire (a real gateway and upstream, the 5,000-path reload) is in
 * test/integration/oas-validation.test.ts.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfigText } from '../../../src/config/load.js';
import type { Downstream, RequestBodySink } from '../../http/downstream.js';
import { RequestContext } from '../../http/request-context.js';
import type { LocalReply, PluginEnv, PluginHandler, Verdict } from '../../pipeline/types.js';
import { pluginDefinitions } from '../index.js';
import { pluginSchemas } from '../registry-schemas.js';
import { BodyOffload } from './body-offload.js';
import { createOasValidation } from './handler.js';
import { COMPILED_FIELD, CompiledReader, type CompiledSpec } from './plan.js';
import type { OasValidationConfig } from './schema.js';
import { compileSpec } from './spec-compile.js';
import { decodeSpecText } from './spec-parse.js';

type Spec = Record<string, unknown>;

function configText(spec: Spec | string, extra: Record<string, unknown> = {}): string {
  const api_spec = typeof spec === 'string' ? spec : JSON.stringify(spec);
  return JSON.stringify({ _format_version: '3.0', plugins: [{ name: 'oas-validation', config: { api_spec, ...extra } }] });
}

function load(spec: Spec | string, extra: Record<string, unknown> = {}): OasValidationConfig {
  const r = loadConfigText(configText(spec, extra), 'kong.yml', {});
  if (!r.ok) throw new Error(r.issues.map((i) => `${i.path}: ${i.message}`).join('\n'));
  return r.config.plugins[0]!.config as OasValidationConfig;
}

function refused(spec: Spec | string, extra: Record<string, unknown> = {}): string[] {
  const r = loadConfigText(configText(spec, extra), 'kong.yml', {});
  if (r.ok) throw new Error('expected the config to be refused');
  return r.issues.map((i) => `${i.path}: ${i.message}`);
}

interface LogLine {
  obj: Record<string, unknown>;
  msg: string | undefined;
}

/** The offload pool runs the built task module (npm test builds first, as for the config pool). */
const builtTask = new URL('../../../dist/workers/plugins/oas-validation/body-task.js', import.meta.url).href;
const offload = new BodyOffload(builtTask);
afterAll(() => offload.close());

function plugin(spec: Spec | string, extra: Record<string, unknown> = {}): { h: PluginHandler; logs: LogLine[]; conf: OasValidationConfig } {
  const logs: LogLine[] = [];
  const log = {
    info: () => undefined,
    warn: (obj: object, msg?: string) => void logs.push({ obj: obj as Record<string, unknown>, msg }),
    error: () => undefined,
  };
  const conf = load(spec, extra);
  return { h: createOasValidation(conf, { log } as unknown as PluginEnv, { offload }), logs, conf };
}

interface Req {
  method?: string;
  path: string;
  query?: string;
  headers?: Record<string, string>;
  /** A buffered body (as if an earlier plugin had read it). */
  body?: string | Buffer;
}

function ctxFor(r: Req): RequestContext {
  const headers: Record<string, string> = Object.assign(Object.create(null), { host: 'api.example.com' }, r.headers ?? {});
  const ctx = new RequestContext('req-0001', r.method ?? 'GET', r.path, r.query ?? '', headers, null, 'api.example.com', 8000, 'http', '10.0.0.7', '10.0.0.7', 0);
  if (r.body !== undefined) ctx.body = Buffer.from(r.body);
  return ctx;
}

async function check(h: PluginHandler, r: Req): Promise<Verdict> {
  return h.access!(ctxFor(r));
}

function sync(h: PluginHandler, r: Req): Verdict {
  const v = h.access!(ctxFor(r));
  if (v instanceof Promise) throw new Error('expected a synchronous verdict');
  return v;
}

function msg(v: Verdict): string | undefined {
  return v?.message;
}

const HEAD30 = { openapi: '3.0.3', info: { title: 't', version: '1' } };
const HEAD31 = { openapi: '3.1.0', info: { title: 't', version: '1' } };

const petStore: Spec = {
  ...HEAD30,
  servers: [{ url: 'https://api.example.com/v1' }],
  paths: {
    '/pets': {
      get: {
        parameters: [
          { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 100 } },
          { name: 'status', in: 'query', required: true, schema: { type: 'string', enum: ['available', 'sold'] } },
          { $ref: '#/components/parameters/TraceId' },
        ],
        responses: { '200': { description: 'ok' } },
      },
      post: {
        requestBody: { $ref: '#/components/requestBodies/NewPet' },
        responses: { '201': { description: 'created' } },
      },
    },
    '/pets/mine': { get: { responses: { '200': { description: 'mine' } } } },
    '/pets/{petId}': {
      parameters: [{ name: 'petId', in: 'path', required: true, schema: { type: 'integer', format: 'int64', minimum: 1 } }],
      get: { responses: { '200': { description: 'ok' } } },
      delete: { responses: { '204': { description: 'gone' } } },
    },
  },
  components: {
    parameters: { TraceId: { name: 'X-Trace-Id', in: 'header', schema: { type: 'string', format: 'uuid' } } },
    requestBodies: {
      NewPet: { required: true, content: { 'application/json': { schema: { $ref: '#/components/schemas/Pet' } } } },
    },
    schemas: {
      Pet: {
        type: 'object',
        required: ['name'],
        additionalProperties: false,
        properties: {
          name: { type: 'string', minLength: 1, maxLength: 40, pattern: '^[A-Za-z ]+$' },
          tag: { type: 'string', nullable: true },
          age: { type: 'integer', minimum: 0, exclusiveMinimum: true },
          parent: { $ref: '#/components/schemas/Pet' },
          children: { type: 'array', items: { $ref: '#/components/schemas/Pet' } },
        },
      },
    },
  },
};

describe('oas-validation config', () => {
  it('is registered with Kong PRIORITY 850 in both lists, with Kong defaults', () => {
    expect(pluginDefinitions.get('oas-validation')?.priority).toBe(850);
    expect(pluginSchemas.get('oas-validation')?.priority).toBe(850);
    const conf = load(petStore);
    expect(conf).toMatchObject({
      api_spec_encoded: true,
      verbose_response: false,
      collect_all_errors: false,
      validate_request_body: true,
      validate_request_header_params: true,
      validate_request_query_params: true,
      validate_request_uri_params: true,
      validate_response_body: false,
      notify_only_request_validation_failure: false,
      notify_only_response_body_validation_failure: false,
      query_parameter_check: false,
      header_parameter_check: false,
      allowed_header_parameters: 'Host,Content-Type,User-Agent,Accept,Content-Length',
      include_base_path: false,
      custom_base_path: null,
      structured_errors: false,
      max_structured_errors: 10,
      large_body_threshold: 262144,
      max_request_body_size: 8388608,
      api_spec_file: null,
    });
  });

  it('compiles the spec into the normalised config (plan and validator code, no user input there)', () => {
    const compiled = load(petStore)[COMPILED_FIELD];
    expect(compiled.format).toBe(2);
    expect(compiled.paths).toEqual(['/pets', '/pets/mine', '/pets/{petId}']);
    expect(JSON.parse(compiled.meta)).toMatchObject({ version: '3.0', basePaths: ['/v1'] });
    // Shared with the workers, not copied into each (a SharedArrayBuffer crosses threads by reference).
    expect(compiled.blob).toBeInstanceOf(SharedArrayBuffer);
    expect(Object.keys(new CompiledReader(compiled).index.code).length).toBeGreaterThan(2);
    // The same spec compiles to the same bytes, in any process (the config hash must not change on reload).
    const again = compileSpec(JSON.stringify(petStore), { collectAllErrors: false, responses: false }) as CompiledSpec;
    expect(again.digest).toBe(compiled.digest);
    expect(Buffer.from(again.blob).equals(Buffer.from(compiled.blob))).toBe(true);
  });

  it('loads a Kong config whose api_spec is URI-encoded YAML (api_spec_encoded: true)', () => {
    const yaml = `openapi: 3.0.0
info: {title: t, version: "1"}
paths:
  /things/{id}:
    get:
      parameters:
        - {name: id, in: path, required: true, schema: {type: integer}}
      responses: {"200": {description: "100% ok"}}
`;
    const encoded = encodeURIComponent(yaml);
    const text = `_format_version: "3.0"\nplugins:\n  - name: oas-validation\n    config:\n      api_spec: "${encoded}"\n      verbose_response: true\n`;
    const r = loadConfigText(text, 'kong.yml', {});
    expect(r.ok).toBe(true);
    const conf = (r as { config: { plugins: Array<{ config: OasValidationConfig }> } }).config.plugins[0]!.config;
    const h = createOasValidation(conf, { log: { warn() {}, info() {}, error() {} } } as unknown as PluginEnv);
    expect(sync(h, { path: '/things/7' })).toBeUndefined();
    expect(msg(sync(h, { path: '/things/x' }))).toBe("path 'id' validation failed with error: 'must be integer'");
    // Only well-formed %XX escapes decode, like ngx.unescape_uri: "100% ok" and "+" stay.
    expect(decodeSpecText('a%20b+c 100% %zz %C3%A9')).toBe('a b+c 100% %zz é');
  });

  it('reads the spec from api_spec_file instead, and refuses a config with both or neither', async () => {
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const file = join(mkdtempSync(join(tmpdir(), 'oas-')), 'spec.json');
    writeFileSync(file, JSON.stringify(petStore));
    const r = loadConfigText(JSON.stringify({ _format_version: '3.0', plugins: [{ name: 'oas-validation', config: { api_spec_file: file } }] }), 'kong.yml', {});
    expect(r.ok).toBe(true);
    const bad = loadConfigText(JSON.stringify({ _format_version: '3.0', plugins: [{ name: 'oas-validation', config: { api_spec_file: `${file}.missing` } }] }), 'k.yml', {});
    expect(bad.ok ? [] : bad.issues.map((i) => `${i.path}: ${i.message}`)[0]).toMatch(/^plugins\[0\]\.config\.api_spec_file: cannot read the spec file: ENOENT/);
    expect(refused(petStore, { api_spec_file: file })).toEqual(["plugins[0].config: exactly one of these fields must be non-empty: 'api_spec', 'api_spec_file'"]);
    const none = loadConfigText(JSON.stringify({ _format_version: '3.0', plugins: [{ name: 'oas-validation' }] }), 'k.yml', {});
    expect(none.ok).toBe(false);
  });

  it('refuses a spec that cannot be used, saying where in the spec', () => {
    expect(refused('openapi: [')[0]).toMatch(/^plugins\[0\]\.config\.api_spec: the API spec is neither valid JSON nor valid YAML/);
    expect(refused({ swagger: '2.0', paths: {} })).toEqual(['plugins[0].config.api_spec: Swagger 2.0 specs are not supported: convert the spec to OpenAPI 3 (e.g. with swagger2openapi)']);
    expect(refused({ openapi: '4.0.0', paths: {} })).toEqual(['plugins[0].config.api_spec: OpenAPI version 4.0.0 is not supported (3.0.x and 3.1.x are)']);
    const op = (schema: unknown) => ({ ...HEAD30, paths: { '/a': { post: { requestBody: { content: { 'application/json': { schema } } } } } } });
    expect(refused(op({ $ref: 'other.yaml#/Pet' }))).toEqual([
      "plugins[0].config.api_spec: #/paths/~1a/post/requestBody/content/application~1json/schema/$ref: external $ref 'other.yaml#/Pet' is not supported (inline the referenced document into the spec)",
    ]);
    expect(refused(op({ $ref: '#/components/schemas/Missing' }))).toEqual([
      "plugins[0].config.api_spec: #/paths/~1a/post/requestBody/content/application~1json/schema/$ref: $ref '#/components/schemas/Missing' points to nothing in the spec",
    ]);
    expect(refused(op({ type: 'strnig' }))[0]).toMatch(/^plugins\[0\]\.config\.api_spec: #\/paths\/~1a\/post\/requestBody\/content\/application~1json\/schema: invalid schema: schema\/type must be/);
    // User regexes run on RE2: a lookahead is refused at load, never compiled by the JS engine.
    expect(refused(op({ type: 'string', pattern: '^(?=a)' }))[0]).toMatch(/^plugins\[0\]\.config\.api_spec: #\/paths\/~1a\/post\/requestBody\/content\/application~1json\/schema: the schema cannot be compiled: .*invalid perl operator/);
    expect(refused({ ...HEAD30, paths: { '/a/{id': {} } })).toEqual(["plugins[0].config.api_spec: #/paths/~1a~1{id: malformed path template (unbalanced '{' or '}', or a variable spanning a '/')"]);
    expect(refused({ ...HEAD30, paths: { '/a': { get: { parameters: [{ name: 'x', in: 'query', style: 'matrix', schema: { type: 'string' } }] } } } })).toEqual([
      "plugins[0].config.api_spec: #/paths/~1a/get/parameters/0/style: 'matrix' is not a style for query parameters (form, spaceDelimited, pipeDelimited, deepObject)",
    ]);
  });
});

describe('spec compilation', () => {
  it('validates recursive schemas ($ref cycles) at any depth', () => {
    const { h } = plugin(petStore, { verbose_response: true });
    const deep = (n: number): unknown => (n === 0 ? { name: 'Leaf' } : { name: 'Node', children: [deep(n - 1)], parent: { name: 'Up' } });
    expect(sync(h, { method: 'POST', path: '/pets', headers: { 'content-type': 'application/json' }, body: JSON.stringify(deep(20)) })).toBeUndefined();
    const badLeaf = JSON.stringify({ name: 'Root', children: [{ name: 'Kid', children: [{ name: 7 }] }] });
    expect(msg(sync(h, { method: 'POST', path: '/pets', headers: { 'content-type': 'application/json' }, body: badLeaf }))).toBe(
      "request body validation failed with error: '/children/0/children/0/name must be string'",
    );
  });

  it('3.0: nullable becomes a type union (and null joins an enum); boolean exclusiveMinimum the numeric form', () => {
    const spec = {
      ...HEAD30,
      paths: {
        '/x': {
          post: {
            requestBody: {
              content: {
                'application/json': {
                  schema: {
                    type: 'object',
                    properties: {
                      n: { type: 'integer', nullable: true },
                      color: { type: 'string', enum: ['red', 'blue'], nullable: true },
                      s: { type: 'string' },
                      gt0: { type: 'number', minimum: 0, exclusiveMinimum: true },
                      ge0: { type: 'number', minimum: 0, exclusiveMinimum: false },
                    },
                  },
                },
              },
            },
          },
        },
      },
    };
    const { h } = plugin(spec, { verbose_response: true });
    const post = (body: unknown) => msg(sync(h, { method: 'POST', path: '/x', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }));
    expect(post({ n: null, color: null })).toBeUndefined();
    expect(post({ n: 3, color: 'red' })).toBeUndefined();
    expect(post({ s: null })).toBe("request body validation failed with error: '/s must be string'");
    expect(post({ color: 'green' })).toBe('request body validation failed with error: \'/color must be equal to one of the allowed values: "red", "blue", null\'');
    expect(post({ gt0: 0 })).toBe("request body validation failed with error: '/gt0 must be > 0'");
    expect(post({ ge0: 0 })).toBeUndefined();
  });

  it('3.1: type arrays and null are JSON Schema 2020-12; nullable is not a keyword there; $ref siblings apply', () => {
    const spec = {
      ...HEAD31,
      paths: {
        '/x': {
          post: {
            requestBody: {
              content: {
                'application/json': {
                  schema: {
                    type: 'object',
                    properties: {
                      n: { type: ['integer', 'null'] },
                      legacy: { type: 'integer', nullable: true },
                      short: { $ref: '#/components/schemas/Name', maxLength: 3 },
                      pair: { type: 'array', prefixItems: [{ type: 'string' }, { type: 'integer' }], items: false },
                    },
                    unevaluatedProperties: false,
                  },
                },
              },
            },
          },
        },
      },
      components: { schemas: { Name: { type: 'string', minLength: 1 } } },
    };
    const { h } = plugin(spec, { verbose_response: true });
    const post = (body: unknown) => msg(sync(h, { method: 'POST', path: '/x', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }));
    expect(post({ n: null, short: 'ab', pair: ['a', 1] })).toBeUndefined();
    expect(post({ legacy: null })).toBe("request body validation failed with error: '/legacy must be integer'");
    expect(post({ short: 'abcd' })).toBe("request body validation failed with error: '/short must NOT have more than 3 characters'");
    expect(post({ short: '' })).toBe("request body validation failed with error: '/short must NOT have fewer than 1 characters'");
    expect(post({ pair: ['a', 1, 2] })).toBe("request body validation failed with error: '/pair must NOT have more than 2 items'");
    expect(post({ extra: 1 })).toBe("request body validation failed with error: 'must NOT have unevaluated properties'");
  });

  it('shares one validator per component however many operations use it, and evaluates nothing at create()', () => {
    const paths: Record<string, unknown> = {};
    for (let i = 0; i < 50; i++) {
      paths[`/r${i}`] = { post: { requestBody: { content: { 'application/json': { schema: { $ref: '#/components/schemas/Person' } } } } } };
    }
    const spec = { ...HEAD30, paths, components: { schemas: { Person: { type: 'object', properties: { name: { type: 'string' } } } } } };
    const conf = load(spec);
    // One body validator (the component's), not fifty.
    expect(Object.keys(new CompiledReader(conf[COMPILED_FIELD]).index.code)).toEqual(['Bd0']);
    // Evaluation is lazy: broken code of an operation nobody calls does not break create()
    // or the other operations (the first request of an operation evaluates its validators).
    const other = load({ ...spec, paths: { ...paths, '/q': { get: { parameters: [{ name: 'n', in: 'query', schema: { type: 'integer' } }] } } } });
    const good = other[COMPILED_FIELD];
    const blob = new SharedArrayBuffer(good.blob.byteLength);
    const bytes = Buffer.from(blob);
    Buffer.from(good.blob).copy(bytes);
    const [at, len] = new CompiledReader(good).index.code.Bd0!;
    bytes.fill(0x20, at, at + len).write('this is not javascript', at);
    const compiled: CompiledSpec = { ...good, blob };
    const h = createOasValidation({ ...other, [COMPILED_FIELD]: compiled }, { log: { warn() {}, info() {}, error() {} } } as unknown as PluginEnv);
    expect(sync(h, { path: '/q', query: 'n=3' })).toBeUndefined();
    expect(msg(sync(h, { path: '/q', query: 'n=x' }))).toBe("request param doesn't conform to schema");
  });
});

describe('path matching', () => {
  const { h } = plugin(petStore, { verbose_response: true });

  it('matches concrete paths before templated ones, and the template otherwise', () => {
    expect(sync(h, { path: '/pets/mine' })).toBeUndefined();
    expect(sync(h, { path: '/pets/42' })).toBeUndefined();
    expect(msg(sync(h, { path: '/pets/0' }))).toBe("path 'petId' validation failed with error: 'must be >= 1'");
    // DELETE is only on the template: /pets/mine is then {petId} = "mine".
    expect(msg(sync(h, { method: 'DELETE', path: '/pets/mine' }))).toBe("path 'petId' validation failed with error: 'must be integer'");
  });

  it('answers 400 for a path or a method the spec does not have (HEAD is GET)', () => {
    expect(sync(h, { path: '/owners' })).toEqual({ status: 400, message: 'path not found in api specification' });
    expect(sync(h, { path: '/pets/1/toys' })).toEqual({ status: 400, message: 'path not found in api specification' });
    expect(sync(h, { method: 'PUT', path: '/pets/1' })).toEqual({ status: 400, message: 'method not allowed in api specification' });
    expect(sync(h, { method: 'HEAD', path: '/pets/1' })).toBeUndefined();
    expect(sync(h, { path: '/pets/1/' })).toBeUndefined();
  });

  it('mixed segments and percent-encoded values', () => {
    const spec = {
      ...HEAD30,
      paths: {
        '/reports/{id}.{format}': {
          get: {
            parameters: [
              { name: 'id', in: 'path', required: true, schema: { type: 'integer' } },
              { name: 'format', in: 'path', required: true, schema: { type: 'string', enum: ['json', 'csv'] } },
            ],
          },
        },
        '/files/{name}': { get: { parameters: [{ name: 'name', in: 'path', required: true, schema: { type: 'string', maxLength: 5 } }] } },
      },
    };
    const { h: m } = plugin(spec, { verbose_response: true });
    expect(sync(m, { path: '/reports/12.csv' })).toBeUndefined();
    expect(msg(sync(m, { path: '/reports/12.pdf' }))).toMatch(/^path 'format' validation failed with error: 'must be equal to one of the allowed values/);
    expect(msg(sync(m, { path: '/reports/x.csv' }))).toBe("path 'id' validation failed with error: 'must be integer'");
    // The value is decoded before validation: "a%2Fb%20c" is 5 characters ("a/b c").
    expect(sync(m, { path: '/files/a%2Fb%20c' })).toBeUndefined();
    expect(msg(sync(m, { path: '/files/abcdef' }))).toBe("path 'name' validation failed with error: 'must NOT have more than 5 characters'");
  });

  it('include_base_path: the servers path (or custom_base_path) prefixes the spec paths', () => {
    const { h: b } = plugin(petStore, { include_base_path: true });
    expect(sync(b, { path: '/v1/pets/1' })).toBeUndefined();
    expect(sync(b, { path: '/pets/1' })).toEqual({ status: 400, message: 'path not found in api specification' });
    expect(sync(b, { path: '/v1x/pets/1' })).toEqual({ status: 400, message: 'path not found in api specification' });
    const { h: c } = plugin(petStore, { include_base_path: true, custom_base_path: '/api/v2/' });
    expect(sync(c, { path: '/api/v2/pets/1' })).toBeUndefined();
    expect(sync(c, { path: '/v1/pets/1' })).toEqual({ status: 400, message: 'path not found in api specification' });
    // custom_base_path alone changes nothing (Kong: ignored unless include_base_path).
    const { h: d } = plugin(petStore, { custom_base_path: '/api' });
    expect(sync(d, { path: '/pets/1' })).toBeUndefined();
  });
});

describe('parameters', () => {
  function one(param: Record<string, unknown>, extra: Record<string, unknown> = {}): PluginHandler {
    const path = param.in === 'path' ? `/p/{${String(param.name)}}` : '/p';
    return plugin({ ...HEAD30, paths: { [path]: { get: { parameters: [param] } } } }, { verbose_response: true, ...extra }).h;
  }

  it('query: required, coercion of integers, booleans and numbers, and strict number syntax', () => {
    const h = one({ name: 'n', in: 'query', required: true, schema: { type: 'integer', maximum: 20 } });
    expect(sync(h, { path: '/p', query: 'n=20' })).toBeUndefined();
    expect(msg(sync(h, { path: '/p', query: 'n=21' }))).toBe("query 'n' validation failed with error: 'must be <= 20'");
    expect(msg(sync(h, { path: '/p' }))).toBe("query 'n' validation failed with error: 'required parameter value not found in request'");
    // JavaScript would read these as numbers; an upstream may not: refused.
    for (const v of ['0x10', '1e1', '%205', '010', '1.0']) expect(msg(sync(h, { path: '/p', query: `n=${v}` }))).toBe("query 'n' validation failed with error: 'must be integer'");
    // A repeated scalar is two values, not one.
    expect(msg(sync(h, { path: '/p', query: 'n=1&n=2' }))).toBe("query 'n' validation failed with error: 'must be integer'");
    const b = one({ name: 'flag', in: 'query', schema: { type: 'boolean' } });
    expect(sync(b, { path: '/p', query: 'flag=true' })).toBeUndefined();
    expect(msg(sync(b, { path: '/p', query: 'flag=yes' }))).toBe("query 'flag' validation failed with error: 'must be boolean'");
    const num = one({ name: 'x', in: 'query', schema: { type: 'number', minimum: 0.5 } });
    expect(sync(num, { path: '/p', query: 'x=2.5e1' })).toBeUndefined();
    expect(msg(sync(num, { path: '/p', query: 'x=0.25' }))).toBe("query 'x' validation failed with error: 'must be >= 0.5'");
  });

  it('query arrays: form explode (repeated), form (commas), spaceDelimited, pipeDelimited', () => {
    const items = { type: 'array', items: { type: 'integer' }, maxItems: 3 };
    const exploded = one({ name: 'id', in: 'query', schema: items });
    expect(sync(exploded, { path: '/p', query: 'id=1&id=2&id=3' })).toBeUndefined();
    expect(sync(exploded, { path: '/p', query: 'id=1' })).toBeUndefined();
    expect(msg(sync(exploded, { path: '/p', query: 'id=1&id=x' }))).toBe("query 'id' validation failed with error: '/1 must be integer'");
    expect(msg(sync(exploded, { path: '/p', query: 'id=1&id=2&id=3&id=4' }))).toBe("query 'id' validation failed with error: 'must NOT have more than 3 items'");
    const commas = one({ name: 'id', in: 'query', explode: false, schema: items });
    expect(sync(commas, { path: '/p', query: 'id=1,2,3' })).toBeUndefined();
    expect(msg(sync(commas, { path: '/p', query: 'id=1,b' }))).toBe("query 'id' validation failed with error: '/1 must be integer'");
    const spaces = one({ name: 'id', in: 'query', style: 'spaceDelimited', explode: false, schema: items });
    expect(sync(spaces, { path: '/p', query: 'id=1%202+3' })).toBeUndefined();
    const pipes = one({ name: 'id', in: 'query', style: 'pipeDelimited', explode: false, schema: items });
    expect(sync(pipes, { path: '/p', query: 'id=1|2|3' })).toBeUndefined();
    expect(msg(sync(pipes, { path: '/p', query: 'id=1|x' }))).toBe("query 'id' validation failed with error: '/1 must be integer'");
  });

  it('query objects: form explode (properties as arguments), form, deepObject', () => {
    const obj = { type: 'object', required: ['lat'], properties: { lat: { type: 'number' }, lon: { type: 'number' } }, additionalProperties: false };
    const exploded = one({ name: 'point', in: 'query', required: true, schema: obj });
    expect(sync(exploded, { path: '/p', query: 'lat=1.5&lon=2' })).toBeUndefined();
    expect(msg(sync(exploded, { path: '/p', query: 'lon=2' }))).toBe("query 'point' validation failed with error: 'must have required property 'lat''");
    expect(msg(sync(exploded, { path: '/p', query: 'other=2' }))).toBe("query 'point' validation failed with error: 'required parameter value not found in request'");
    expect(msg(sync(exploded, { path: '/p', query: 'lat=north' }))).toBe("query 'point' validation failed with error: '/lat must be number'");
    const flat = one({ name: 'point', in: 'query', explode: false, schema: obj });
    expect(sync(flat, { path: '/p', query: 'point=lat,1,lon,2' })).toBeUndefined();
    expect(msg(sync(flat, { path: '/p', query: 'point=lat,1,lon' }))).toBe("query 'point' validation failed with error: 'an object must be serialised as name,value pairs'");
    const deep = one({ name: 'point', in: 'query', style: 'deepObject', explode: true, schema: obj });
    expect(sync(deep, { path: '/p', query: 'point%5Blat%5D=1&point[lon]=2' })).toBeUndefined();
    expect(msg(sync(deep, { path: '/p', query: 'point[lat]=1&point[alt]=2' }))).toBe("query 'point' validation failed with error: 'must NOT have additional properties ('alt')'");
  });

  it('path styles: simple, label and matrix, with arrays and objects', () => {
    const arr = { type: 'array', items: { type: 'integer' } };
    expect(sync(one({ name: 'ids', in: 'path', required: true, schema: arr }), { path: '/p/3,4,5' })).toBeUndefined();
    expect(msg(sync(one({ name: 'ids', in: 'path', required: true, schema: arr }), { path: '/p/3,x' }))).toBe("path 'ids' validation failed with error: '/1 must be integer'");
    expect(sync(one({ name: 'ids', in: 'path', required: true, style: 'label', schema: arr }), { path: '/p/.3,4' })).toBeUndefined();
    expect(sync(one({ name: 'ids', in: 'path', required: true, style: 'label', explode: true, schema: arr }), { path: '/p/.3.4' })).toBeUndefined();
    expect(msg(sync(one({ name: 'ids', in: 'path', required: true, style: 'label', schema: arr }), { path: '/p/3,4' }))).toBe(
      "path 'ids' validation failed with error: 'a label-style value must start with '.''",
    );
    expect(sync(one({ name: 'id', in: 'path', required: true, style: 'matrix', schema: { type: 'integer' } }), { path: '/p/;id=5' })).toBeUndefined();
    expect(sync(one({ name: 'ids', in: 'path', required: true, style: 'matrix', explode: true, schema: arr }), { path: '/p/;ids=3;ids=4' })).toBeUndefined();
    expect(msg(sync(one({ name: 'id', in: 'path', required: true, style: 'matrix', schema: { type: 'integer' } }), { path: '/p/;other=5' }))).toBe(
      "path 'id' validation failed with error: 'expected ;id=value'",
    );
    const obj = { type: 'object', properties: { role: { type: 'string' }, n: { type: 'integer' } } };
    expect(sync(one({ name: 'o', in: 'path', required: true, schema: obj }), { path: '/p/role,admin,n,3' })).toBeUndefined();
    expect(msg(sync(one({ name: 'o', in: 'path', required: true, explode: true, schema: obj }), { path: '/p/role=admin,n=x' }))).toBe(
      "path 'o' validation failed with error: '/n must be integer'",
    );
  });

  it('headers (case-insensitive names, simple style) and cookies', () => {
    const h = one({ name: 'X-Rate', in: 'header', required: true, schema: { type: 'array', items: { type: 'integer' }, minItems: 2 } });
    expect(sync(h, { path: '/p', headers: { 'x-rate': '1, 2' } })).toBeUndefined();
    expect(msg(sync(h, { path: '/p', headers: { 'x-rate': '1' } }))).toBe("header 'x-rate' validation failed with error: 'must NOT have fewer than 2 items'");
    expect(msg(sync(h, { path: '/p' }))).toBe("header 'x-rate' validation failed with error: 'required parameter value not found in request'");
    const c = one({ name: 'session', in: 'cookie', required: true, schema: { type: 'string', pattern: '^[a-f0-9]{8}$' } });
    expect(sync(c, { path: '/p', headers: { cookie: 'theme=dark; session=deadbeef' } })).toBeUndefined();
    expect(msg(sync(c, { path: '/p', headers: { cookie: 'session=nothex!!' } }))).toBe('cookie \'session\' validation failed with error: \'must match pattern "^[a-f0-9]{8}$"\'');
    // OpenAPI: Accept, Content-Type and Authorization header parameters are ignored.
    const ignored = one({ name: 'Authorization', in: 'header', required: true, schema: { type: 'string' } });
    expect(sync(ignored, { path: '/p' })).toBeUndefined();
  });

  it('a parameter given as JSON (content: application/json)', () => {
    const h = one({ name: 'filter', in: 'query', content: { 'application/json': { schema: { type: 'object', properties: { n: { type: 'integer' } } } } } });
    expect(sync(h, { path: '/p', query: `filter=${encodeURIComponent('{"n":1}')}` })).toBeUndefined();
    expect(msg(sync(h, { path: '/p', query: `filter=${encodeURIComponent('{"n":"1"}')}` }))).toBe("query 'filter' validation failed with error: '/n must be integer'");
    expect(msg(sync(h, { path: '/p', query: 'filter=%7Bnope' }))).toBe("query 'filter' validation failed with error: 'the value is not valid JSON'");
  });

  it('validate_request_*_params turn each location off', () => {
    const { h } = plugin(petStore, { validate_request_query_params: false, validate_request_uri_params: false, validate_request_header_params: false });
    expect(sync(h, { path: '/pets', query: 'limit=1000', headers: { 'x-trace-id': 'not-a-uuid' } })).toBeUndefined();
    expect(sync(h, { path: '/pets/0' })).toBeUndefined();
    const { h: on } = plugin(petStore);
    expect(sync(on, { path: '/pets', query: 'status=sold', headers: { 'x-trace-id': 'not-a-uuid' } })).toEqual({ status: 400, message: "request param doesn't conform to schema" });
  });

  it('query_parameter_check and header_parameter_check refuse what the operation does not declare', () => {
    const spec = {
      ...HEAD30,
      paths: { '/p': { get: { parameters: [{ name: 'q', in: 'query', schema: { type: 'string' } }, { name: 'X-Id', in: 'header', schema: { type: 'string' } }] } } },
      components: { securitySchemes: { key: { type: 'apiKey', in: 'query', name: 'apikey' }, hdr: { type: 'apiKey', in: 'header', name: 'X-Api-Key' } } },
    };
    const { h } = plugin(spec, { verbose_response: true, query_parameter_check: true, header_parameter_check: true, allowed_header_parameters: 'Host, User-Agent' });
    expect(sync(h, { path: '/p', query: 'q=1&apikey=k', headers: { 'user-agent': 'curl', 'x-id': 'a', 'x-api-key': 'k' } })).toBeUndefined();
    expect(msg(sync(h, { path: '/p', query: 'q=1&debug=1' }))).toBe("query 'debug' validation failed with error: 'query parameter not defined in the api specification'");
    expect(msg(sync(h, { path: '/p', headers: { 'x-forwarded-for': '1.2.3.4' } }))).toBe("header 'x-forwarded-for' validation failed with error: 'header not defined in the api specification'");
    const { h: off } = plugin(spec);
    expect(sync(off, { path: '/p', query: 'debug=1', headers: { 'x-other': '1' } })).toBeUndefined();
  });
});

describe('request bodies', () => {
  const { h } = plugin(petStore, { verbose_response: true });
  const post = (body: string | undefined, contentType?: string) =>
    msg(sync(h, { method: 'POST', path: '/pets', headers: contentType === undefined ? {} : { 'content-type': contentType }, body }));

  it('checks JSON bodies (application/json, with parameters, and +json types through a wildcard)', () => {
    expect(post('{"name":"Rex","age":3}', 'application/json; charset=utf-8')).toBeUndefined();
    expect(post('{"name":"Rex","owner":"me"}', 'application/json')).toBe("request body validation failed with error: 'must NOT have additional properties ('owner')'");
    expect(post('{"name":"Rex!"}', 'application/json')).toBe('request body validation failed with error: \'/name must match pattern "^[A-Za-z ]+$"\'');
    expect(post('{"name": "Rex",', 'application/json')).toBe("request body validation failed with error: 'the body is not valid JSON (error at character 15)'");
    const wild = plugin({ ...HEAD30, paths: { '/e': { post: { requestBody: { content: { 'application/*': { schema: { type: 'object', required: ['a'] } }, 'text/plain': {} } } } } } }, { verbose_response: true }).h;
    expect(sync(wild, { method: 'POST', path: '/e', headers: { 'content-type': 'application/merge-patch+json' }, body: '{"a":1}' })).toBeUndefined();
    expect(msg(sync(wild, { method: 'POST', path: '/e', headers: { 'content-type': 'application/vnd.api+json' }, body: '{}' }))).toBe(
      "request body validation failed with error: 'must have required property 'a''",
    );
    // A declared media type that is not JSON passes unvalidated (as in Kong).
    expect(sync(wild, { method: 'POST', path: '/e', headers: { 'content-type': 'text/plain' }, body: 'anything' })).toBeUndefined();
  });

  it('refuses a missing required body and an undeclared media type', () => {
    expect(post(undefined, 'application/json')).toBe("request body validation failed with error: 'request body is required'");
    expect(post('', 'application/json')).toBe("request body validation failed with error: 'request body is required'");
    expect(post('<pet/>', 'application/xml')).toBe("request body validation failed with error: 'content type 'application/xml' is not allowed'");
    expect(post('{"name":"Rex"}')).toBe("request body validation failed with error: 'a body without a content type is not allowed'");
    const nonVerbose = plugin(petStore).h;
    expect(sync(nonVerbose, { method: 'POST', path: '/pets', headers: { 'content-type': 'application/json' }, body: '{}' })).toEqual({
      status: 400,
      message: "request body doesn't conform to schema",
    });
    // validate_request_body: false lets any body through.
    const off = plugin(petStore, { validate_request_body: false }).h;
    expect(sync(off, { method: 'POST', path: '/pets', headers: { 'content-type': 'application/json' }, body: '{"nope":1}' })).toBeUndefined();
  });

  it('reads a streamed body (split at every position) and gives the same verdicts', async () => {
    const body = Buffer.from(JSON.stringify({ name: 'Rex', children: [{ name: 'Kid', age: 1 }] }));
    const badBody = Buffer.from(JSON.stringify({ name: 'Rex', children: [{ name: 'Kid', age: 0 }] }));
    for (const [bytes, expected] of [
      [body, undefined],
      [badBody, "request body validation failed with error: '/children/0/age must be > 0'"],
    ] as const) {
      for (let cut = 0; cut <= bytes.length; cut += 3) {
        const { ctx, feed } = streamed('POST', '/pets', 'application/json', bytes.length);
        const pending = h.access!(ctx);
        expect(pending).toBeInstanceOf(Promise);
        feed([bytes.subarray(0, cut), bytes.subarray(cut)]);
        expect(msg(await pending)).toBe(expected);
        // The body the upstream will get is the client's, byte for byte.
        expect(ctx.body?.equals(bytes)).toBe(true);
      }
    }
  });

  it('answers 413 above max_request_body_size (Content-Length, or a chunked body growing past it)', async () => {
    const small = plugin(petStore, { max_request_body_size: 64 }).h;
    const { ctx } = streamed('POST', '/pets', 'application/json', 65);
    expect(small.access!(ctx)).toEqual({ status: 413, message: 'Request size limit exceeded' });
    const chunked = streamed('POST', '/pets', 'application/json', -1);
    const pending = small.access!(chunked.ctx);
    chunked.feed([Buffer.alloc(40, 0x20), Buffer.alloc(40, 0x20)]);
    expect(await pending).toEqual({ status: 413, message: 'Request size limit exceeded' });
  });

  it('validates large bodies in the offload pool with the same verdicts as inline', async () => {
    const children = Array.from({ length: 3000 }, (_, i) => ({ name: `Kid ${String.fromCharCode(97 + (i % 26))}`, age: 1 + (i % 9) }));
    const good = JSON.stringify({ name: 'Big', children });
    const bad = JSON.stringify({ name: 'Big', children: [...children.slice(0, 2500), { name: 'Bad', age: -1 }, ...children.slice(2500)] });
    expect(good.length).toBeGreaterThan(4096);
    const inline = plugin(petStore, { verbose_response: true, large_body_threshold: 0 }).h;
    const pooled = plugin(petStore, { verbose_response: true, large_body_threshold: 4096 }).h;
    const before = offload.offloaded;
    const req = (body: string): Req => ({ method: 'POST', path: '/pets', headers: { 'content-type': 'application/json' }, body });
    const viaPool = [await check(pooled, req(good)), await check(pooled, req(bad)), await check(pooled, req('{"name":"Big", oops'.padEnd(5000, ' ')))];
    expect(offload.offloaded - before).toBe(3);
    const viaLoop = [await check(inline, req(good)), await check(inline, req(bad)), await check(inline, req('{"name":"Big", oops'.padEnd(5000, ' ')))];
    expect(viaPool).toEqual(viaLoop);
    expect(msg(viaPool[1])).toBe("request body validation failed with error: '/children/2500/age must be > 0'");
    expect(msg(viaPool[2])).toBe("request body validation failed with error: 'the body is not valid JSON (error at character 15)'");
    // Below the threshold the check stays on the event loop (synchronous verdict).
    expect(pooled.access!(ctxFor(req('{"name":"Small"}')))).toBeUndefined();
    expect(offload.offloaded - before).toBe(3);
  });
});

/** A request whose body arrives through a downstream, in the chunks the test feeds. */
function streamed(method: string, path: string, contentType: string, contentLength: number): { ctx: RequestContext; feed: (chunks: Buffer[]) => void } {
  const headers: Record<string, string> = Object.assign(Object.create(null), { host: 'api.example.com', 'content-type': contentType });
  const ctx = new RequestContext('req-0002', method, path, '', headers, null, 'api.example.com', 8000, 'http', '10.0.0.7', '10.0.0.7', 0);
  let sink: RequestBodySink | null = null;
  const unexpected = () => {
    throw new Error('not used');
  };
  const ds: Downstream = {
    aborted: false,
    finished: false,
    headSent: false,
    hasBody: true,
    contentLength,
    limitBody: unexpected,
    attachBody: (s: RequestBodySink) => void (sink = s),
    pauseBody: unexpected,
    resumeBody: unexpected,
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
  return {
    ctx,
    feed(chunks) {
      for (const c of chunks) if (c.length > 0) sink!.onBodyChunk(c);
      sink!.onBodyEnd();
    },
  };
}

describe('answers', () => {
  it("Kong's messages without verbose_response; details with it", () => {
    const { h } = plugin(petStore);
    expect(sync(h, { path: '/pets', query: 'status=lost' })).toEqual({ status: 400, message: "request param doesn't conform to schema" });
    const { h: v } = plugin(petStore, { verbose_response: true });
    expect(sync(v, { path: '/pets' })).toEqual({ status: 400, message: "query 'status' validation failed with error: 'required parameter value not found in request'" });
  });

  it('collect_all_errors reports every failing parameter and every body violation', () => {
    const { h: first } = plugin(petStore, { verbose_response: true });
    expect(msg(sync(first, { path: '/pets', query: 'limit=0', headers: { 'x-trace-id': 'x' } }))).toBe("query 'limit' validation failed with error: 'must be >= 1'");
    const { h } = plugin(petStore, { verbose_response: true, collect_all_errors: true });
    expect(msg(sync(h, { path: '/pets', query: 'limit=0', headers: { 'x-trace-id': 'x' } }))).toBe(
      "query 'limit' validation failed with error: 'must be >= 1'; query 'status' validation failed with error: 'required parameter value not found in request'; header 'x-trace-id' validation failed with error: 'must match format \"uuid\"'",
    );
    expect(msg(sync(h, { method: 'POST', path: '/pets', headers: { 'content-type': 'application/json' }, body: '{"name":"R2","age":0,"x":1}' }))).toBe(
      'request body validation failed with error: \'must NOT have additional properties (\'x\'), /name must match pattern "^[A-Za-z ]+$", /age must be > 0\'',
    );
  });

  it('structured_errors (with verbose_response): JSON Schema output units, capped by max_structured_errors', () => {
    const { h } = plugin(petStore, { verbose_response: true, collect_all_errors: true, structured_errors: true, max_structured_errors: 2 });
    const v = sync(h, { method: 'POST', path: '/pets', headers: { 'content-type': 'application/json' }, body: '{"name":"R2","age":0,"x":1}' }) as LocalReply;
    expect(v.status).toBe(400);
    expect(v.contentType).toBe('application/json; charset=utf-8');
    const body = JSON.parse(String(v.body)) as { message: string; errors: unknown[] };
    expect(body.errors).toEqual([
      { instanceLocation: '/body', keywordLocation: '/additionalProperties', error: "must NOT have additional properties ('x')" },
      { instanceLocation: '/body/name', keywordLocation: '/properties/name/pattern', error: 'must match pattern "^[A-Za-z ]+$"' },
    ]);
    const p = sync(h, { path: '/pets', query: 'limit=x' }) as LocalReply;
    expect(JSON.parse(String(p.body)).errors).toEqual([
      { instanceLocation: '/query/limit', keywordLocation: '/type', error: 'must be integer' },
      { instanceLocation: '/query/status', keywordLocation: '', error: 'required parameter value not found in request' },
    ]);
  });

  it('notify_only_request_validation_failure: the request passes and a log line names what failed, never a value', () => {
    const { h, logs } = plugin(petStore, { notify_only_request_validation_failure: true });
    const secret = 'sk_live_51Hsecretvalue';
    expect(sync(h, { path: '/pets', query: `status=${secret}` })).toBeUndefined();
    expect(sync(h, { method: 'POST', path: '/pets', headers: { 'content-type': 'application/json' }, body: `{"name":"${secret}!"}` })).toBeUndefined();
    expect(sync(h, { path: '/nowhere' })).toBeUndefined();
    expect(logs).toHaveLength(3);
    expect(logs[0]!.msg).toBe('request does not conform to the OpenAPI spec (notify only: let through)');
    expect(logs[0]!.obj).toMatchObject({ request_id: 'req-0001', operation: 'GET /pets', failures: [{ in: 'query', name: 'status' }] });
    expect(logs[1]!.obj).toMatchObject({ operation: 'POST /pets', failures: [{ in: 'body', name: null }] });
    expect(logs[2]!.obj).toMatchObject({ operation: null, failures: [{ in: 'route', error: 'path not found in api specification' }] });
    expect(JSON.stringify(logs)).not.toContain('sk_live');
  });
});

describe('validate_response_body', () => {
  const spec = {
    ...HEAD30,
    paths: {
      '/items/{id}': {
        get: {
          parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'integer' } }],
          responses: {
            '200': { description: 'ok', content: { 'application/json': { schema: { $ref: '#/components/schemas/Item' } } } },
            '4XX': { description: 'client error', content: { 'application/problem+json': { schema: { type: 'object', required: ['title'] } } } },
            default: { description: 'other', content: { 'text/plain': {} } },
          },
        },
      },
    },
    components: { schemas: { Item: { type: 'object', required: ['id'], properties: { id: { type: 'integer' }, name: { type: 'string' } } } } },
  };

  /** Runs access, header and body filters as the proxy would; returns what the client gets. */
  function respond(h: PluginHandler, status: number, headers: Record<string, string>, chunks: string[]): { sent: string; aborted: LocalReply | null } {
    const ctx = ctxFor({ path: '/items/1' });
    expect(h.access!(ctx)).toBeUndefined();
    ctx.response = { status, headers, source: 'upstream' };
    h.headerFilter!(ctx);
    let sent = '';
    chunks.forEach((c, i) => {
      sent += h.bodyFilter!(ctx, Buffer.from(c), i === chunks.length - 1).toString();
    });
    return { sent, aborted: ctx.responseAbort };
  }

  it('holds a JSON response back and sends it whole when it conforms', () => {
    const { h } = plugin(spec, { validate_response_body: true });
    expect(respond(h, 200, { 'content-type': 'application/json' }, ['{"id":', '1,"name"', ':"a"}', ''])).toEqual({ sent: '{"id":1,"name":"a"}', aborted: null });
  });

  it('cuts a response that does not conform (its head is out) and logs why; notify-only sends and logs it', () => {
    const { h, logs } = plugin(spec, { validate_response_body: true });
    const r = respond(h, 200, { 'content-type': 'application/json' }, ['{"id":"one"}', '']);
    expect(r.sent).toBe('');
    expect(r.aborted).toEqual({ status: 406, message: "response body doesn't conform to schema" });
    expect(logs[0]).toMatchObject({ msg: 'upstream response does not conform to the OpenAPI spec: replaced with 406', obj: { operation: 'GET /items/{id}', status: 200, error: '/id must be integer' } });
    const problem = respond(h, 404, { 'content-type': 'application/problem+json' }, ['{"detail":"x"}']);
    expect(problem.aborted?.status).toBe(406);
    const n = plugin(spec, { validate_response_body: true, notify_only_response_body_validation_failure: true });
    expect(respond(n.h, 200, { 'content-type': 'application/json' }, ['{"id":"one"}', ''])).toEqual({ sent: '{"id":"one"}', aborted: null });
    expect(n.logs[0]!.msg).toBe('upstream response does not conform to the OpenAPI spec (notify only: sent)');
  });

  it('passes what it cannot or need not check: other media types, compressed bodies, bodies over the cap', () => {
    const { h } = plugin(spec, { validate_response_body: true, max_request_body_size: 16 });
    expect(respond(h, 500, { 'content-type': 'text/plain' }, ['oops'])).toEqual({ sent: 'oops', aborted: null });
    expect(respond(h, 200, { 'content-type': 'application/json', 'content-encoding': 'gzip' }, ['\x1f\x8b..'])).toEqual({ sent: '\x1f\x8b..', aborted: null });
    expect(respond(h, 200, { 'content-type': 'application/json' }, ['{"id":"a-long-id-', 'that-is-not-an-integer"}', ''])).toEqual({
      sent: '{"id":"a-long-id-that-is-not-an-integer"}',
      aborted: null,
    });
    // Off by default: no filters at all.
    const { h: off } = plugin(spec);
    expect(off.headerFilter).toBeUndefined();
    expect(off.bodyFilter).toBeUndefined();
  });
});
