/**
 * request-size-limiting: the config a Kong 3.x user writes (through the real loader) and the
 * decision the handler takes, driven through our RequestContext and a fake Downstream that
 * records the streaming cap. Kong sources: kong/plugins/request-size-limiting/{schema,handler}.lua.
 * The streaming cut itself (413 while the client still sends) is tested end to end in
 * test/integration/cors-size.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { loadConfigText } from '../../../src/config/load.js';
import type { GatewayConfig } from '../../../src/config/types.js';
import { ConsumerIndex } from '../../auth/consumer-index.js';
import type { Downstream } from '../../http/downstream.js';
import { RequestContext } from '../../http/request-context.js';
import { compilePipelines } from '../../pipeline/compile.js';
import { runAccess } from '../../pipeline/run.js';
import type { PluginEnv, PluginHandler, Verdict } from '../../pipeline/types.js';
import { pluginDefinitions } from '../index.js';
import { pluginSchemas } from '../registry-schemas.js';
import { allowedBytes } from './handler.js';
import { requestSizeLimiting } from './index.js';
import type { RequestSizeLimitingConfig } from './schema.js';

const HEAD = '_format_version: "3.0"\n';
const MB = 1048576;

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

function configOf(config: string): RequestSizeLimitingConfig {
  return load(`${HEAD}plugins:\n  - name: request-size-limiting\n    config: ${config}\n`).plugins[0]!.config as RequestSizeLimitingConfig;
}

function handlerFor(config = '{}'): PluginHandler {
  return requestSizeLimiting.create(configOf(config), {} as PluginEnv);
}

/** A Downstream that only records what the plugin asks of it. */
interface FakeDownstream extends Downstream {
  limits: number[];
}

function fakeDownstream(hasBody: boolean, contentLength: number): FakeDownstream {
  const limits: number[] = [];
  const unexpected = () => {
    throw new Error('request-size-limiting must not touch the body or the response');
  };
  return {
    limits,
    aborted: false,
    finished: false,
    headSent: false,
    hasBody,
    contentLength,
    limitBody: (n: number) => void limits.push(n),
    attachBody: unexpected,
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
}

interface Req {
  method?: string;
  headers?: Record<string, string>;
  /** Content-Length, or 'chunked', or none (no body). */
  framing?: number | 'chunked';
}

function request(r: Req = {}): RequestContext & { downstream: FakeDownstream } {
  const headers: Record<string, string> = Object.assign(Object.create(null), { host: 'api.example.com' }, r.headers ?? {});
  if (typeof r.framing === 'number') headers['content-length'] = String(r.framing);
  if (r.framing === 'chunked') headers['transfer-encoding'] = 'chunked';
  const ctx = new RequestContext('0123456789abcdef0123456789abcdef', r.method ?? 'POST', '/upload', '', headers, null, 'api.example.com', 8000, 'http', '10.0.0.7', '10.0.0.7', 0);
  const cl = typeof r.framing === 'number' ? r.framing : -1;
  ctx.downstream = fakeDownstream(r.framing === 'chunked' || cl > 0, cl);
  return ctx as RequestContext & { downstream: FakeDownstream };
}

function verdict(h: PluginHandler, ctx: RequestContext): Verdict {
  const v = h.access!(ctx);
  if (v instanceof Promise) throw new Error('expected a synchronous verdict');
  return v;
}

// ---------------------------------------------------------------------------------------

describe('request-size-limiting config (Kong schema.lua, through the loader)', () => {
  it("fills Kong's defaults: 128 megabytes, Content-Length not required", () => {
    const p = load(`${HEAD}plugins:\n  - name: request-size-limiting\n`).plugins[0]!;
    expect(p.config).toEqual({ allowed_payload_size: 128, size_unit: 'megabytes', require_content_length: false });
    expect(p.protocols).toEqual(['grpc', 'grpcs', 'http', 'https']);
  });

  it('is registered with Kong PRIORITY 951 for the loader and the workers, consumer scope allowed', () => {
    expect(pluginSchemas.get('request-size-limiting')?.priority).toBe(951);
    expect(pluginDefinitions.get('request-size-limiting')?.priority).toBe(951);
    expect(pluginSchemas.get('request-size-limiting')?.noConsumer).toBeFalsy();
    const c = load(`${HEAD}consumers:\n  - username: alice\n    plugins:\n      - name: request-size-limiting\n        config: { allowed_payload_size: 1 }\n`);
    expect(c.plugins[0]!.config).toMatchObject({ allowed_payload_size: 1 });
  });

  it('computes the limit in bytes with binary units (Kong unit_multiplication_factor)', () => {
    expect(allowedBytes(configOf('{}'))).toBe(128 * MB);
    expect(allowedBytes(configOf('{ allowed_payload_size: 10, size_unit: kilobytes }'))).toBe(10240);
    expect(allowedBytes(configOf('{ allowed_payload_size: 10, size_unit: bytes }'))).toBe(10);
    expect(allowedBytes(configOf('{ allowed_payload_size: 0, size_unit: bytes }'))).toBe(0);
  });

  it('refuses an unknown unit, a fractional size and unknown fields, with positions', () => {
    expect(issues(`${HEAD}plugins:\n  - name: request-size-limiting\n    config: { size_unit: gigabytes }\n`)).toEqual([
      '4:26 plugins[0].config.size_unit: expected one of: megabytes, kilobytes, bytes',
    ]);
    expect(issues(`${HEAD}plugins:\n  - name: request-size-limiting\n    config: { allowed_payload_size: 1.5 }\n`)).toEqual([
      '4:37 plugins[0].config.allowed_payload_size: expected an integer',
    ]);
    expect(issues(`${HEAD}plugins:\n  - name: request-size-limiting\n    config: { max_size: 1 }\n`)).toEqual([
      '4:15 plugins[0].config.max_size: unknown field',
    ]);
  });
});

describe('request-size-limiting with Content-Length (Kong: checked directly)', () => {
  const h = handlerFor('{ allowed_payload_size: 1, size_unit: kilobytes }');

  it('answers 413 over the limit, before any body byte is read', () => {
    const ctx = request({ framing: 1025 });
    expect(verdict(h, ctx)).toEqual({ status: 413, message: 'Request size limit exceeded' });
    expect(ctx.downstream.limits).toEqual([]);
  });

  it('lets a body exactly at the limit (and an empty one) through without a streaming cap', () => {
    for (const framing of [1024, 1, 0]) {
      const ctx = request({ framing });
      expect(verdict(h, ctx)).toBeUndefined();
      expect(ctx.downstream.limits).toEqual([]);
    }
  });

  it('answers 417 instead when the client sent Expect: 100-continue (any case, spaces)', () => {
    expect(verdict(h, request({ framing: 5000, headers: { expect: '100-continue' } }))).toEqual({ status: 417, message: 'Request size limit exceeded' });
    expect(verdict(h, request({ framing: 5000, headers: { expect: ' 100-Continue ' } }))?.status).toBe(417);
    expect(verdict(h, request({ framing: 5000, headers: { expect: 'something-else' } }))?.status).toBe(413);
    expect(verdict(h, request({ framing: 10, headers: { expect: '100-continue' } }))).toBeUndefined();
  });

  it('with allowed_payload_size 0 refuses any non-empty body', () => {
    const zero = handlerFor('{ allowed_payload_size: 0 }');
    expect(verdict(zero, request({ framing: 1 }))?.status).toBe(413);
    expect(verdict(zero, request({ framing: 0 }))).toBeUndefined();
  });
});

describe('request-size-limiting without Content-Length', () => {
  it('caps a chunked body while it streams (no buffering) and lets the request go on', () => {
    const h = handlerFor('{ allowed_payload_size: 3, size_unit: megabytes }');
    const ctx = request({ framing: 'chunked' });
    expect(verdict(h, ctx)).toBeUndefined();
    expect(ctx.downstream.limits).toEqual([3 * MB]);
    expect(ctx.body).toBeNull();
  });

  it('checks a chunked body an earlier plugin already buffered (Kong get_raw_body)', () => {
    const h = handlerFor('{ allowed_payload_size: 4, size_unit: bytes }');
    const big = request({ framing: 'chunked', headers: { expect: '100-continue' } });
    big.body = Buffer.from('12345');
    expect(verdict(h, big)).toEqual({ status: 417, message: 'Request size limit exceeded' });
    const small = request({ framing: 'chunked' });
    small.body = Buffer.from('1234');
    expect(verdict(h, small)).toBeUndefined();
    expect(small.downstream.limits).toEqual([]);
  });

  it('with require_content_length: 411 when there is neither Content-Length nor chunked, even for a GET (Kong)', () => {
    const h = handlerFor('{ require_content_length: true }');
    expect(verdict(h, request())).toEqual({ status: 411, message: 'A valid Content-Length header is required' });
    expect(verdict(h, request({ method: 'GET' }))?.status).toBe(411);
    expect(verdict(h, request({ framing: 0 }))).toBeUndefined();
    const chunked = request({ framing: 'chunked' });
    expect(verdict(h, chunked)).toBeUndefined();
    expect(chunked.downstream.limits).toEqual([128 * MB]);
  });

  it('without require_content_length lets a body-less request through untouched', () => {
    const ctx = request({ method: 'GET' });
    expect(verdict(handlerFor(), ctx)).toBeUndefined();
    expect(ctx.downstream.limits).toEqual([]);
  });

  it('reads the framing from the headers when no listener filled the context', () => {
    const h = handlerFor('{ allowed_payload_size: 10, size_unit: bytes, require_content_length: true }');
    const mk = (headers: Record<string, string>) => {
      const ctx = request({ headers });
      ctx.downstream = null as unknown as FakeDownstream;
      return ctx;
    };
    expect(verdict(h, mk({ 'content-length': '11' }))?.status).toBe(413);
    expect(verdict(h, mk({ 'content-length': '10' }))).toBeUndefined();
    expect(verdict(h, mk({ 'transfer-encoding': 'chunked' }))).toBeUndefined();
    expect(verdict(h, mk({}))?.status).toBe(411);
  });
});

describe('request-size-limiting in a chain (Kong PRIORITY order)', () => {
  it('runs after key-auth (1250) and cors (2000): unauthenticated requests get 401 first, preflights 200', () => {
    const config = load(`${HEAD}services:
  - name: s
    url: http://127.0.0.1:1
    routes:
      - name: r
        paths: [/upload]
        plugins:
          - name: request-size-limiting
            config: { allowed_payload_size: 100, size_unit: bytes }
          - name: key-auth
          - name: cors
consumers:
  - username: alice
    keyauth_credentials:
      - key: alice-key
`);
    const env: PluginEnv = { workerId: 1, log: { info() {}, warn() {}, error() {} }, consumers: new ConsumerIndex(config.consumers) };
    const chain = compilePipelines(config, pluginDefinitions, () => env).forRoute(config.routes[0]!);
    expect(runAccess(chain, request({ framing: 1000 }))).toMatchObject({ status: 401, message: 'No API key found in request' });
    expect(runAccess(chain, request({ framing: 1000, headers: { apikey: 'alice-key' } }))).toMatchObject({ status: 413 });
    expect(runAccess(chain, request({ framing: 100, headers: { apikey: 'alice-key' } }))).toBeUndefined();
    const pre = request({ method: 'OPTIONS', framing: 1000, headers: { origin: 'https://a.example', 'access-control-request-method': 'PUT' } });
    expect(runAccess(chain, pre)).toMatchObject({ status: 200, body: '' });
  });
});
