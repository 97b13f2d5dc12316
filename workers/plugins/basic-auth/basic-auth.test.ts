/**
 * basic-auth: config through the real loader, and the handler driven through our
 * RequestContext with a ConsumerIndex of the loaded consumers. Stored passwords in all
 * three forms (scrypt, Kong's sha1, plaintext). verifyPassword is wrapped (not replaced)
 * to count how often the slow path really runs. Kong source:
 * kong/plugins/basic-auth/{schema,access}.lua.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import { loadConfigText } from '../../../src/config/load.js';
import type { GatewayConfig } from '../../../src/config/types.js';
import * as passwords from '../../../src/shared/password-hash.js';
import { ConsumerIndex } from '../../auth/consumer-index.js';
import { RequestContext } from '../../http/request-context.js';
import type { LocalReply, PluginEnv, PluginHandler, Verdict } from '../../pipeline/types.js';
import { pluginDefinitions } from '../index.js';
import { pluginSchemas } from '../registry-schemas.js';
import { MAX_PENDING_VERIFICATIONS } from './handler.js';
import { basicAuth } from './index.js';
import type { BasicAuthConfig } from './schema.js';

vi.mock('../../../src/shared/password-hash.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../../src/shared/password-hash.js')>();
  return { ...real, verifyPassword: vi.fn(real.verifyPassword) };
});
const verifyCalls = () => vi.mocked(passwords.verifyPassword).mock.calls.length;

const HEAD = '_format_version: "3.0"\n';
const BOB_ID = '2b1a7c4e-0d3f-4e5a-9b8c-7d6e5f4a3b2c';
const BOB_SHA1 = createHash('sha1').update('b0b-pass').update(BOB_ID).digest('hex');
// ln=10 keeps the test fast; the real default is 15.
const CAROL_SCRYPT = await passwords.hashPassword('carol pass', 10);

const CONSUMERS = `consumers:
  - username: alice
    custom_id: alice-123
    basicauth_credentials:
      - { id: 0c9a8b7d-6e5f-4a3b-2c1d-0e9f8a7b6c5d, username: alice@example.com, password: "open:se:same" }
  - username: bob
    id: ${BOB_ID}
    basicauth_credentials:
      - { username: bob, password: "${BOB_SHA1}" }
  - username: carol
    basicauth_credentials:
      - { username: carol, password: "${CAROL_SCRYPT}" }
  - username: dave
    basicauth_credentials:
      - { username: dave, password: "pass\\uFFFD" }
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
const byName = (n: string) => BASE.consumers.find((c) => c.username === n)!;
const alice = byName('alice');
const anon = byName('anon');

function makeEnv(): { env: PluginEnv; errors: string[] } {
  const errors: string[] = [];
  const env: PluginEnv = {
    workerId: 0,
    log: { info() {}, warn() {}, error: (_o, m) => void errors.push(m ?? '') },
    consumers: new ConsumerIndex(BASE.consumers),
  };
  return { env, errors };
}

function handlerFor(config = '{}', t = makeEnv()): PluginHandler {
  const conf = load(`${HEAD}plugins:\n  - name: basic-auth\n    config: ${config}\n`).plugins[0]!.config as BasicAuthConfig;
  return basicAuth.create(conf, t.env);
}

const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64');
const basic = (user: string, pass: string) => `Basic ${b64(`${user}:${pass}`)}`;

function request(headers: Record<string, string> = {}, repeated: string[] | null = null): RequestContext {
  return new RequestContext(
    '0123456789abcdef0123456789abcdef',
    'GET',
    '/orders',
    '',
    Object.assign(Object.create(null), { host: 'api.example.com' }, headers),
    repeated,
    'api.example.com',
    8000,
    'http',
    '10.0.0.7',
    '10.0.0.7',
    0,
  );
}

function syncVerdict(h: PluginHandler, ctx: RequestContext): Verdict {
  const v = h.access!(ctx);
  if (v instanceof Promise) throw new Error('expected a synchronous verdict');
  return v;
}

async function verdict(h: PluginHandler, ctx: RequestContext): Promise<Verdict> {
  return h.access!(ctx);
}

const www = (r: Verdict) => r?.headers?.find(([k]) => k.toLowerCase() === 'www-authenticate')?.[1];

async function expectUnauthorized(h: PluginHandler, ctx: RequestContext, realm = 'service'): Promise<void> {
  const r = (await verdict(h, ctx)) as LocalReply;
  expect(r).toMatchObject({ status: 401, message: 'Unauthorized' });
  expect(www(r)).toBe(`Basic realm="${realm}"`);
  expect(ctx.consumer).toBeNull();
}

// ---------------------------------------------------------------------------------------

describe('basic-auth config (Kong schema.lua, through the loader)', () => {
  it("fills Kong's defaults", () => {
    const p = load(`${HEAD}plugins:\n  - name: basic-auth\n`).plugins[0]!;
    expect(p.config).toEqual({ anonymous: null, hide_credentials: false, realm: 'service' });
    expect(p.protocols).toEqual(['grpc', 'grpcs', 'http', 'https']);
  });

  it('is registered with Kong PRIORITY 1100, not scoped to consumers', () => {
    expect(pluginSchemas.get('basic-auth')).toMatchObject({ priority: 1100, noConsumer: true });
    expect(pluginDefinitions.get('basic-auth')?.priority).toBe(1100);
  });

  it('refuses unknown fields, an empty realm, and a realm with control characters', () => {
    expect(issues(`${HEAD}plugins:\n  - name: basic-auth\n    config: { run_on_preflight: false }\n`)).toEqual([
      '4:15 plugins[0].config.run_on_preflight: unknown field',
    ]);
    expect(issues(`${HEAD}plugins:\n  - name: basic-auth\n    config: { realm: "" }\n`)).toEqual([
      '4:22 plugins[0].config.realm: length must be at least 1',
    ]);
    expect(issues(`${HEAD}plugins:\n  - name: basic-auth\n    config: { realm: "a\\nb" }\n`)).toEqual([
      '4:22 plugins[0].config.realm: must not contain control characters',
    ]);
  });
});

describe('basic-auth: credentials', () => {
  it('answers 401 Unauthorized with WWW-Authenticate: Basic realm="service" without credentials', async () => {
    await expectUnauthorized(handlerFor(), request());
    await expectUnauthorized(handlerFor('{ realm: orders }'), request(), 'orders');
  });

  it('authenticates a plaintext-stored password containing colons; sets the consumer headers', async () => {
    const ctx = request({ authorization: basic('alice@example.com', 'open:se:same'), 'x-consumer-id': 'forged', 'x-anonymous-consumer': 'true' });
    expect(await verdict(handlerFor(), ctx)).toBeUndefined();
    expect(ctx.consumer?.id).toBe(alice.id);
    expect(ctx.credential).toEqual({ id: alice.basicauth_credentials[0]!.id, identifier: 'alice@example.com' });
    expect(ctx.headers['x-consumer-id']).toBe(alice.id);
    expect(ctx.headers['x-consumer-custom-id']).toBe('alice-123');
    expect(ctx.headers['x-consumer-username']).toBe('alice');
    expect(ctx.headers['x-credential-identifier']).toBe('alice@example.com');
    expect(ctx.headers['x-anonymous-consumer']).toBeUndefined();
    expect(ctx.headers['authorization']).toBe(basic('alice@example.com', 'open:se:same'));
  });

  it("authenticates against Kong's sha1(password .. consumer_id) form", async () => {
    const ctx = request({ authorization: basic('bob', 'b0b-pass') });
    expect(await verdict(handlerFor(), ctx)).toBeUndefined();
    expect(ctx.consumer?.id).toBe(BOB_ID);
    await expectUnauthorized(handlerFor(), request({ authorization: basic('bob', 'b0b-pasS') }));
  });

  it('authenticates against an scrypt hash, and refuses a wrong password', async () => {
    const ok = request({ authorization: basic('carol', 'carol pass') });
    expect(await verdict(handlerFor(), ok)).toBeUndefined();
    expect(ok.headers['x-consumer-username']).toBe('carol');
    await expectUnauthorized(handlerFor(), request({ authorization: basic('carol', 'carol pas') }));
    await expectUnauthorized(handlerFor(), request({ authorization: basic('carol', '') }));
  });

  it('refuses an unknown username without any password verification', async () => {
    const before = verifyCalls();
    const h = handlerFor();
    expect(syncVerdict(h, request({ authorization: basic('mallory', 'x') }))).toMatchObject({ status: 401, message: 'Unauthorized' });
    expect(verifyCalls()).toBe(before);
  });

  it("accepts Kong's header variants: lowercase scheme, no space, leading spaces, unpadded base64, trailing spaces", async () => {
    const enc = b64('bob:b0b-pass');
    for (const header of [`basic ${enc}`, `Basic${enc}`, `  Basic   ${enc}`, `Basic ${enc.replace(/=+$/, '')}`, `Basic ${enc}  `]) {
      const ctx = request({ authorization: header });
      expect(await verdict(handlerFor(), ctx), header).toBeUndefined();
      expect(ctx.consumer?.id).toBe(BOB_ID);
    }
  });

  it('answers 401 for another scheme, malformed base64, no colon, or an empty username', async () => {
    const h = handlerFor();
    for (const header of [
      `Bearer ${b64('bob:b0b-pass')}`,
      'Basic',
      'Basic !!!!',
      `Basic ${b64('bob:b0b-pass').slice(0, 5)}`, // 4n+1 characters
      `Basic ${b64('bob')}`,
      `Basic ${b64(':b0b-pass')}`,
    ]) {
      await expectUnauthorized(h, request({ authorization: header }));
    }
  });

  it('refuses a password that is not valid UTF-8 instead of matching its replacement characters', async () => {
    // dave's stored password ends in U+FFFD; a lone 0xff byte must not decode to it.
    const raw = Buffer.concat([Buffer.from('dave:pass'), Buffer.from([0xff])]);
    await expectUnauthorized(handlerFor(), request({ authorization: `Basic ${b64(raw)}` }));
    expect(await verdict(handlerFor(), request({ authorization: basic('dave', 'pass\uFFFD') }))).toBeUndefined();
  });

  it('answers 401 for a repeated Authorization (or Proxy-Authorization) header', async () => {
    // Padded base64: decoding stops at the first '=', so the joined value alone would pass.
    const one = basic('carol', 'carol pass');
    expect(one.endsWith('==')).toBe(true);
    expect(await verdict(handlerFor(), request({ authorization: `${one}, Basic x` }))).toBeUndefined();
    await expectUnauthorized(handlerFor(), request({ authorization: `${one}, Basic x` }, ['authorization']));
    await expectUnauthorized(handlerFor(), request({ 'proxy-authorization': `${one}, Basic x` }, ['proxy-authorization']));
  });

  it("splits like Kong's ([^:]+):(.*): leading colons are skipped, the password ends at a newline", async () => {
    const lead = request({ authorization: `Basic ${b64('::bob:b0b-pass')}` });
    expect(await verdict(handlerFor(), lead)).toBeUndefined();
    expect(lead.consumer?.id).toBe(BOB_ID);
    const nl = request({ authorization: `Basic ${b64('bob:b0b-pass\nignored')}` });
    expect(await verdict(handlerFor(), nl)).toBeUndefined();
    expect(nl.consumer?.id).toBe(BOB_ID);
  });

  it('tries Proxy-Authorization first, and Authorization only when the proxy credential names no known user', async () => {
    const h = handlerFor();
    const proxyWins = request({ 'proxy-authorization': basic('bob', 'b0b-pass'), authorization: 'Bearer upstream-token' });
    expect(await verdict(h, proxyWins)).toBeUndefined();
    expect(proxyWins.consumer?.id).toBe(BOB_ID);

    const fallBack = request({ 'proxy-authorization': basic('nobody', 'x'), authorization: basic('bob', 'b0b-pass') });
    expect(await verdict(h, fallBack)).toBeUndefined();
    expect(fallBack.consumer?.id).toBe(BOB_ID);

    // A known proxy user with a wrong password does not fall back (Kong).
    await expectUnauthorized(h, request({ 'proxy-authorization': basic('bob', 'wrong'), authorization: basic('bob', 'b0b-pass') }));
  });
});

describe('basic-auth: hide_credentials', () => {
  it('removes Authorization before proxying', async () => {
    const ctx = request({ authorization: basic('bob', 'b0b-pass') });
    expect(await verdict(handlerFor('{ hide_credentials: true }'), ctx)).toBeUndefined();
    expect(ctx.headers['authorization']).toBeUndefined();
  });

  it('removes Proxy-Authorization, and keeps Authorization when the proxy credential authenticated', async () => {
    const ctx = request({ 'proxy-authorization': basic('bob', 'b0b-pass'), authorization: 'Bearer upstream-token' });
    expect(await verdict(handlerFor('{ hide_credentials: true }'), ctx)).toBeUndefined();
    expect(ctx.headers['proxy-authorization']).toBeUndefined();
    expect(ctx.headers['authorization']).toBe('Bearer upstream-token');
  });
});

describe('basic-auth: verification cache', () => {
  it('verifies once; later requests with the same credentials are answered synchronously', async () => {
    const h = handlerFor();
    const before = verifyCalls();
    expect(await verdict(h, request({ authorization: basic('carol', 'carol pass') }))).toBeUndefined();
    expect(verifyCalls()).toBe(before + 1);
    for (let i = 0; i < 3; i++) {
      const ctx = request({ authorization: basic('carol', 'carol pass') });
      expect(syncVerdict(h, ctx)).toBeUndefined();
      expect(ctx.headers['x-consumer-username']).toBe('carol');
      expect(ctx.headers['x-credential-identifier']).toBe('carol');
    }
    expect(verifyCalls()).toBe(before + 1);
    // Another instance (another worker or config generation) has its own cache.
    expect(await verdict(handlerFor(), request({ authorization: basic('carol', 'carol pass') }))).toBeUndefined();
    expect(verifyCalls()).toBe(before + 2);
  });

  it('never caches a failure, nor lets a cached success vouch for another password', async () => {
    const h = handlerFor();
    expect(await verdict(h, request({ authorization: basic('carol', 'carol pass') }))).toBeUndefined();
    const before = verifyCalls();
    await expectUnauthorized(h, request({ authorization: basic('carol', 'carol pass ') }));
    await expectUnauthorized(h, request({ authorization: basic('carol', 'carol pass ') }));
    expect(verifyCalls()).toBe(before + 2);
  });

  it('shares one verification between concurrent requests with the same credentials', async () => {
    const h = handlerFor();
    const before = verifyCalls();
    const ctxs = Array.from({ length: 5 }, () => request({ authorization: basic('carol', 'carol pass') }));
    const results = await Promise.all(ctxs.map((c) => verdict(h, c)));
    expect(results).toEqual([undefined, undefined, undefined, undefined, undefined]);
    expect(ctxs.every((c) => c.headers['x-consumer-username'] === 'carol')).toBe(true);
    expect(verifyCalls()).toBe(before + 1);
  });

  it(`answers 503 past ${MAX_PENDING_VERIFICATIONS} distinct verifications in flight, and recovers`, async () => {
    const h = handlerFor();
    const inFlight = Array.from({ length: MAX_PENDING_VERIFICATIONS }, (_, i) => verdict(h, request({ authorization: basic('carol', `guess-${i}`) })));
    const busy = syncVerdict(h, request({ authorization: basic('carol', 'carol pass') }));
    expect(busy).toMatchObject({ status: 503, headers: [['Retry-After', '1']] });
    for (const r of await Promise.all(inFlight)) expect(r).toMatchObject({ status: 401 });
    expect(await verdict(h, request({ authorization: basic('carol', 'carol pass') }))).toBeUndefined();
  });
});

describe('basic-auth: anonymous', () => {
  it('lets a failed request through as the anonymous consumer', async () => {
    for (const ctx of [request(), request({ authorization: basic('bob', 'nope') })]) {
      expect(await verdict(handlerFor('{ anonymous: anon }'), ctx)).toBeUndefined();
      expect(ctx.consumer?.id).toBe(anon.id);
      expect(ctx.credential).toBeNull();
      expect(ctx.headers['x-anonymous-consumer']).toBe('true');
      expect(ctx.headers['x-credential-identifier']).toBeUndefined();
    }
  });

  it('answers 500 and logs when the anonymous consumer does not exist', async () => {
    const t = makeEnv();
    const r = await verdict(handlerFor('{ anonymous: ghost }', t), request());
    expect(r).toEqual({ status: 500, message: "anonymous consumer ghost is configured but doesn't exist" });
    expect(t.errors).toHaveLength(1);
  });

  it('skips when an earlier plugin authenticated (OR); runs without anonymous (AND)', async () => {
    const earlier = () => {
      const ctx = request();
      ctx.credential = { id: 'k1', identifier: 'k1' };
      return ctx;
    };
    expect(syncVerdict(handlerFor('{ anonymous: anon }'), earlier())).toBeUndefined();
    await expectUnauthorized(handlerFor(), earlier());
  });
});
