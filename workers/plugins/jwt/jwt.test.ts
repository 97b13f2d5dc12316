/**
 * jwt: the config a Kong 3.x user writes (through the real loader) and what the handler
 * answers, driven through our RequestContext without a listener. Tokens are signed by jose
 * here, with RSA and EC keys generated for the run. Kong sources:
 * kong/plugins/jwt/{schema,handler,jwt_parser}.lua (3.x).
 */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { createServer } from 'node:http';
import { CompactSign, SignJWT, type JWTPayload } from 'jose';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadConfigText } from '../../../src/config/load.js';
import type { GatewayConfig } from '../../../src/config/types.js';
import { ConsumerIndex } from '../../auth/consumer-index.js';
import { RequestContext } from '../../http/request-context.js';
import type { LocalReply, PluginEnv, PluginHandler, Verdict } from '../../pipeline/types.js';
import { pluginDefinitions } from '../index.js';
import { pluginSchemas } from '../registry-schemas.js';
import { claimHeaderValue, headerSafe } from './claims.js';
import { decodeToken, kongBase64Decode } from './decode.js';
import { MAX_TOKEN_LENGTH, SHARED_CLAIMS, SHARED_TOKEN } from './handler.js';
import { jwt } from './index.js';
import { cookieValue } from './token-sources.js';

// --- keys and credentials -------------------------------------------------------------------

const SECRET = 'alice-hs256-secret-that-is-long-enough';
const RAW_B64_SECRET = 'secret bytes for dave';
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const rsaPem = rsa.publicKey.export({ type: 'spki', format: 'pem' }) as string;
const attacker = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const ecPem = ec.publicKey.export({ type: 'spki', format: 'pem' }) as string;
const enc = (s: string) => new TextEncoder().encode(s);

const CONSUMERS = [
  { username: 'alice', custom_id: 'cust-alice', jwt_secrets: [{ key: 'alice-iss', secret: SECRET }] },
  { username: 'bob', jwt_secrets: [{ key: 'bob-rsa', algorithm: 'RS256', rsa_public_key: rsaPem }] },
  { username: 'carol', jwt_secrets: [{ key: 'carol-ec', algorithm: 'ES256', rsa_public_key: ecPem }] },
  { username: 'dave', jwt_secrets: [{ key: 'dave-b64', secret: Buffer.from(RAW_B64_SECRET).toString('base64') }] },
  { username: 'erin', jwt_secrets: [{ key: 'erin-bad64', secret: 'not base64 at all!' }] },
  { username: 'anon', custom_id: 'anon-custom' },
];

// --- config and handler -------------------------------------------------------------------------

function load(text: string): GatewayConfig {
  const r = loadConfigText(text, 'kong.yml', {});
  if (!r.ok) throw new Error(r.issues.map((i) => `${i.line}:${i.col} ${i.path}: ${i.message}`).join('\n'));
  return r.config;
}

function issues(text: string): string[] {
  const r = loadConfigText(text, 'kong.yml', {});
  if (r.ok) throw new Error('expected the config to be refused');
  return r.issues.map((i) => `${i.path}: ${i.message}`);
}

/** A whole declarative config as JSON (YAML's subset), so PEMs need no YAML quoting. */
function configText(pluginConfig: unknown): string {
  return JSON.stringify({ _format_version: '3.0', consumers: CONSUMERS, plugins: [{ name: 'jwt', config: pluginConfig }] });
}

interface Setup {
  handler: PluginHandler;
  config: Record<string, unknown>;
  logs: Array<{ level: string; msg: string | undefined }>;
}

function setup(pluginConfig: Record<string, unknown> = {}): Setup {
  const config = load(configText(pluginConfig));
  const logs: Setup['logs'] = [];
  const env: PluginEnv = {
    workerId: 0,
    log: {
      info: (_o, msg) => logs.push({ level: 'info', msg }),
      warn: (_o, msg) => logs.push({ level: 'warn', msg }),
      error: (_o, msg) => logs.push({ level: 'error', msg }),
    },
    consumers: new ConsumerIndex(config.consumers),
  };
  const pluginConfigOut = config.plugins[0]!.config as Record<string, unknown>;
  return { handler: jwt.create(pluginConfigOut as never, env), config: pluginConfigOut, logs };
}

interface RequestOpts {
  method?: string;
  query?: string;
  headers?: Record<string, string>;
  repeated?: string[];
}

function request(o: RequestOpts = {}): RequestContext {
  return new RequestContext(
    '0123456789abcdef0123456789abcdef',
    o.method ?? 'GET',
    '/orders',
    o.query ?? '',
    { host: 'api.example.com', ...o.headers },
    o.repeated ?? null,
    'api.example.com',
    8000,
    'http',
    '10.0.0.7',
    '10.0.0.7',
    0,
  );
}

const bearer = (token: string, extra: RequestOpts = {}) => request({ ...extra, headers: { authorization: `Bearer ${token}`, ...extra.headers } });

async function run(h: PluginHandler, ctx: RequestContext): Promise<Verdict> {
  return await h.access!(ctx);
}

/** The 401 Kong sends: exact body bytes and challenge. */
function expect401(v: Verdict, body: unknown, challenge = 'Bearer error="invalid_token"'): void {
  expect(v).toBeDefined();
  const r = v as LocalReply;
  expect(r.status).toBe(401);
  expect(JSON.parse(String(r.body))).toEqual(body);
  expect(r.message).toBeUndefined();
  expect(r.headers).toEqual([['WWW-Authenticate', challenge]]);
}

function expectAuthenticated(ctx: RequestContext, username: string, key: string): void {
  expect(ctx.consumer?.username).toBe(username);
  expect(ctx.credential?.identifier).toBe(key);
  expect(ctx.headers['x-consumer-username']).toBe(username);
  expect(ctx.headers['x-consumer-id']).toBe(ctx.consumer!.id);
  expect(ctx.headers['x-credential-identifier']).toBe(key);
  expect(ctx.headers['x-anonymous-consumer']).toBeUndefined();
}

// --- tokens ------------------------------------------------------------------------------------

const now = () => Math.floor(Date.now() / 1000);

function hs(claims: JWTPayload, opts: { secret?: string | Uint8Array; alg?: string; header?: Record<string, unknown> } = {}): Promise<string> {
  const secret = opts.secret ?? SECRET;
  return new SignJWT(claims)
    .setProtectedHeader({ alg: opts.alg ?? 'HS256', typ: 'JWT', ...opts.header })
    .sign(typeof secret === 'string' ? enc(secret) : secret);
}

function signWith(key: KeyObject, alg: string, claims: JWTPayload, header: Record<string, unknown> = {}): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg, typ: 'JWT', ...header }).sign(key);
}

const b64u = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');
/** A token assembled by hand: any header, any claims, any signature text. */
const raw = (header: unknown, claims: unknown, sig = '') => `${b64u(header)}.${b64u(claims)}.${sig}`;

afterEach(() => {
  vi.useRealTimers();
});

// =================================================================================================

describe('jwt config (Kong 3.x schema.lua, through the loader)', () => {
  it("fills Kong's defaults, and ours keep Kong's behaviour", () => {
    const p = load(`_format_version: "3.0"\nplugins:\n  - name: jwt\n`).plugins[0]!;
    expect(p.config).toEqual({
      uri_param_names: ['jwt'],
      cookie_names: [],
      header_names: ['authorization'],
      key_claim_name: 'iss',
      secret_is_base64: false,
      claims_to_verify: null,
      anonymous: null,
      run_on_preflight: true,
      maximum_expiration: 0,
      realm: null,
      leeway: 0,
      allowed_issuers: null,
      allowed_audiences: null,
      required_claims: null,
      claims_to_headers: null,
    });
    expect(p.protocols).toEqual(['grpc', 'grpcs', 'http', 'https']);
  });

  it('needs exp in claims_to_verify when maximum_expiration is set, with Kong\'s message', () => {
    expect(issues(configText({ maximum_expiration: 60, claims_to_verify: ['nbf'] }))).toEqual([
      'plugins[0].config.claims_to_verify: expected to contain: exp',
    ]);
    expect(issues(configText({ maximum_expiration: 60 }))).toEqual(['plugins[0].config.claims_to_verify: expected to contain: exp']);
    expect(setup({ maximum_expiration: 60, claims_to_verify: ['exp', 'nbf'] }).config['maximum_expiration']).toBe(60);
    expect(issues(configText({ maximum_expiration: -1, claims_to_verify: ['exp'] }))).toEqual([
      'plugins[0].config.maximum_expiration: value should be between 0 and 31536000',
    ]);
  });

  it('accepts only exp and nbf in claims_to_verify', () => {
    expect(issues(configText({ claims_to_verify: ['iat'] }))).toEqual(['plugins[0].config.claims_to_verify[0]: expected one of: exp, nbf']);
  });

  it('cannot be scoped to a consumer (Kong typedefs.no_consumer)', () => {
    const text = JSON.stringify({ _format_version: '3.0', consumers: [{ username: 'x', plugins: [{ name: 'jwt' }] }] });
    expect(issues(text).join('\n')).toContain("plugin 'jwt' cannot be applied to a consumer");
  });

  it('refuses claims_to_headers that would overwrite framing or identity headers, or bad names', () => {
    expect(issues(configText({ claims_to_headers: { sub: 'X-Consumer-ID' } }))).toEqual([
      "plugins[0].config.claims_to_headers.sub: header 'X-Consumer-ID' is reserved and cannot carry a claim",
    ]);
    expect(issues(configText({ claims_to_headers: { sub: 'Host' } }))[0]).toContain("header 'Host' is reserved");
    expect(issues(configText({ claims_to_headers: { sub: 'X Sub' } }))[0]).toContain("bad header name 'X Sub'");
    expect(issues(configText({ claims_to_headers: { sub: 'X-User', name: 'x-user' } }))).toEqual([
      "plugins[0].config.claims_to_headers.name: header 'x-user' already receives another claim",
    ]);
  });

  it('refuses a realm that cannot sit in a quoted header parameter, and empty allow-lists', () => {
    expect(issues(configText({ realm: 'a"b' }))).toEqual(['plugins[0].config.realm: realm must not contain quotes, backslashes or control characters']);
    expect(issues(configText({ allowed_audiences: [] }))).toEqual(['plugins[0].config.allowed_audiences: length must be at least 1']);
    expect(issues(configText({ leeway: 7200 }))).toEqual(['plugins[0].config.leeway: value should be between 0 and 3600']);
  });

  it("registers with Kong 3's PRIORITY 1450 in both lists, no_consumer", () => {
    expect(jwt.priority).toBe(1450);
    expect(pluginDefinitions.get('jwt')).toBe(jwt);
    expect(pluginSchemas.get('jwt')).toMatchObject({ priority: 1450, noConsumer: true, protocols: ['grpc', 'grpcs', 'http', 'https'] });
  });
});

// =================================================================================================

describe('finding the token (Kong order: query, cookies, headers)', () => {
  it("answers 401 {\"message\":\"Unauthorized\"} with a bare `Bearer` challenge when there is none", async () => {
    const { handler } = setup();
    expect401(await run(handler, request()), { message: 'Unauthorized' }, 'Bearer');
    // Not Bearer: not a token.
    expect401(await run(handler, request({ headers: { authorization: 'Basic YWxpY2U6cHc=' } })), { message: 'Unauthorized' }, 'Bearer');
    // Kong's regex is [Bb]earer: BEARER is not matched.
    expect401(await run(handler, request({ headers: { authorization: `BEARER ${await hs({ iss: 'alice-iss' })}` } })), { message: 'Unauthorized' }, 'Bearer');
    // An empty ?jwt= is no token either.
    expect401(await run(handler, request({ query: 'jwt=' })), { message: 'Unauthorized' }, 'Bearer');
  });

  it('sends the body exactly as kong.response.exit does, as JSON with its Content-Type default', async () => {
    const v = (await run(setup().handler, request())) as LocalReply;
    expect(v.body).toBe('{"message":"Unauthorized"}');
    expect(v.contentType).toBeUndefined(); // the runloop's default: application/json; charset=utf-8
  });

  it('adds the realm to both challenges when configured', async () => {
    const { handler } = setup({ realm: 'orders-api' });
    expect401(await run(handler, request()), { message: 'Unauthorized' }, 'Bearer realm="orders-api"');
    expect401(await run(handler, bearer('x.y.z')), { message: 'Bad token; invalid JSON' }, 'Bearer realm="orders-api" error="invalid_token"');
  });

  it('reads the token from the Authorization header (bearer in either case of B), the query and cookies', async () => {
    const token = await hs({ iss: 'alice-iss' });
    const { handler } = setup({ cookie_names: ['session_jwt'] });
    let ctx = request({ headers: { authorization: `bearer ${token}` } });
    expect(await run(handler, ctx)).toBeUndefined();
    expectAuthenticated(ctx, 'alice', 'alice-iss');

    ctx = request({ query: `page=2&jwt=${token}` });
    expect(await run(handler, ctx)).toBeUndefined();
    expectAuthenticated(ctx, 'alice', 'alice-iss');

    ctx = request({ headers: { cookie: `theme=dark; Session_JWT=${token}; other=1` } });
    expect(await run(handler, ctx)).toBeUndefined();
    expectAuthenticated(ctx, 'alice', 'alice-iss');
  });

  it('reads configured header_names and uri_param_names only', async () => {
    const token = await hs({ iss: 'alice-iss' });
    const { handler } = setup({ header_names: ['X-Api-Token'], uri_param_names: ['access_token'] });
    expect(await run(handler, request({ headers: { 'x-api-token': `Bearer ${token}` } }))).toBeUndefined();
    expect(await run(handler, request({ query: `access_token=${token}` }))).toBeUndefined();
    expect401(await run(handler, bearer(token)), { message: 'Unauthorized' }, 'Bearer');
    expect401(await run(handler, request({ query: `jwt=${token}` })), { message: 'Unauthorized' }, 'Bearer');
  });

  it('refuses two different tokens (header + query): "Multiple tokens provided"', async () => {
    const a = await hs({ iss: 'alice-iss', n: 1 });
    const b = await hs({ iss: 'alice-iss', n: 2 });
    const { handler } = setup({ cookie_names: ['t'] });
    expect401(await run(handler, bearer(a, { query: `jwt=${b}` })), { message: 'Multiple tokens provided' });
    expect401(await run(handler, request({ query: `jwt=${a}&jwt=${b}` })), { message: 'Multiple tokens provided' });
    expect401(await run(handler, bearer(a, { headers: { cookie: `t=${b}` } })), { message: 'Multiple tokens provided' });
    // The same token in several places is one token.
    expect(await run(handler, bearer(a, { query: `jwt=${a}`, headers: { cookie: `t=${a}` } }))).toBeUndefined();
  });

  it('refuses an Authorization header sent twice with different tokens (Kong would use the first)', async () => {
    const a = await hs({ iss: 'alice-iss', n: 1 });
    const b = await hs({ iss: 'alice-iss', n: 2 });
    const { handler } = setup();
    // How the listener hands repeated headers over: joined with ", ", name listed as repeated.
    const twice = (x: string, y: string) => request({ headers: { authorization: `Bearer ${x}, Bearer ${y}` }, repeated: ['authorization'] });
    expect401(await run(handler, twice(a, b)), { message: 'Multiple tokens provided' });
    expect(await run(handler, twice(a, a))).toBeUndefined();
  });

  it('calls a bare ?jwt flag "Unrecognizable token" (Kong: the query value is `true`)', async () => {
    expect401(await run(setup().handler, request({ query: 'jwt' })), { message: 'Unrecognizable token' });
  });

  it("parses cookies like nginx's $cookie_: first match, name case-insensitive", () => {
    expect(cookieValue('a=1; jwt=x; jwt=y', 'jwt')).toBe('x');
    expect(cookieValue('A=1;JWT = v ', 'jwt')).toBe('v');
    expect(cookieValue('xjwt=1; jwtx=2', 'jwt')).toBeUndefined();
  });
});

// =================================================================================================

describe('decoding the token (Kong jwt_parser.lua messages)', () => {
  const { handler } = setup();
  const cases: Array<[string, string, string]> = [
    ['one segment', 'abc', 'invalid JSON'],
    ['two segments', `${b64u({ alg: 'HS256' })}.${b64u({ iss: 'alice-iss' })}`, 'invalid JSON'],
    ['header not base64', `%%%.${b64u({ iss: 'alice-iss' })}.sig`, 'invalid JSON'],
    ['header base64 of length 1 mod 4', `eyJhb.${b64u({ iss: 'alice-iss' })}.sig`, 'invalid JSON'],
    ['claims not JSON', `${b64u({ alg: 'HS256' })}.${b64u('{"iss":')}.sig`, 'invalid JSON'],
    ['header without alg', raw({ typ: 'JWT' }, { iss: 'alice-iss' }, 'c2ln'), 'invalid alg'],
    ['header an array', raw([{ alg: 'HS256' }], { iss: 'alice-iss' }, 'c2ln'), 'invalid alg'],
    ['alg not a string', raw({ alg: 256 }, { iss: 'alice-iss' }, 'c2ln'), 'invalid alg'],
    ['alg none', raw({ alg: 'none' }, { iss: 'alice-iss' }), 'invalid alg'],
    ['alg None', raw({ alg: 'None' }, { iss: 'alice-iss' }), 'invalid alg'],
    ['alg NONE', raw({ alg: 'NONE' }, { iss: 'alice-iss' }), 'invalid alg'],
    ['alg hs256 (case matters)', raw({ alg: 'hs256' }, { iss: 'alice-iss' }, 'c2ln'), 'invalid alg'],
    ['claims an array', raw({ alg: 'HS256' }, ['alice-iss'], 'c2ln'), 'invalid claims'],
    ['claims a string', raw({ alg: 'HS256' }, '"alice-iss"', 'c2ln'), 'invalid claims'],
    ['signature not base64', raw({ alg: 'HS256' }, { iss: 'alice-iss' }, 'sig!'), 'invalid signature'],
    ['four segments (the 4th dot stays in the signature)', `${raw({ alg: 'HS256' }, { iss: 'alice-iss' }, 'c2ln')}.c2ln`, 'invalid signature'],
  ];
  for (const [what, token, reason] of cases) {
    it(`${what} -> 401 "Bad token; ${reason}"`, async () => {
      expect401(await run(handler, bearer(token)), { message: `Bad token; ${reason}` });
    });
  }

  it("decodes base64 like Kong: both alphabets, padding optional, stops at '='", () => {
    expect(kongBase64Decode('aGk')?.toString()).toBe('hi');
    expect(kongBase64Decode('aGk=')?.toString()).toBe('hi');
    expect(kongBase64Decode('-_8')).toEqual(Buffer.from([0xfb, 0xff]));
    expect(kongBase64Decode('+/8')).toEqual(Buffer.from([0xfb, 0xff]));
    expect(kongBase64Decode('a')).toBeNull();
    expect(kongBase64Decode('a b')).toBeNull();
    expect(kongBase64Decode('aGk=garbage')?.toString()).toBe('hi');
  });

  it('refuses a token over the size cap before decoding it', async () => {
    const big = await hs({ iss: 'alice-iss', pad: 'x'.repeat(MAX_TOKEN_LENGTH) });
    expect(big.length).toBeGreaterThan(MAX_TOKEN_LENGTH);
    expect401(await run(handler, bearer(big)), { message: 'Bad token; too large' });
    const fits = await hs({ iss: 'alice-iss', pad: 'x'.repeat(MAX_TOKEN_LENGTH / 2) });
    expect(await run(handler, bearer(fits))).toBeUndefined();
  });
});

// =================================================================================================

describe('credential lookup, algorithm and signature', () => {
  it('needs the key claim, non-empty, naming a known credential', async () => {
    const { handler } = setup();
    expect401(await run(handler, bearer(await hs({ sub: 'x' }))), { message: "No mandatory 'iss' in claims" });
    expect401(await run(handler, bearer(await hs({ iss: '' }))), { message: "Invalid 'iss' in claims" });
    expect401(await run(handler, bearer(await hs({ iss: 'mallory' }))), { message: "No credentials found for given 'iss'" });
    expect401(await run(handler, bearer(await hs({ iss: 42 as unknown as string }))), { message: "No credentials found for given 'iss'" });
  });

  it('falls back to the JWT header for the key claim (key_claim_name: kid), claims first', async () => {
    const { handler } = setup({ key_claim_name: 'kid' });
    let ctx = bearer(await hs({ sub: 'x' }, { header: { kid: 'alice-iss' } }));
    expect(await run(handler, ctx)).toBeUndefined();
    expectAuthenticated(ctx, 'alice', 'alice-iss');
    // The claim wins over the header.
    ctx = bearer(await hs({ kid: 'alice-iss' }, { header: { kid: 'bob-rsa' } }));
    expect(await run(handler, ctx)).toBeUndefined();
    expectAuthenticated(ctx, 'alice', 'alice-iss');
    expect401(await run(handler, bearer(await hs({}, { header: { kid: 'nope' } }))), { message: "No credentials found for given 'kid'" });
  });

  it('authenticates HS256, RS256 and ES256 tokens against their credentials', async () => {
    const { handler } = setup();
    for (const [token, user, key] of [
      [await hs({ iss: 'alice-iss' }), 'alice', 'alice-iss'],
      [await signWith(rsa.privateKey, 'RS256', { iss: 'bob-rsa' }), 'bob', 'bob-rsa'],
      [await signWith(ec.privateKey, 'ES256', { iss: 'carol-ec' }), 'carol', 'carol-ec'],
    ] as const) {
      const ctx = bearer(token);
      expect(await run(handler, ctx)).toBeUndefined();
      expectAuthenticated(ctx, user, key);
    }
  });

  it('sets X-Consumer-Custom-ID and replaces identity headers the client sent', async () => {
    const { handler } = setup();
    const ctx = bearer(await hs({ iss: 'alice-iss' }), {
      headers: { 'x-consumer-id': 'forged', 'x-consumer-username': 'root', 'x-anonymous-consumer': 'true', 'x-credential-identifier': 'forged' },
    });
    expect(await run(handler, ctx)).toBeUndefined();
    expectAuthenticated(ctx, 'alice', 'alice-iss');
    expect(ctx.headers['x-consumer-custom-id']).toBe('cust-alice');
    // bob has no custom_id: a client's value must not survive.
    const ctx2 = bearer(await signWith(rsa.privateKey, 'RS256', { iss: 'bob-rsa' }), { headers: { 'x-consumer-custom-id': 'forged' } });
    expect(await run(handler, ctx2)).toBeUndefined();
    expect(ctx2.headers['x-consumer-custom-id']).toBeUndefined();
  });

  it('keeps the token and its verified claims on ctx.shared for later plugins', async () => {
    const token = await hs({ iss: 'alice-iss', scope: 'orders:read', nested: { a: [1] } });
    const ctx = bearer(token);
    expect(await run(setup().handler, ctx)).toBeUndefined();
    expect(ctx.shared![SHARED_TOKEN]).toBe(token);
    const claims = ctx.shared![SHARED_CLAIMS] as Record<string, unknown>;
    expect(claims).toMatchObject({ iss: 'alice-iss', scope: 'orders:read' });
    // Shared across requests through the cache: frozen all the way down.
    expect(Object.isFrozen(claims)).toBe(true);
    expect(Object.isFrozen((claims['nested'] as { a: unknown[] }).a)).toBe(true);
  });

  it('refuses a wrong signature: "Invalid signature"', async () => {
    const { handler } = setup();
    expect401(await run(handler, bearer(await hs({ iss: 'alice-iss' }, { secret: 'another-secret-of-decent-length!!' }))), { message: 'Invalid signature' });
    expect401(await run(handler, bearer(await signWith(attacker.privateKey, 'RS256', { iss: 'bob-rsa' }))), { message: 'Invalid signature' });
    const good = await hs({ iss: 'alice-iss' });
    const [h, , s] = good.split('.');
    expect401(await run(handler, bearer(`${h}.${b64u({ iss: 'alice-iss', admin: true })}.${s}`)), { message: 'Invalid signature' });
    // An empty signature decodes (to nothing) and then fails verification, as in Kong.
    expect401(await run(handler, bearer(`${h}.${b64u({ iss: 'alice-iss' })}.`)), { message: 'Invalid signature' });
  });

  it("refuses a header alg that differs from the credential's: \"Invalid algorithm\"", async () => {
    const { handler } = setup();
    expect401(await run(handler, bearer(await signWith(rsa.privateKey, 'RS256', { iss: 'alice-iss' }))), { message: 'Invalid algorithm' });
    expect401(await run(handler, bearer(await hs({ iss: 'alice-iss' }, { alg: 'HS512', secret: SECRET + SECRET }))), { message: 'Invalid algorithm' });
    expect401(await run(handler, bearer(await signWith(rsa.privateKey, 'RS512', { iss: 'bob-rsa' }))), { message: 'Invalid algorithm' });
  });

  it('ATTACK: HS256 signed with the RSA public key PEM as HMAC secret, against the RS256 credential', async () => {
    const { handler } = setup();
    for (const secret of [enc(rsaPem), enc(rsaPem.trim()), rsa.publicKey.export({ type: 'spki', format: 'der' }) as Uint8Array]) {
      const forged = await hs({ iss: 'bob-rsa', sub: 'admin' }, { secret });
      expect401(await run(handler, bearer(forged)), { message: 'Invalid algorithm' });
    }
  });

  it('decodes the secret first with secret_is_base64; a secret that is not base64 is "Invalid key/secret"', async () => {
    const { handler } = setup({ secret_is_base64: true });
    const ctx = bearer(await hs({ iss: 'dave-b64' }, { secret: RAW_B64_SECRET }));
    expect(await run(handler, ctx)).toBeUndefined();
    expectAuthenticated(ctx, 'dave', 'dave-b64');
    const v = await run(handler, bearer(await hs({ iss: 'erin-bad64' }, { secret: 'not base64 at all!' })));
    expect401(v, { message: 'Invalid key/secret' });
    // cjson escapes '/', and so do we: the exact bytes Kong sends.
    expect((v as LocalReply).body).toBe('{"message":"Invalid key\\/secret"}');
    // Without the option the same base64 text is the secret itself.
    expect401(await run(setup().handler, bearer(await hs({ iss: 'dave-b64' }, { secret: RAW_B64_SECRET }))), { message: 'Invalid signature' });
  });
});

// =================================================================================================

describe('claims_to_verify, maximum_expiration and leeway', () => {
  it('does not look at exp unless asked (Kong)', async () => {
    expect(await run(setup().handler, bearer(await hs({ iss: 'alice-iss', exp: now() - 3600 })))).toBeUndefined();
  });

  it('answers {"exp":"token expired"} and {"nbf":"token not valid yet"} as the body', async () => {
    const { handler } = setup({ claims_to_verify: ['exp', 'nbf'] });
    const t = now();
    expect401(await run(handler, bearer(await hs({ iss: 'alice-iss', exp: t - 10, nbf: t - 20 }))), { exp: 'token expired' });
    expect401(await run(handler, bearer(await hs({ iss: 'alice-iss', exp: t + 600, nbf: t + 60 }))), { nbf: 'token not valid yet' });
    expect401(await run(handler, bearer(await hs({ iss: 'alice-iss', exp: t - 10, nbf: t + 60 }))), { exp: 'token expired', nbf: 'token not valid yet' });
    expect401(await run(handler, bearer(await hs({ iss: 'alice-iss' }))), { exp: 'must be a number', nbf: 'must be a number' });
    expect401(await run(handler, bearer(await hs({ iss: 'alice-iss', exp: String(t + 60) as unknown as number, nbf: t }))), { exp: 'must be a number' });
    expect(await run(handler, bearer(await hs({ iss: 'alice-iss', exp: t + 60, nbf: t })))).toBeUndefined();
  });

  it('treats exp == now as expired and nbf == now as valid (exp <= now, nbf > now)', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(1_800_000_000_500);
    const { handler } = setup({ claims_to_verify: ['exp', 'nbf'] });
    expect401(await run(handler, bearer(await hs({ iss: 'alice-iss', exp: 1_800_000_000, nbf: 1_700_000_000 }))), { exp: 'token expired' });
    expect(await run(handler, bearer(await hs({ iss: 'alice-iss', exp: 1_800_000_001, nbf: 1_800_000_000 })))).toBeUndefined();
  });

  it('refuses exp further than maximum_expiration: {"exp":"exceeds maximum allowed expiration"}', async () => {
    const { handler } = setup({ claims_to_verify: ['exp'], maximum_expiration: 300 });
    expect401(await run(handler, bearer(await hs({ iss: 'alice-iss', exp: now() + 3600 }))), { exp: 'exceeds maximum allowed expiration' });
    expect(await run(handler, bearer(await hs({ iss: 'alice-iss', exp: now() + 200 })))).toBeUndefined();
  });

  it('tolerates `leeway` seconds of clock skew on exp and nbf, no more', async () => {
    const { handler } = setup({ claims_to_verify: ['exp', 'nbf'], leeway: 30 });
    const t = now();
    expect(await run(handler, bearer(await hs({ iss: 'alice-iss', exp: t - 20, nbf: t + 20 })))).toBeUndefined();
    expect401(await run(handler, bearer(await hs({ iss: 'alice-iss', exp: t - 40, nbf: t }))), { exp: 'token expired' });
    expect401(await run(handler, bearer(await hs({ iss: 'alice-iss', exp: t + 60, nbf: t + 40 }))), { nbf: 'token not valid yet' });
  });
});

// =================================================================================================

describe('our claim rules: allowed_issuers, allowed_audiences, required_claims', () => {
  it('checks iss against allowed_issuers', async () => {
    expect(await run(setup({ allowed_issuers: ['alice-iss'] }).handler, bearer(await hs({ iss: 'alice-iss' })))).toBeUndefined();
    expect401(await run(setup({ allowed_issuers: ['https://idp'] }).handler, bearer(await hs({ iss: 'alice-iss' }))), { iss: 'issuer not allowed' });
  });

  it('checks aud (string or array) against allowed_audiences', async () => {
    const { handler } = setup({ allowed_audiences: ['orders', 'billing'] });
    expect(await run(handler, bearer(await hs({ iss: 'alice-iss', aud: 'orders' })))).toBeUndefined();
    expect(await run(handler, bearer(await hs({ iss: 'alice-iss', aud: ['x', 'billing'] })))).toBeUndefined();
    expect401(await run(handler, bearer(await hs({ iss: 'alice-iss', aud: ['x'] }))), { aud: 'audience not allowed' });
    expect401(await run(handler, bearer(await hs({ iss: 'alice-iss' }))), { aud: 'audience not allowed' });
  });

  it('requires required_claims to be present and not null', async () => {
    const { handler } = setup({ required_claims: ['sub', 'tenant'] });
    expect(await run(handler, bearer(await hs({ iss: 'alice-iss', sub: 'u1', tenant: 't' })))).toBeUndefined();
    expect401(await run(handler, bearer(await hs({ iss: 'alice-iss', sub: 'u1', tenant: null } as JWTPayload))), { tenant: 'required claim missing' });
    expect401(await run(handler, bearer(await hs({ iss: 'alice-iss' }))), { sub: 'required claim missing', tenant: 'required claim missing' });
  });

  it("reports Kong's time errors before ours", async () => {
    const { handler } = setup({ claims_to_verify: ['exp'], required_claims: ['sub'] });
    expect401(await run(handler, bearer(await hs({ iss: 'alice-iss', exp: now() - 5 }))), { exp: 'token expired' });
  });
});

// =================================================================================================

describe('claims_to_headers', () => {
  it('copies claims into upstream headers, and removes a mapped header the client sent', async () => {
    const { handler } = setup({ claims_to_headers: { sub: 'X-User-Sub', roles: 'X-User-Roles', n: 'X-N', org: 'X-Org', tenant: 'X-Tenant' } });
    const ctx = bearer(await hs({ iss: 'alice-iss', sub: 'user-1', roles: ['a', 'b'], n: 7, org: { id: 3 } }), {
      headers: { 'x-tenant': 'forged', 'x-user-sub': 'forged' },
    });
    expect(await run(handler, ctx)).toBeUndefined();
    expect(ctx.headers['x-user-sub']).toBe('user-1');
    expect(ctx.headers['x-user-roles']).toBe('a, b');
    expect(ctx.headers['x-n']).toBe('7');
    expect(ctx.headers['x-org']).toBe('{"id":3}');
    expect(ctx.headers['x-tenant']).toBeUndefined();
  });

  it('cannot be used to inject header bytes: controls and non-ASCII are percent-encoded', async () => {
    const { handler } = setup({ claims_to_headers: { sub: 'X-User-Sub', name: 'X-Name' } });
    const ctx = bearer(await hs({ iss: 'alice-iss', sub: 'u\r\nX-Admin: true\u0000', name: 'José 日本' }));
    expect(await run(handler, ctx)).toBeUndefined();
    expect(ctx.headers['x-user-sub']).toBe('u%0D%0AX-Admin: true%00');
    expect(ctx.headers['x-name']).toBe('Jos%C3%A9 %E6%97%A5%E6%9C%AC');
    expect(ctx.headers['x-admin']).toBeUndefined();
    expect(headerSafe('plain value')).toBe('plain value');
    expect(claimHeaderValue(['a\nb', 1, true])).toBe('a%0Ab, 1, true');
  });

  it('clears mapped headers when the request goes on anonymously or skips (preflight)', async () => {
    const anon = setup({ anonymous: 'anon', claims_to_headers: { sub: 'X-User-Sub' } });
    const ctx = request({ headers: { 'x-user-sub': 'forged' } });
    expect(await run(anon.handler, ctx)).toBeUndefined();
    expect(ctx.headers['x-user-sub']).toBeUndefined();
    const pre = setup({ run_on_preflight: false, claims_to_headers: { sub: 'X-User-Sub' } });
    const ctx2 = request({ method: 'OPTIONS', headers: { 'x-user-sub': 'forged' } });
    expect(await run(pre.handler, ctx2)).toBeUndefined();
    expect(ctx2.headers['x-user-sub']).toBeUndefined();
  });
});

// =================================================================================================

describe('anonymous (logical OR) and preflight', () => {
  it('continues as the anonymous consumer when there is no token or a bad one', async () => {
    const { handler } = setup({ anonymous: 'anon' });
    for (const ctx of [request(), bearer('garbage'), bearer(await hs({ iss: 'alice-iss' }, { secret: 'wrong-secret-wrong-secret-wrong!' }))]) {
      ctx.shared = { [SHARED_TOKEN]: 'left over' };
      expect(await run(handler, ctx)).toBeUndefined();
      expect(ctx.consumer?.username).toBe('anon');
      expect(ctx.credential).toBeNull();
      expect(ctx.headers['x-anonymous-consumer']).toBe('true');
      expect(ctx.headers['x-consumer-username']).toBe('anon');
      expect(ctx.headers['x-consumer-custom-id']).toBe('anon-custom');
      expect(ctx.headers['x-credential-identifier']).toBeUndefined();
      expect(ctx.shared[SHARED_TOKEN]).toBeUndefined();
    }
  });

  it('accepts the anonymous consumer by id too, and still authenticates a good token', async () => {
    const cfg = load(configText({}));
    const anonId = cfg.consumers.find((c) => c.username === 'anon')!.id;
    const { handler } = setup({ anonymous: anonId });
    expect(await run(handler, request())).toBeUndefined();
    const ctx = bearer(await hs({ iss: 'alice-iss' }));
    expect(await run(handler, ctx)).toBeUndefined();
    expectAuthenticated(ctx, 'alice', 'alice-iss');
  });

  it('answers 500 with an error log when the anonymous consumer does not exist', async () => {
    const { handler, logs } = setup({ anonymous: 'ghost' });
    const v = (await run(handler, request())) as LocalReply;
    expect(v).toEqual({ status: 500, message: "anonymous consumer ghost is configured but doesn't exist" });
    expect(logs).toEqual([{ level: 'error', msg: "anonymous consumer ghost is configured but doesn't exist" }]);
  });

  it('skips when an earlier plugin already authenticated (with anonymous), not without it (AND)', async () => {
    const authenticatedCtx = () => {
      const ctx = request();
      ctx.consumer = { id: 'c1', username: 'other', custom_id: null, groups: [] };
      ctx.credential = { id: 'k1', identifier: 'k1' };
      return ctx;
    };
    const or = authenticatedCtx();
    expect(await run(setup({ anonymous: 'anon' }).handler, or)).toBeUndefined();
    expect(or.consumer?.username).toBe('other');
    expect401(await run(setup().handler, authenticatedCtx()), { message: 'Unauthorized' }, 'Bearer');
  });

  it('lets OPTIONS through without a token only when run_on_preflight is false', async () => {
    expect(await run(setup({ run_on_preflight: false }).handler, request({ method: 'OPTIONS' }))).toBeUndefined();
    expect401(await run(setup().handler, request({ method: 'OPTIONS' })), { message: 'Unauthorized' }, 'Bearer');
    expect401(await run(setup({ run_on_preflight: false }).handler, request({ method: 'GET' })), { message: 'Unauthorized' }, 'Bearer');
  });
});

// =================================================================================================

describe('verified-token cache', () => {
  it('answers a repeated RS256/ES256 token synchronously, with the headers applied again', async () => {
    const { handler } = setup({ claims_to_headers: { sub: 'X-User-Sub' } });
    const tokens = [
      [await signWith(rsa.privateKey, 'RS256', { iss: 'bob-rsa', sub: 'b' }), 'b'],
      [await signWith(ec.privateKey, 'ES256', { iss: 'carol-ec', sub: 'c' }), 'c'],
    ] as const;
    for (const [token, sub] of tokens) {
      const first = handler.access!(bearer(token));
      expect(first).toBeInstanceOf(Promise);
      expect(await first).toBeUndefined();
      const ctx = bearer(token, { headers: { 'x-user-sub': 'forged', 'x-consumer-id': 'forged' } });
      const second = handler.access!(ctx);
      expect(second).toBeUndefined(); // a plain value: no Promise, no jose call
      expect(ctx.headers['x-user-sub']).toBe(sub);
      expect(ctx.headers['x-consumer-id']).toBe(ctx.consumer!.id);
      expect(ctx.shared![SHARED_TOKEN]).toBe(token);
    }
  });

  it('shares one verification between concurrent requests with the same new token', async () => {
    const { handler } = setup();
    const token = await signWith(rsa.privateKey, 'RS256', { iss: 'bob-rsa', n: Math.random() });
    const a = bearer(token);
    const b = bearer(token);
    const [va, vb] = await Promise.all([handler.access!(a), handler.access!(b)]);
    expect([va, vb]).toEqual([undefined, undefined]);
    expectAuthenticated(a, 'bob', 'bob-rsa');
    expectAuthenticated(b, 'bob', 'bob-rsa');
  });

  it('still enforces exp and nbf on a hit, as time passes', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const t0 = 1_800_000_000;
    vi.setSystemTime(t0 * 1000);
    const { handler } = setup({ claims_to_verify: ['exp', 'nbf'], leeway: 5 });
    const token = await signWith(rsa.privateKey, 'RS256', { iss: 'bob-rsa', nbf: t0 + 30, exp: t0 + 100 });
    expect401(await run(handler, bearer(token)), { nbf: 'token not valid yet' });
    vi.setSystemTime((t0 + 40) * 1000);
    // Verified once already (not yet valid then): now valid, answered from the cache.
    expect(handler.access!(bearer(token))).toBeUndefined();
    vi.setSystemTime((t0 + 103) * 1000);
    expect(handler.access!(bearer(token))).toBeUndefined(); // within leeway
    vi.setSystemTime((t0 + 106) * 1000);
    expect401(await run(handler, bearer(token)), { exp: 'token expired' });
  });

  it('never caches a token that failed: a bad signature is refused every time', async () => {
    const { handler } = setup();
    const forged = await signWith(attacker.privateKey, 'RS256', { iss: 'bob-rsa' });
    for (let i = 0; i < 3; i++) expect401(await run(handler, bearer(forged)), { message: 'Invalid signature' });
  });

  it('keeps one cache per plugin instance', async () => {
    const token = await signWith(rsa.privateKey, 'RS256', { iss: 'bob-rsa', aud: 'a' });
    const open = setup();
    expect(await run(open.handler, bearer(token))).toBeUndefined();
    // Another instance with stricter rules must not trust the first one's verdict.
    const strict = setup({ allowed_audiences: ['b'] });
    expect401(await run(strict.handler, bearer(token)), { aud: 'audience not allowed' });
  });
});

// =================================================================================================

describe('attacks', () => {
  it('ignores jku, x5u, jwk and x5c headers: never fetched, never used as the key', async () => {
    let fetched = 0;
    const server = createServer((_req, res) => {
      fetched++;
      res.end('{"keys":[]}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/jwks.json`;
    try {
      const { handler } = setup();
      const jwk = { kty: 'RSA', n: (attacker.publicKey.export({ format: 'jwk' }) as { n: string }).n, e: 'AQAB' };
      const x5c = [attacker.publicKey.export({ type: 'spki', format: 'der' }).toString('base64')];
      const forged = await signWith(attacker.privateKey, 'RS256', { iss: 'bob-rsa', sub: 'admin' }, { jku: url, x5u: url, jwk, x5c });
      expect401(await run(handler, bearer(forged)), { message: 'Invalid signature' });
      // A genuine token carrying the same headers is judged on its signature alone.
      const genuine = await signWith(rsa.privateKey, 'RS256', { iss: 'bob-rsa' }, { jku: url, x5u: url });
      expect(await run(handler, bearer(genuine))).toBeUndefined();
      await new Promise((r) => setTimeout(r, 50));
      expect(fetched).toBe(0);
    } finally {
      server.close();
    }
  });

  it('ignores kid for key selection: an unknown or huge kid changes nothing, only the key claim does', async () => {
    const { handler } = setup();
    expect(await run(handler, bearer(await hs({ iss: 'alice-iss' }, { header: { kid: 'no-such-key' } })))).toBeUndefined();
    expect(await run(handler, bearer(await hs({ iss: 'alice-iss' }, { header: { kid: 'k'.repeat(4000) } })))).toBeUndefined();
    // kid naming bob's RSA key does not make an HS256 token signed with his PEM pass.
    const forged = await hs({ iss: 'bob-rsa' }, { secret: enc(rsaPem), header: { kid: 'bob-rsa' } });
    expect401(await run(handler, bearer(forged)), { message: 'Invalid algorithm' });
    expect401(await run(handler, bearer(await hs({ iss: 'alice-iss' }, { header: { kid: 'k'.repeat(MAX_TOKEN_LENGTH) } }))), {
      message: 'Bad token; too large',
    });
  });

  it('ignores crit extensions it does not know (jose refuses them): "Invalid signature"', async () => {
    const { handler } = setup();
    const header = { alg: 'HS256', crit: ['exp-policy'], 'exp-policy': 1 };
    const signingInput = `${b64u(header)}.${b64u({ iss: 'alice-iss' })}`;
    const { createHmac } = await import('node:crypto');
    const sig = createHmac('sha256', SECRET).update(signingInput).digest('base64url');
    expect401(await run(handler, bearer(`${signingInput}.${sig}`)), { message: 'Invalid signature' });
  });

  it('keeps claims named __proto__ and friends inert', async () => {
    const { handler } = setup({ required_claims: ['admin'], claims_to_headers: { admin: 'X-Admin', sub: 'X-Sub' } });
    // JSON with a literal "__proto__" key, signed as is.
    const payload = '{"iss":"alice-iss","sub":"s","__proto__":{"admin":true}}';
    const token = await new CompactSign(enc(payload)).setProtectedHeader({ alg: 'HS256' }).sign(enc(SECRET));
    const ctx = bearer(token);
    expect401(await run(handler, ctx), { admin: 'required claim missing' });
    expect(({} as Record<string, unknown>)['admin']).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty('admin');

    // A config that maps the claim literally named "__proto__" (JSON text: an object literal would set the prototype).
    const text = configText({ claims_to_headers: { admin: 'X-Admin', PROTO_KEY: 'X-Proto' } }).replace('"PROTO_KEY"', '"__proto__"');
    const config = load(text);
    const env = { workerId: 0, log: { info() {}, warn() {}, error() {} }, consumers: new ConsumerIndex(config.consumers) } as PluginEnv;
    const open = jwt.create(config.plugins[0]!.config as never, env);
    const ctx2 = bearer(token);
    expect(await run(open, ctx2)).toBeUndefined();
    const claims = ctx2.shared![SHARED_CLAIMS] as Record<string, unknown>;
    expect(Object.getPrototypeOf(claims)).toBe(Object.prototype);
    expect(claims['admin']).toBeUndefined();
    expect(ctx2.headers['x-admin']).toBeUndefined();
    expect(ctx2.headers['x-proto']).toBe('{"admin":true}');
  });

  it('never takes a key claim from Object.prototype (key_claim_name: toString)', async () => {
    const { handler } = setup({ key_claim_name: 'toString' });
    expect401(await run(handler, bearer(await hs({ iss: 'alice-iss' }))), { message: "No mandatory 'toString' in claims" });
    expect401(await run(setup({ required_claims: ['constructor'] }).handler, bearer(await hs({ iss: 'alice-iss' }))), {
      constructor: 'required claim missing',
    });
  });

  it('survives deeply nested claims', async () => {
    const deep = `${'['.repeat(2000)}1${']'.repeat(2000)}`;
    const token = await new CompactSign(enc(`{"iss":"alice-iss","d":${deep}}`)).setProtectedHeader({ alg: 'HS256' }).sign(enc(SECRET));
    const { handler } = setup({ claims_to_headers: { d: 'X-D' } });
    const ctx = bearer(token);
    expect(await run(handler, ctx)).toBeUndefined();
    expect(ctx.headers['x-d']).toBe(deep);
  });

  it('does not let a decoded JWT header or claims object leak prototype lookups into alg', () => {
    expect(decodeToken(raw({ alg: 'HS256', __proto__: { alg: 'none' } }, { iss: 'x' }, 'c2ln'))).toMatchObject({ alg: 'HS256' });
    const noAlg = `${b64u('{"__proto__":{"alg":"HS256"}}')}.${b64u({ iss: 'x' })}.c2ln`;
    expect(decodeToken(noAlg)).toBe('invalid alg');
  });
});

// A credential whose key jose cannot use is reported once, at first use.
describe('unusable credential keys', () => {
  let small: ReturnType<typeof generateKeyPairSync>;
  beforeAll(() => {
    small = generateKeyPairSync('rsa', { modulusLength: 1024 });
  });

  it('logs a warning and answers "Invalid signature" for an RSA key under 2048 bits', async () => {
    const pem = small.publicKey.export({ type: 'spki', format: 'pem' }) as string;
    const text = JSON.stringify({
      _format_version: '3.0',
      consumers: [{ username: 'old', jwt_secrets: [{ key: 'old-rsa', algorithm: 'RS256', rsa_public_key: pem }] }],
      plugins: [{ name: 'jwt' }],
    });
    const config = load(text);
    const logs: string[] = [];
    const env = {
      workerId: 0,
      log: { info() {}, error() {}, warn: (_o: object, m?: string) => logs.push(m ?? '') },
      consumers: new ConsumerIndex(config.consumers),
    } as PluginEnv;
    const handler = jwt.create(config.plugins[0]!.config as never, env);
    const token = await signWith(small.privateKey as KeyObject, 'RS256', { iss: 'old-rsa' }).catch(() => null);
    // jose refuses to sign with it too; build the token with node:crypto instead.
    const { createSign } = await import('node:crypto');
    const input = `${b64u({ alg: 'RS256' })}.${b64u({ iss: 'old-rsa' })}`;
    const sig = createSign('RSA-SHA256').update(input).sign(small.privateKey as KeyObject).toString('base64url');
    expect(token).toBeNull();
    expect401(await run(handler, bearer(`${input}.${sig}`)), { message: 'Invalid signature' });
    expect401(await run(handler, bearer(`${input}.${sig}`)), { message: 'Invalid signature' });
    expect(logs).toEqual(['jwt credential key unusable: RSA keys under 2048 bits are refused (1024 bits); its tokens get "Invalid signature"']);
  });
});
