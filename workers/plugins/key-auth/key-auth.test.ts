/**
 * key-auth: the config a Kong 3.x user writes (through the real loader, with positions) and
 * what the handler does, driven through our RequestContext and a ConsumerIndex built from
 * the loaded consumers. Kong sources: kong/plugins/key-auth/{schema,handler}.lua.
 */
import { describe, expect, it } from 'vitest';
import { loadConfigText } from '../../../src/config/load.js';
import type { GatewayConfig } from '../../../src/config/types.js';
import { ConsumerIndex } from '../../auth/consumer-index.js';
import type { Downstream, RequestBodySink } from '../../http/downstream.js';
import { RequestContext } from '../../http/request-context.js';
import { compilePipelines } from '../../pipeline/compile.js';
import { runAccess } from '../../pipeline/run.js';
import type { LocalReply, PluginEnv, PluginHandler, Verdict } from '../../pipeline/types.js';
import { pluginDefinitions } from '../index.js';
import { pluginSchemas } from '../registry-schemas.js';
import { KEY_AUTH_BODY_LIMIT } from './handler.js';
import { keyAuth } from './index.js';
import type { KeyAuthConfig } from './schema.js';

const HEAD = '_format_version: "3.0"\n';
const ALICE_CRED = '6f1c9e7a-1a2b-4c3d-8e9f-0a1b2c3d4e5f';
const CONSUMERS = `consumers:
  - username: alice
    custom_id: alice-123
    keyauth_credentials:
      - { id: ${ALICE_CRED}, key: alice-key }
  - username: bob
    keyauth_credentials:
      - { key: bob-key }
      - { key: bob-short-lived, ttl: 5 }
  - username: anon
`;

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

const BASE = load(`${HEAD}${CONSUMERS}`);
const alice = BASE.consumers.find((c) => c.username === 'alice')!;
const bob = BASE.consumers.find((c) => c.username === 'bob')!;
const anon = BASE.consumers.find((c) => c.username === 'anon')!;

interface TestEnv {
  env: PluginEnv;
  errors: string[];
}

function makeEnv(consumers = new ConsumerIndex(BASE.consumers)): TestEnv {
  const errors: string[] = [];
  const env: PluginEnv = { workerId: 0, log: { info() {}, warn() {}, error: (_o, m) => void errors.push(m ?? '') }, consumers };
  return { env, errors };
}

function configOf(config: string): KeyAuthConfig {
  return load(`${HEAD}plugins:\n  - name: key-auth\n    config: ${config}\n`).plugins[0]!.config as KeyAuthConfig;
}

function handlerFor(config = '{}', t: TestEnv = makeEnv()): PluginHandler {
  return keyAuth.create(configOf(config), t.env);
}

interface Req {
  method?: string;
  query?: string;
  headers?: Record<string, string>;
  repeated?: string[];
  body?: Buffer | string;
  chunked?: boolean;
}

function bodySource(body: Buffer, chunked: boolean, reads: { count: number }): Downstream {
  return {
    aborted: false,
    finished: false,
    headSent: false,
    hasBody: true,
    contentLength: chunked ? -1 : body.length,
    attachBody(sink: RequestBodySink) {
      reads.count++;
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

function request(r: Req = {}): RequestContext & { reads: { count: number } } {
  const headers: Record<string, string> = Object.assign(Object.create(null), { host: 'api.example.com' }, r.headers ?? {});
  const ctx = new RequestContext(
    '0123456789abcdef0123456789abcdef',
    r.method ?? 'GET',
    '/orders',
    r.query ?? '',
    headers,
    r.repeated ?? null,
    'api.example.com',
    8000,
    'http',
    '10.0.0.7',
    '10.0.0.7',
    0,
  ) as RequestContext & { reads: { count: number } };
  ctx.reads = { count: 0 };
  if (r.body !== undefined) ctx.downstream = bodySource(Buffer.from(r.body), r.chunked === true, ctx.reads);
  return ctx;
}

function syncVerdict(h: PluginHandler, ctx: RequestContext): Verdict {
  const v = h.access!(ctx);
  if (v instanceof Promise) throw new Error('expected a synchronous verdict');
  return v;
}

function syncReply(h: PluginHandler, ctx: RequestContext): LocalReply {
  const v = syncVerdict(h, ctx);
  if (v === undefined) throw new Error('expected a reply');
  return v;
}

async function asyncVerdict(h: PluginHandler, ctx: RequestContext): Promise<Verdict> {
  const v = h.access!(ctx);
  expect(v).toBeInstanceOf(Promise);
  return v;
}

function expectAlice(ctx: RequestContext): void {
  expect(ctx.consumer?.id).toBe(alice.id);
  expect(ctx.credential).toEqual({ id: ALICE_CRED, identifier: ALICE_CRED });
  expect(ctx.headers['x-consumer-id']).toBe(alice.id);
  expect(ctx.headers['x-consumer-custom-id']).toBe('alice-123');
  expect(ctx.headers['x-consumer-username']).toBe('alice');
  expect(ctx.headers['x-credential-identifier']).toBe(ALICE_CRED);
  expect(ctx.headers['x-anonymous-consumer']).toBeUndefined();
}

const www = (r: LocalReply) => r.headers?.find(([k]) => k.toLowerCase() === 'www-authenticate')?.[1];

// ---------------------------------------------------------------------------------------

describe('key-auth config (Kong schema.lua, through the loader)', () => {
  it("fills Kong's defaults and the http protocols", () => {
    const p = load(`${HEAD}plugins:\n  - name: key-auth\n`).plugins[0]!;
    expect(p.config).toEqual({
      key_names: ['apikey'],
      hide_credentials: false,
      anonymous: null,
      key_in_header: true,
      key_in_query: true,
      key_in_body: false,
      run_on_preflight: true,
      realm: null,
    });
    expect(p.protocols).toEqual(['grpc', 'grpcs', 'http', 'https']);
  });

  it('is registered with Kong PRIORITY 1250 for the loader and the workers', () => {
    expect(pluginSchemas.get('key-auth')?.priority).toBe(1250);
    expect(pluginDefinitions.get('key-auth')?.priority).toBe(1250);
    expect(pluginSchemas.get('key-auth')?.noConsumer).toBe(true);
  });

  it('refuses a key name that is not a header name, pointing at it', () => {
    const text = `${HEAD}plugins:\n  - name: key-auth\n    config: { key_names: [apikey, "x key"] }\n`;
    expect(issues(text)).toEqual([
      `4:35 plugins[0].config.key_names[1]: bad header name 'x key', allowed characters are A-Z, a-z, 0-9, '_', and '-'`,
    ]);
  });

  it('refuses unknown fields, wrong types and a realm with control characters', () => {
    expect(issues(`${HEAD}plugins:\n  - name: key-auth\n    config: { key_in_cookie: true }\n`)).toEqual([
      '4:15 plugins[0].config.key_in_cookie: unknown field',
    ]);
    expect(issues(`${HEAD}plugins:\n  - name: key-auth\n    config: { hide_credentials: "yes" }\n`)).toEqual([
      '4:33 plugins[0].config.hide_credentials: expected a boolean',
    ]);
    expect(issues(`${HEAD}plugins:\n  - name: key-auth\n    config: { realm: "a\\r\\nb" }\n`)).toEqual([
      '4:22 plugins[0].config.realm: must not contain control characters',
    ]);
  });

  it('cannot be scoped to a consumer (Kong no_consumer)', () => {
    expect(issues(`${HEAD}${CONSUMERS}plugins:\n  - name: key-auth\n    consumer: alice\n`)).toEqual([
      "14:15 plugins[0].consumer: plugin 'key-auth' cannot be applied to a consumer",
    ]);
  });
});

describe('key-auth: finding the key', () => {
  it('authenticates a key in the header, synchronously, and sets the consumer headers', () => {
    const ctx = request({ headers: { apikey: 'alice-key' } });
    expect(syncVerdict(handlerFor(), ctx)).toBeUndefined();
    expectAlice(ctx);
  });

  it("overwrites or clears identity headers the client sent (a consumer without custom_id)", () => {
    const ctx = request({
      headers: { apikey: 'bob-key', 'x-consumer-id': 'forged', 'x-consumer-custom-id': 'forged', 'x-anonymous-consumer': 'true', 'x-credential-identifier': 'forged' },
    });
    expect(syncVerdict(handlerFor(), ctx)).toBeUndefined();
    expect(ctx.headers['x-consumer-id']).toBe(bob.id);
    expect(ctx.headers['x-consumer-custom-id']).toBeUndefined();
    expect(ctx.headers['x-consumer-username']).toBe('bob');
    expect(ctx.headers['x-credential-identifier']).toBe(bob.keyauth_credentials[0]!.id);
    expect(ctx.headers['x-anonymous-consumer']).toBeUndefined();
  });

  it('authenticates a key in the query string; headers are case-insensitive, query names are not', () => {
    const h = handlerFor('{ key_names: [X-Api-Key] }');
    const q = request({ query: 'X-Api-Key=alice-key&page=2' });
    expect(syncVerdict(h, q)).toBeUndefined();
    expectAlice(q);
    expect(q.query).toBe('X-Api-Key=alice-key&page=2');
    expect(syncReply(h, request({ query: 'x-api-key=alice-key' })).message).toBe('No API key found in request');
    const hdr = request({ headers: { 'x-api-key': 'alice-key' } });
    expect(syncVerdict(h, hdr)).toBeUndefined();
  });

  it('decodes the query value', () => {
    const ctx = request({ query: 'apikey=alice%2Dkey' });
    expect(syncVerdict(handlerFor(), ctx)).toBeUndefined();
    expectAlice(ctx);
  });

  it('answers 401 "No API key found in request" with WWW-Authenticate: Key, or Key realm="..."', () => {
    const r = syncReply(handlerFor(), request());
    expect(r.status).toBe(401);
    expect(r.message).toBe('No API key found in request');
    expect(www(r)).toBe('Key');
    expect(www(syncReply(handlerFor('{ realm: orders }'), request()))).toBe('Key realm="orders"');
  });

  it('treats an empty key, or a bare ?apikey flag, as no key', () => {
    expect(syncReply(handlerFor(), request({ headers: { apikey: '' } })).message).toBe('No API key found in request');
    expect(syncReply(handlerFor(), request({ query: 'apikey=' })).message).toBe('No API key found in request');
    expect(syncReply(handlerFor(), request({ query: 'apikey' })).message).toBe('No API key found in request');
  });

  it('answers 401 "Unauthorized" for an unknown key, with the challenge', () => {
    const r = syncReply(handlerFor('{ realm: orders }'), request({ headers: { apikey: 'nope' } }));
    expect(r).toMatchObject({ status: 401, message: 'Unauthorized' });
    expect(www(r)).toBe('Key realm="orders"');
  });

  it('refuses a key whose ttl has run out since the config was loaded', () => {
    const loadedLongAgo = new ConsumerIndex(BASE.consumers, Date.now() - 10_000);
    const h = handlerFor('{}', makeEnv(loadedLongAgo));
    expect(syncReply(h, request({ headers: { apikey: 'bob-short-lived' } })).message).toBe('Unauthorized');
    expect(syncVerdict(h, request({ headers: { apikey: 'bob-key' } }))).toBeUndefined();
    const fresh = handlerFor('{}', makeEnv(new ConsumerIndex(BASE.consumers, Date.now())));
    expect(syncVerdict(fresh, request({ headers: { apikey: 'bob-short-lived' } }))).toBeUndefined();
  });

  it('answers 401 "Duplicate API key found" for a repeated header or query argument', () => {
    const h = handlerFor('{ realm: orders }');
    const dupHeader = syncReply(h, request({ headers: { apikey: 'alice-key, bob-key' }, repeated: ['apikey'] }));
    expect(dupHeader).toMatchObject({ status: 401, message: 'Duplicate API key found' });
    expect(www(dupHeader)).toBe('Key realm="orders"');
    // Even the same valid key twice.
    expect(syncReply(h, request({ query: 'apikey=alice-key&apikey=alice-key' })).message).toBe('Duplicate API key found');
    expect(syncReply(h, request({ query: 'apikey&apikey=alice-key' })).message).toBe('Duplicate API key found');
  });

  it("takes the first place that has the name, like Kong: the header over the query, no duplicate across places", () => {
    const ctx = request({ headers: { apikey: 'alice-key' }, query: 'apikey=nope' });
    expect(syncVerdict(handlerFor(), ctx)).toBeUndefined();
    expectAlice(ctx);
    // The header decides even when it is wrong and the query holds a good key.
    expect(syncReply(handlerFor(), request({ headers: { apikey: 'nope' }, query: 'apikey=alice-key' })).message).toBe('Unauthorized');
  });

  it('tries key_names in order; the first name present decides', () => {
    const h = handlerFor('{ key_names: [apikey, x-api-key] }');
    const second = request({ headers: { 'x-api-key': 'alice-key' } });
    expect(syncVerdict(h, second)).toBeUndefined();
    expectAlice(second);
    expect(syncReply(h, request({ headers: { apikey: 'nope', 'x-api-key': 'alice-key' } })).message).toBe('Unauthorized');
    // A repeated second name is not looked at once the first name gave a key.
    expect(syncVerdict(h, request({ headers: { apikey: 'alice-key', 'x-api-key': 'a, b' }, repeated: ['x-api-key'] }))).toBeUndefined();
  });

  it('matches a key name with underscores against the dashed header, as OpenResty does', () => {
    const ctx = request({ headers: { 'api-key': 'alice-key' } });
    expect(syncVerdict(handlerFor('{ key_names: [api_key] }'), ctx)).toBeUndefined();
    expectAlice(ctx);
  });

  it('looks only where key_in_header / key_in_query allow', () => {
    expect(syncReply(handlerFor('{ key_in_header: false }'), request({ headers: { apikey: 'alice-key' } })).message).toBe(
      'No API key found in request',
    );
    expect(syncReply(handlerFor('{ key_in_query: false }'), request({ query: 'apikey=alice-key' })).message).toBe(
      'No API key found in request',
    );
  });

  it('skips OPTIONS requests only with run_on_preflight: false', () => {
    expect(syncVerdict(handlerFor('{ run_on_preflight: false }'), request({ method: 'OPTIONS' }))).toBeUndefined();
    expect(syncReply(handlerFor(), request({ method: 'OPTIONS' })).status).toBe(401);
    expect(syncReply(handlerFor('{ run_on_preflight: false }'), request({ method: 'GET' })).status).toBe(401);
  });

  it('builds its replies once: the reject path returns the same objects every time', () => {
    const h = handlerFor();
    expect(syncReply(h, request())).toBe(syncReply(h, request()));
    expect(syncReply(h, request({ headers: { apikey: 'x' } }))).toBe(syncReply(h, request({ headers: { apikey: 'y' } })));
  });
});

describe('key-auth: hide_credentials', () => {
  it('removes the header and the query argument of the matched name, and only those', () => {
    const h = handlerFor('{ hide_credentials: true, key_names: [apikey, x-api-key] }');
    const ctx = request({ headers: { apikey: 'alice-key', 'x-api-key': 'other' }, query: 'a=1&apikey=nope&b=%20&apikey=x' });
    expect(syncVerdict(h, ctx)).toBeUndefined();
    expectAlice(ctx);
    expect(ctx.headers['apikey']).toBeUndefined();
    expect(ctx.headers['x-api-key']).toBe('other');
    expect(ctx.query).toBe('a=1&b=%20');
  });

  it('removes the key from the query when it came from there', () => {
    const ctx = request({ query: 'apikey=alice-key&page=2' });
    expect(syncVerdict(handlerFor('{ hide_credentials: true }'), ctx)).toBeUndefined();
    expect(ctx.query).toBe('page=2');
  });

  it('keeps the credential without hide_credentials', () => {
    const ctx = request({ headers: { apikey: 'alice-key' } });
    expect(syncVerdict(handlerFor(), ctx)).toBeUndefined();
    expect(ctx.headers['apikey']).toBe('alice-key');
  });
});

describe('key-auth: key_in_body', () => {
  const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
  const JSONH = { 'content-type': 'application/json; charset=utf-8' };

  it('finds the key in a form body (reading it asynchronously)', async () => {
    const ctx = request({ method: 'POST', headers: FORM, body: 'qty=3&apikey=alice-key' });
    expect(await asyncVerdict(handlerFor('{ key_in_body: true }'), ctx)).toBeUndefined();
    expectAlice(ctx);
    expect(ctx.body?.toString()).toBe('qty=3&apikey=alice-key');
  });

  it('finds the key in a JSON object body', async () => {
    const ctx = request({ method: 'POST', headers: JSONH, body: '{"qty":3,"apikey":"alice-key"}' });
    expect(await asyncVerdict(handlerFor('{ key_in_body: true }'), ctx)).toBeUndefined();
    expectAlice(ctx);
  });

  it('answers Duplicate for a repeated form field or a JSON array; ignores a JSON number', async () => {
    const h = handlerFor('{ key_in_body: true }');
    const form = (await asyncVerdict(h, request({ method: 'POST', headers: FORM, body: 'apikey=a&apikey=b' }))) as LocalReply;
    expect(form.message).toBe('Duplicate API key found');
    const arr = (await asyncVerdict(h, request({ method: 'POST', headers: JSONH, body: '{"apikey":["alice-key"]}' }))) as LocalReply;
    expect(arr.message).toBe('Duplicate API key found');
    const num = (await asyncVerdict(h, request({ method: 'POST', headers: JSONH, body: '{"apikey":12}' }))) as LocalReply;
    expect(num.message).toBe('No API key found in request');
  });

  it('treats malformed JSON, a JSON array body or inherited names as no fields', async () => {
    const h = handlerFor('{ key_in_body: true, key_names: [apikey, constructor] }');
    for (const body of ['{"apikey":', '["alice-key"]', '{}']) {
      const r = (await asyncVerdict(h, request({ method: 'POST', headers: JSONH, body }))) as LocalReply;
      expect(r.message).toBe('No API key found in request');
    }
  });

  it('stays synchronous without a body, with another content type, or once the key was found earlier', () => {
    const h = handlerFor('{ key_in_body: true }');
    expect(syncReply(h, request({ method: 'GET', headers: FORM })).message).toBe('No API key found in request');
    const other = request({ method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'apikey=alice-key' });
    expect(syncReply(h, other).message).toBe('No API key found in request');
    expect(other.reads.count).toBe(0);
    const header = request({ method: 'POST', headers: { ...FORM, apikey: 'alice-key' }, body: 'apikey=zzz' });
    expect(syncVerdict(h, header)).toBeUndefined();
    expect(header.reads.count).toBe(0);
  });

  it('with hide_credentials, strips the form field leaving every other byte as sent', async () => {
    const ctx = request({ method: 'POST', headers: FORM, body: 'a=%41+b&apikey=alice-key&z=%zz' });
    expect(await asyncVerdict(handlerFor('{ key_in_body: true, hide_credentials: true }'), ctx)).toBeUndefined();
    expectAlice(ctx);
    expect(ctx.body?.toString()).toBe('a=%41+b&z=%zz');
  });

  it('with hide_credentials, re-serialises a JSON body without the field', async () => {
    const ctx = request({ method: 'POST', headers: JSONH, body: '{ "apikey": "alice-key", "qty": 3 }' });
    expect(await asyncVerdict(handlerFor('{ key_in_body: true, hide_credentials: true }'), ctx)).toBeUndefined();
    expect(JSON.parse(ctx.body!.toString())).toEqual({ qty: 3 });
  });

  it('with hide_credentials, also strips the body field when the key came from the header (Kong)', async () => {
    const ctx = request({ method: 'POST', headers: { ...FORM, apikey: 'alice-key' }, body: 'apikey=alice-key&n=1' });
    expect(await asyncVerdict(handlerFor('{ key_in_body: true, hide_credentials: true }'), ctx)).toBeUndefined();
    expectAlice(ctx);
    expect(ctx.headers['apikey']).toBeUndefined();
    expect(ctx.body?.toString()).toBe('n=1');
  });

  it('does not read a body announced larger than the limit (no fields, like Kong with a buffered-to-file body)', async () => {
    const big = `apikey=alice-key&pad=${'x'.repeat(KEY_AUTH_BODY_LIMIT)}`;
    const ctx = request({ method: 'POST', headers: FORM, body: big });
    const r = (await asyncVerdict(handlerFor('{ key_in_body: true }'), ctx)) as LocalReply;
    expect(r.message).toBe('No API key found in request');
    expect(ctx.reads.count).toBe(0);
    expect(ctx.body).toBeNull();
  });

  it('answers 413 when a chunked body outgrows the limit (it can no longer be proxied)', async () => {
    const big = `pad=${'x'.repeat(KEY_AUTH_BODY_LIMIT)}&apikey=alice-key`;
    const ctx = request({ method: 'POST', headers: FORM, body: big, chunked: true });
    const r = (await asyncVerdict(handlerFor('{ key_in_body: true, anonymous: anon }'), ctx)) as LocalReply;
    expect(r).toMatchObject({ status: 413, message: 'Request size limit exceeded' });
  });
});

describe('key-auth: anonymous (logical OR) and AND', () => {
  it('lets a request without a valid key through as the anonymous consumer (by username or id)', () => {
    for (const who of ['anon', anon.id]) {
      const ctx = request({ headers: { apikey: 'nope', 'x-consumer-username': 'forged', 'x-credential-identifier': 'forged' } });
      expect(syncVerdict(handlerFor(`{ anonymous: "${who}" }`), ctx)).toBeUndefined();
      expect(ctx.consumer?.id).toBe(anon.id);
      expect(ctx.credential).toBeNull();
      expect(ctx.headers['x-consumer-id']).toBe(anon.id);
      expect(ctx.headers['x-consumer-username']).toBe('anon');
      expect(ctx.headers['x-credential-identifier']).toBeUndefined();
      expect(ctx.headers['x-anonymous-consumer']).toBe('true');
    }
  });

  it('maps a duplicate key to anonymous too', () => {
    const ctx = request({ query: 'apikey=a&apikey=b' });
    expect(syncVerdict(handlerFor('{ anonymous: anon }'), ctx)).toBeUndefined();
    expect(ctx.consumer?.id).toBe(anon.id);
  });

  it('still authenticates a valid key when anonymous is set', () => {
    const ctx = request({ headers: { apikey: 'alice-key' } });
    expect(syncVerdict(handlerFor('{ anonymous: anon }'), ctx)).toBeUndefined();
    expectAlice(ctx);
  });

  it('answers 500 and logs when the anonymous consumer does not exist', () => {
    const t = makeEnv();
    const r = syncReply(handlerFor('{ anonymous: ghost }', t), request());
    expect(r).toEqual({ status: 500, message: "anonymous consumer ghost is configured but doesn't exist" });
    expect(t.errors).toEqual(["anonymous consumer ghost is configured but doesn't exist"]);
  });

  it('skips when an earlier plugin already found a credential (OR), but not without anonymous (AND)', () => {
    const authenticated = () => {
      const ctx = request();
      ctx.credential = { id: 'c1', identifier: 'someone' };
      ctx.consumer = { id: bob.id, username: 'bob', custom_id: null, groups: [] };
      return ctx;
    };
    const or = authenticated();
    expect(syncVerdict(handlerFor('{ anonymous: anon }'), or)).toBeUndefined();
    expect(or.consumer?.id).toBe(bob.id);
    expect(syncReply(handlerFor(), authenticated()).message).toBe('No API key found in request');
  });
});

describe('key-auth in a route chain', () => {
  it('a consumer-scoped plugin applies once key-auth has identified that consumer', () => {
    const config = load(`${HEAD}${CONSUMERS}services:
  - name: s
    url: http://127.0.0.1:9
    routes:
      - name: r
        paths: [/]
        plugins:
          - name: key-auth
plugins:
  - name: request-termination
    route: r
    consumer: bob
    config: { status_code: 403, message: suspended }
`);
    const { env } = makeEnv(new ConsumerIndex(config.consumers));
    const pipelines = compilePipelines(config, pluginDefinitions, () => env);
    const chain = pipelines.forRoute(config.routes[0]!);
    expect(runAccess(chain, request({ headers: { apikey: 'bob-key' } }))).toMatchObject({ status: 403, body: '{"message":"suspended"}' });
    expect(runAccess(chain, request({ headers: { apikey: 'alice-key' } }))).toBeUndefined();
    expect(runAccess(chain, request())).toMatchObject({ status: 401, message: 'No API key found in request' });
  });
});
