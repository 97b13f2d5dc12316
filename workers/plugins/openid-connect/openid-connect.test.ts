/**
 * openid-connect (bearer): config through the real loader, then the handler against
 * - a REAL OpenID provider (oidc-provider on loopback, client_credentials grant, JWT access
 *   tokens through its resource indicators feature), for the normal paths;
 * - a small node:http IdP we control (discovery + JWKS we can rotate, break or take down,
 *   every fetch counted), for key rotation, unknown-kid floods and IdP outages.
 * Tokens that only the IdP could sign (expired, wrong issuer, scp arrays...) are signed with
 * the IdP's own private key; forged ones with keys the IdP never published.
 */
import { createServer, type Server } from 'node:http';
import { exportJWK, generateKeyPair, SignJWT, type JWK, type JWTPayload } from 'jose';
// oidc-provider ships no type declarations; the tests only use its documented API.
// @ts-ignore
import Provider from 'oidc-provider';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadConfigText } from '../../../src/config/load.js';
import { ConsumerIndex } from '../../auth/consumer-index.js';
import { RequestContext } from '../../http/request-context.js';
import type { LocalReply, PluginEnv, PluginHandler, Verdict } from '../../pipeline/types.js';
import { pluginDefinitions } from '../index.js';
import { pluginSchemas } from '../registry-schemas.js';
import { createOpenIdConnect, IDP_UNAVAILABLE_MESSAGE, idpOptions } from './handler.js';
import { IdentityProvider, sharedIdentityProvider } from './idp.js';
import { openIdConnect } from './index.js';
import type { OpenIdConnectConfig } from './schema.js';

const ALICE_ID = '7f1c6a4e-2d0b-4c55-9a43-1f2e3d4c5b6a';
const ANON_ID = '0b8d9e21-5f4a-4e3c-8d2b-6a7c9e0f1d2e';
const AUDIENCE = 'https://orders.api.test';

// ---------------------------------------------------------------------------------------
// config and handler helpers

function yaml(config: Record<string, unknown>): string {
  // JSON is YAML: the config goes through the same loader as a kong.yml.
  return `_format_version: "3.0"
consumers:
  - { id: ${ALICE_ID}, username: alice, custom_id: c-alice }
  - { id: ${ANON_ID}, username: anonymous }
plugins:
  - name: openid-connect
    config: ${JSON.stringify(config)}
`;
}

function load(config: Record<string, unknown>): { conf: OpenIdConnectConfig; consumers: ConsumerIndex } {
  const r = loadConfigText(yaml(config), 'kong.yml', {});
  if (!r.ok) throw new Error(r.issues.map((i) => `${i.line}:${i.col} ${i.path}: ${i.message}`).join('\n'));
  return { conf: r.config.plugins[0]!.config as OpenIdConnectConfig, consumers: new ConsumerIndex(r.config.consumers) };
}

function issues(config: Record<string, unknown>): string[] {
  const r = loadConfigText(yaml(config), 'kong.yml', {});
  if (r.ok) throw new Error('expected the config to be refused');
  return r.issues.map((i) => `${i.path}: ${i.message}`);
}

interface Logged {
  level: string;
  obj: object;
  msg?: string;
}

interface Built {
  h: PluginHandler;
  idp: IdentityProvider;
  logs: Logged[];
}

function build(config: Record<string, unknown>, now?: () => number): Built {
  const { conf, consumers } = load(config);
  const logs: Logged[] = [];
  const env: PluginEnv = {
    workerId: 0,
    consumers,
    log: {
      info: (obj, msg) => logs.push({ level: 'info', obj, msg }),
      warn: (obj, msg) => logs.push({ level: 'warn', obj, msg }),
      error: (obj, msg) => logs.push({ level: 'error', obj, msg }),
    },
  };
  // A fresh provider per handler, so fetch counts belong to one test.
  const idp = new IdentityProvider(idpOptions(conf), now);
  return { h: createOpenIdConnect(conf, env, { idp }), idp, logs };
}

function request(headers: Record<string, string> = {}, query = '', method = 'GET'): RequestContext {
  return new RequestContext(
    '0123456789abcdef0123456789abcdef',
    method,
    '/orders',
    query,
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

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

function isPromise(v: unknown): v is Promise<unknown> {
  return typeof (v as { then?: unknown } | undefined)?.then === 'function';
}

async function access(h: PluginHandler, ctx: RequestContext): Promise<Verdict> {
  return h.access!(ctx);
}

function header(r: Verdict, name: string): string | undefined {
  return r?.headers?.find(([n]) => n.toLowerCase() === name.toLowerCase())?.[1];
}

function expectReply(r: Verdict, status: number, message: string, wwwAuthenticate?: string): LocalReply {
  expect(r).toBeDefined();
  expect(r!.status).toBe(status);
  expect(r!.message).toBe(message);
  if (wwwAuthenticate !== undefined) expect(header(r, 'www-authenticate')).toBe(wwwAuthenticate);
  return r!;
}

// ---------------------------------------------------------------------------------------
// a real OpenID provider

interface RealIdp {
  issuer: string;
  kid: string;
  privateKey: CryptoKey;
  /** Requests per path (discovery, jwks, token). */
  hits: Map<string, number>;
  /** Extra claims the provider puts in the next access tokens. */
  extraClaims: Record<string, unknown>;
  /** When true the TCP connection is dropped (IdP unreachable). */
  down: boolean;
  token(scope: string): Promise<string>;
  close(): Promise<void>;
}

async function startRealIdp(): Promise<RealIdp> {
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  const kid = 'provider-es256';
  const jwk = { ...(await exportJWK(privateKey)), kid, alg: 'ES256', use: 'sig' };
  const server: Server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const issuer = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  const state: RealIdp = {
    issuer,
    kid,
    privateKey: privateKey as CryptoKey,
    hits: new Map(),
    extraClaims: {},
    down: false,
    token: async () => '',
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
  const provider = new Provider(issuer, {
    jwks: { keys: [jwk] },
    clients: [
      {
        client_id: 'orders-client',
        client_secret: 'orders-client-secret-orders-client-secret',
        grant_types: ['client_credentials'],
        redirect_uris: [],
        response_types: [],
        id_token_signed_response_alg: 'ES256',
        scope: 'orders:read orders:write admin',
      },
    ],
    scopes: ['orders:read', 'orders:write', 'admin'],
    ttl: { ClientCredentials: 600 },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => AUDIENCE,
        useGrantedResource: () => true,
        getResourceServerInfo: () => ({
          scope: 'orders:read orders:write admin',
          audience: AUDIENCE,
          accessTokenFormat: 'jwt',
          accessTokenTTL: 600,
          jwt: { sign: { alg: 'ES256' } },
        }),
      },
    },
    extraTokenClaims: () => ({ ...state.extraClaims }),
  });
  const callback = provider.callback();
  server.on('request', (req, res) => {
    const path = new URL(req.url ?? '/', issuer).pathname;
    state.hits.set(path, (state.hits.get(path) ?? 0) + 1);
    if (state.down) {
      req.socket.destroy();
      return;
    }
    callback(req, res);
  });
  state.token = async (scope: string) => {
    const res = await fetch(`${issuer}/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from('orders-client:orders-client-secret-orders-client-secret').toString('base64')}`,
      },
      body: new URLSearchParams({ grant_type: 'client_credentials', scope }).toString(),
    });
    const body = (await res.json()) as { access_token?: string; error?: string };
    if (body.access_token === undefined) throw new Error(`token endpoint: ${res.status} ${JSON.stringify(body)}`);
    return body.access_token;
  };
  return state;
}

/** A token signed with `key` (the IdP's own key unless forging), claims as given. */
async function sign(key: CryptoKey, header: Record<string, unknown>, claims: JWTPayload): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: 'ES256', ...header } as { alg: string }).sign(key);
}

const now = () => Math.floor(Date.now() / 1000);

let idp: RealIdp;
let attackerKey: CryptoKey;
let attackerJwk: JWK;

beforeAll(async () => {
  idp = await startRealIdp();
  const pair = await generateKeyPair('ES256', { extractable: true });
  attackerKey = pair.privateKey as CryptoKey;
  attackerJwk = await exportJWK(pair.publicKey);
});
afterAll(() => idp.close());
beforeEach(() => {
  idp.down = false;
  idp.extraClaims = {};
  idp.hits.clear();
});

const jwksHits = (s: { hits: Map<string, number> }) => s.hits.get('/jwks') ?? 0;
const discoveryHits = (s: { hits: Map<string, number> }) => s.hits.get('/.well-known/openid-configuration') ?? 0;

// ---------------------------------------------------------------------------------------

describe('openid-connect config (through the loader)', () => {
  it("fills the bearer subset's defaults and registers with Kong's PRIORITY 1050", () => {
    const { conf } = load({ issuer: 'https://idp.example.com/realms/shop' });
    expect(conf).toMatchObject({
      auth_methods: ['bearer'],
      bearer_token_param_type: ['header', 'query'],
      scopes_claim: ['scope'],
      audience_claim: ['aud'],
      credential_claim: ['sub'],
      consumer_by: ['username', 'custom_id'],
      consumer_optional: false,
      upstream_access_token_header: 'authorization:bearer',
      hide_credentials: true,
      leeway: 0,
      timeout: 10000,
      rediscovery_lifetime: 30,
      unauthorized_error_message: 'Unauthorized',
      forbidden_error_message: 'Forbidden',
      anonymous: null,
      scopes_required: null,
    });
    expect(conf.signing_algorithms).not.toContain('HS256');
    expect(openIdConnect.priority).toBe(1050);
    expect(pluginSchemas.get('openid-connect')).toMatchObject({ priority: 1050, noConsumer: true, protocols: ['grpc', 'grpcs', 'http', 'https'] });
    expect(pluginDefinitions.get('openid-connect')).toBe(openIdConnect);
  });

  it('refuses what this bearer-only plugin cannot honour', () => {
    expect(issues({})).toEqual(['plugins[0].config.issuer: required field missing']);
    expect(issues({ issuer: 'ftp://idp.example.com' })).toEqual(['plugins[0].config.issuer: must be an http or https URL']);
    expect(issues({ issuer: 'https://idp.example.com', auth_methods: ['bearer', 'session'] })).toEqual([
      "plugins[0].config.auth_methods: only the 'bearer' auth method is supported",
    ]);
    expect(issues({ issuer: 'https://idp.example.com', bearer_token_param_type: ['body'] })[0]).toMatch(/'body' is not supported/);
    expect(issues({ issuer: 'https://idp.example.com', signing_algorithms: ['HS256'] })[0]).toMatch(/signing_algorithms\[0\]: expected one of/);
    expect(issues({ issuer: 'https://idp.example.com', signing_algorithms: ['none'] })[0]).toMatch(/expected one of/);
    expect(issues({ issuer: 'https://idp.example.com', bearer_token_param_type: ['cookie'] })).toEqual([
      "plugins[0].config.bearer_token_cookie_name: required when bearer_token_param_type includes 'cookie'",
    ]);
    expect(issues({ issuer: 'https://idp.example.com', upstream_headers_claims: ['email'] })).toEqual([
      'plugins[0].config.upstream_headers_names: must have as many entries as upstream_headers_claims',
    ]);
    expect(issues({ issuer: 'https://idp.example.com', cache_ttl_min: 600, cache_ttl_max: 60 })).toEqual([
      'plugins[0].config.cache_ttl_min: must not be greater than cache_ttl_max',
    ]);
    expect(issues({ issuer: 'https://idp.example.com', client_secret: ['s'] })).toEqual(['plugins[0].config.client_secret: unknown field']);
  });
});

describe('tokens issued by a real OpenID provider (oidc-provider, client_credentials)', () => {
  it('accepts a provider-issued access token and sets Kong’s identity headers', async () => {
    const { h } = build({ issuer: idp.issuer });
    const token = await idp.token('orders:read');
    const ctx = request({ ...bearer(token), 'x-anonymous-consumer': 'true', 'x-consumer-username': 'smuggled' });
    const v = h.access!(ctx);
    expect(isPromise(v)).toBe(true); // first sight: discovery + JWKS + signature check
    expect(await v).toBeUndefined();
    expect(ctx.credential).toEqual({ id: 'orders-client', identifier: 'orders-client' });
    expect(ctx.consumer).toBeNull();
    expect(ctx.headers['x-credential-identifier']).toBe('orders-client');
    expect(ctx.headers['x-anonymous-consumer']).toBeUndefined();
    expect(ctx.headers['x-consumer-username']).toBeUndefined();
    expect(ctx.headers['authorization']).toBe(`Bearer ${token}`);
    expect(discoveryHits(idp)).toBe(1);
    expect(jwksHits(idp)).toBe(1);
  });

  it('a token seen before costs no signature check: the handler answers synchronously', async () => {
    const { h } = build({ issuer: idp.issuer, scopes_required: ['orders:read'] });
    const token = await idp.token('orders:read');
    expect(await access(h, request(bearer(token)))).toBeUndefined();
    const hits = new Map(idp.hits);
    const ctx = request(bearer(token));
    const v = h.access!(ctx);
    expect(isPromise(v)).toBe(false);
    expect(v).toBeUndefined();
    expect(ctx.headers['x-credential-identifier']).toBe('orders-client');
    expect(idp.hits).toEqual(hits);
    // A cached token that lacks a scope is refused synchronously too.
    const { h: strict } = build({ issuer: idp.issuer, scopes_required: ['admin'] });
    expect((await access(strict, request(bearer(token))))?.status).toBe(403);
    const again = strict.access!(request(bearer(token)));
    expect(isPromise(again)).toBe(false);
    expect((again as LocalReply).status).toBe(403);
  });

  it('no token: 401 with a bare Bearer challenge, and the IdP is never asked', async () => {
    const { h } = build({ issuer: idp.issuer });
    const r = await access(h, request());
    expectReply(r, 401, 'Unauthorized', 'Bearer');
    expectReply(await access(h, request({ authorization: 'Basic YWxpY2U6c2VjcmV0' })), 401, 'Unauthorized', 'Bearer');
    expect(idp.hits.size).toBe(0);
  });

  it('a modified token is refused with error="invalid_token"', async () => {
    const { h } = build({ issuer: idp.issuer, display_errors: true });
    const token = await idp.token('orders:read');
    const [head, payload, sig] = token.split('.');
    const claims = JSON.parse(Buffer.from(payload!, 'base64url').toString());
    const widened = Buffer.from(JSON.stringify({ ...claims, scope: 'orders:read admin' })).toString('base64url');
    const r = await access(h, request(bearer(`${head}.${widened}.${sig}`)));
    expectReply(r, 401, 'Unauthorized (signature verification failed)', 'Bearer error="invalid_token", error_description="signature verification failed"');
    const flipped = sig!.slice(0, -2) + (sig!.endsWith('AA') ? 'BB' : 'AA');
    expect((await access(h, request(bearer(`${head}.${payload}.${flipped}`))))?.status).toBe(401);
    expectReply(await access(h, request(bearer('not-a-jwt'))), 401, 'Unauthorized (malformed token)');
  });

  it('checks exp and nbf, with the configured leeway', async () => {
    const base = { iss: idp.issuer, sub: 'orders-client', aud: AUDIENCE, scope: 'orders:read' };
    const expired = await sign(idp.privateKey, { kid: idp.kid }, { ...base, iat: now() - 600, exp: now() - 60 });
    const early = await sign(idp.privateKey, { kid: idp.kid }, { ...base, iat: now(), nbf: now() + 60, exp: now() + 600 });
    const noExp = await sign(idp.privateKey, { kid: idp.kid }, { ...base, iat: now() });
    const { h } = build({ issuer: idp.issuer, display_errors: true });
    expectReply(await access(h, request(bearer(expired))), 401, 'Unauthorized (token expired)');
    expectReply(await access(h, request(bearer(early))), 401, 'Unauthorized (token not valid yet)');
    expectReply(await access(h, request(bearer(noExp))), 401, 'Unauthorized (token has no expiry)');
    const { h: lenient } = build({ issuer: idp.issuer, leeway: 120 });
    expect(await access(lenient, request(bearer(expired)))).toBeUndefined();
    expect(await access(lenient, request(bearer(early)))).toBeUndefined();
  });

  it('iss must be the issuer: a token of another issuer is refused before any fetch', async () => {
    const { h } = build({ issuer: idp.issuer, display_errors: true });
    const foreign = await sign(idp.privateKey, { kid: idp.kid }, { iss: 'https://evil.example', sub: 'x', exp: now() + 600 });
    expectReply(await access(h, request(bearer(foreign))), 401, 'Unauthorized (issuer not allowed)', 'Bearer error="invalid_token", error_description="issuer not allowed"');
    expect(idp.hits.size).toBe(0);
    const { h: allowed } = build({ issuer: idp.issuer, issuers_allowed: ['https://other.example'] });
    const own = await idp.token('orders:read');
    expect((await access(allowed, request(bearer(own))))?.status).toBe(401);
  });

  it('pins algorithms: never none, never HS*, only what both the config and the discovery document allow', async () => {
    const { h } = build({ issuer: idp.issuer, display_errors: true });
    const claims = { iss: idp.issuer, sub: 'orders-client', exp: now() + 600 };
    const enc = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const none = `${enc({ alg: 'none', kid: idp.kid })}.${enc(claims)}.`;
    expectReply(await access(h, request(bearer(none))), 401, 'Unauthorized (algorithm not allowed)');
    // HS256 keyed with the provider's public key bytes: the classic alg-confusion forgery.
    const pub = JSON.stringify(await exportJWK(idp.privateKey).then(({ d: _d, ...p }) => p));
    const hs = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256', kid: idp.kid }).sign(new TextEncoder().encode(pub));
    expectReply(await access(h, request(bearer(hs))), 401, 'Unauthorized (algorithm not allowed)');
    expect(idp.hits.size).toBe(0);
    // RS256 is allowed by default in the config but the provider only signs ES256.
    const rsa = await generateKeyPair('RS256');
    const rs = await new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: idp.kid }).sign(rsa.privateKey);
    expectReply(await access(h, request(bearer(rs))), 401, 'Unauthorized (algorithm RS256 is not used by the issuer)');
    // A config that allows only RS256 refuses the provider's ES256 tokens outright.
    const { h: rsOnly } = build({ issuer: idp.issuer, signing_algorithms: ['RS256'] });
    expect((await access(rsOnly, request(bearer(await idp.token('orders:read')))))?.status).toBe(401);
  });

  it('ignores jku, x5u and jwk header parameters: keys only ever come from the issuer', async () => {
    let attackerHits = 0;
    const attacker = createServer((req, res) => {
      attackerHits++;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ keys: [{ ...attackerJwk, kid: 'attacker' }] }));
    });
    await new Promise<void>((r) => attacker.listen(0, '127.0.0.1', r));
    const at = `http://127.0.0.1:${(attacker.address() as { port: number }).port}`;
    try {
      const { h } = build({ issuer: idp.issuer, display_errors: true });
      const claims = { iss: idp.issuer, sub: 'orders-client', exp: now() + 600 };
      const viaJku = await sign(attackerKey, { kid: 'attacker', jku: `${at}/jwks`, x5u: `${at}/cert.pem`, jwk: attackerJwk }, claims);
      expectReply(await access(h, request(bearer(viaJku))), 401, 'Unauthorized (unknown key id)');
      const sameKid = await sign(attackerKey, { kid: idp.kid, jwk: attackerJwk }, claims);
      expectReply(await access(h, request(bearer(sameKid))), 401, 'Unauthorized (signature verification failed)');
      expect(attackerHits).toBe(0);
    } finally {
      await new Promise<void>((r) => attacker.close(() => r()));
    }
  });

  it('scopes_required: 403 insufficient_scope naming the scope; OR of space-separated AND groups', async () => {
    const read = await idp.token('orders:read');
    const readWrite = await idp.token('orders:read orders:write');
    const { h } = build({ issuer: idp.issuer, scopes_required: ['orders:write'] });
    expectReply(await access(h, request(bearer(read))), 403, 'Forbidden', 'Bearer error="insufficient_scope", scope="orders:write"');
    expect(await access(h, request(bearer(readWrite)))).toBeUndefined();
    const { h: both } = build({ issuer: idp.issuer, scopes_required: ['orders:read orders:write', 'admin'] });
    expect((await access(both, request(bearer(read))))?.status).toBe(403);
    expect(await access(both, request(bearer(readWrite)))).toBeUndefined();
    expect(await access(both, request(bearer(await idp.token('admin'))))).toBeUndefined();
    const { h: quiet } = build({ issuer: idp.issuer, scopes_required: ['admin'], expose_error_code: false });
    expectReply(await access(quiet, request(bearer(read))), 403, 'Forbidden', 'Bearer');
  });

  it('reads scopes from an `scp` array when the token has no `scope` claim', async () => {
    const scp = await sign(idp.privateKey, { kid: idp.kid }, { iss: idp.issuer, sub: 'svc', exp: now() + 600, scp: ['orders:read', 'orders:write'] });
    const { h } = build({ issuer: idp.issuer, scopes_required: ['orders:read orders:write'] });
    expect(await access(h, request(bearer(scp)))).toBeUndefined();
    const { h: admin } = build({ issuer: idp.issuer, scopes_required: ['admin'] });
    expect((await access(admin, request(bearer(scp))))?.status).toBe(403);
  });

  it('audience_required: a token for another API is an invalid token (401)', async () => {
    const token = await idp.token('orders:read');
    const { h } = build({ issuer: idp.issuer, audience_required: [AUDIENCE] });
    expect(await access(h, request(bearer(token)))).toBeUndefined();
    const { h: other } = build({ issuer: idp.issuer, audience_required: ['https://billing.api.test'], display_errors: true });
    expectReply(await access(other, request(bearer(token))), 401, 'Unauthorized (audience not allowed)', 'Bearer error="invalid_token", error_description="audience not allowed"');
  });

  it('groups_required, roles_required (nested claim paths) and claims_forbidden', async () => {
    idp.extraClaims = { groups: ['warehouse'], realm_access: { roles: ['picker'] }, act: { sub: 'someone' } };
    const token = await idp.token('orders:read');
    expect(await access(build({ issuer: idp.issuer, groups_required: ['warehouse'] }).h, request(bearer(token)))).toBeUndefined();
    expect((await access(build({ issuer: idp.issuer, groups_required: ['finance'] }).h, request(bearer(token))))?.status).toBe(403);
    const roles = { issuer: idp.issuer, roles_claim: ['realm_access', 'roles'] };
    expect(await access(build({ ...roles, roles_required: ['picker'] }).h, request(bearer(token)))).toBeUndefined();
    expect((await access(build({ ...roles, roles_required: ['manager'] }).h, request(bearer(token))))?.status).toBe(403);
    expectReply(await access(build({ issuer: idp.issuer, claims_forbidden: ['act'] }).h, request(bearer(token))), 403, 'Forbidden', 'Bearer error="insufficient_scope"');
  });

  it('maps a claim to a consumer (consumer_claim + consumer_by) with Kong’s headers', async () => {
    idp.extraClaims = { preferred_username: 'alice', ext: { consumer: ALICE_ID } };
    const token = await idp.token('orders:read');
    const ctx = request(bearer(token));
    expect(await access(build({ issuer: idp.issuer, consumer_claim: ['preferred_username'], consumer_by: ['username'] }).h, ctx)).toBeUndefined();
    expect(ctx.consumer?.username).toBe('alice');
    expect(ctx.headers).toMatchObject({
      'x-consumer-id': ALICE_ID,
      'x-consumer-username': 'alice',
      'x-consumer-custom-id': 'c-alice',
      'x-credential-identifier': 'orders-client',
    });
    const byId = request(bearer(token));
    expect(await access(build({ issuer: idp.issuer, consumer_claim: ['ext', 'consumer'], consumer_by: ['id'] }).h, byId)).toBeUndefined();
    expect(byId.consumer?.id).toBe(ALICE_ID);
  });

  it('an unknown consumer is a 401 unless consumer_optional', async () => {
    idp.extraClaims = { preferred_username: 'mallory' };
    const token = await idp.token('orders:read');
    const conf = { issuer: idp.issuer, consumer_claim: ['preferred_username'], display_errors: true };
    expectReply(await access(build(conf).h, request(bearer(token))), 401, 'Unauthorized (consumer not found)');
    const ctx = request(bearer(token));
    expect(await access(build({ ...conf, consumer_optional: true }).h, ctx)).toBeUndefined();
    expect(ctx.consumer).toBeNull();
    expect(ctx.credential?.identifier).toBe('orders-client');
  });

  it('consumer_by custom_id finds the consumer', async () => {
    idp.extraClaims = { employee: 'c-alice' };
    const ctx = request(bearer(await idp.token('orders:read')));
    expect(await access(build({ issuer: idp.issuer, consumer_claim: ['employee'], consumer_by: ['custom_id'] }).h, ctx)).toBeUndefined();
    expect(ctx.consumer?.id).toBe(ALICE_ID);
  });

  it('sends claims upstream (upstream_headers_claims/names) and never a client-supplied value', async () => {
    idp.extraClaims = { groups: ['warehouse', 'night-shift'], tenant: 'acme' };
    const token = await idp.token('orders:read');
    const conf = {
      issuer: idp.issuer,
      upstream_headers_claims: ['client_id', 'groups', 'tenant', 'department'],
      upstream_headers_names: ['X-Client-Id', 'X-Groups', 'X-Tenant', 'X-Department'],
      authenticated_groups_claim: ['groups'],
    };
    const ctx = request({ ...bearer(token), 'x-department': 'forged' });
    expect(await access(build(conf).h, ctx)).toBeUndefined();
    expect(ctx.headers['x-client-id']).toBe('orders-client');
    expect(ctx.headers['x-groups']).toBe('warehouse, night-shift');
    expect(ctx.headers['x-tenant']).toBe('acme');
    expect(ctx.headers['x-department']).toBeUndefined();
    expect(ctx.authenticatedGroups).toEqual(['warehouse', 'night-shift']);
  });

  it('anonymous: a missing or invalid token continues as the anonymous consumer; a 403 stays a 403', async () => {
    const conf = { issuer: idp.issuer, anonymous: 'anonymous', scopes_required: ['admin'] };
    const { h } = build(conf);
    const none = request();
    expect(await access(h, none)).toBeUndefined();
    expect(none.consumer?.id).toBe(ANON_ID);
    expect(none.headers['x-anonymous-consumer']).toBe('true');
    expect(none.headers['x-consumer-username']).toBe('anonymous');
    const bad = request(bearer('eyJhbGciOiJFUzI1NiJ9.e30.c2ln'));
    expect(await access(h, bad)).toBeUndefined();
    expect(bad.consumer?.id).toBe(ANON_ID);
    expect((await access(h, request(bearer(await idp.token('orders:read')))))?.status).toBe(403);
    // An earlier auth plugin already authenticated the request: nothing to do (logical OR).
    const done = request(bearer('garbage'));
    done.credential = { id: 'key-1', identifier: 'key-1' };
    expect(h.access!(done)).toBeUndefined();
    expect(done.consumer).toBeNull();
  });

  it('anonymous pointing at a missing consumer is a 500 (and an error log)', async () => {
    const { h, logs } = build({ issuer: idp.issuer, anonymous: 'ghost' });
    expectReply(await access(h, request()), 500, "anonymous consumer ghost is configured but doesn't exist");
    expect(logs.some((l) => l.level === 'error')).toBe(true);
  });

  it('hide_credentials moves a query token into the Authorization header; cookies work too', async () => {
    const token = await idp.token('orders:read');
    const q = request({}, `page=2&access_token=${token}&sort=asc`);
    expect(await access(build({ issuer: idp.issuer }).h, q)).toBeUndefined();
    expect(q.query).toBe('page=2&sort=asc');
    expect(q.headers['authorization']).toBe(`Bearer ${token}`);
    const keep = request({}, `access_token=${token}`);
    expect(await access(build({ issuer: idp.issuer, hide_credentials: false, upstream_access_token_header: '' }).h, keep)).toBeUndefined();
    expect(keep.query).toBe(`access_token=${token}`);
    expect(keep.headers['authorization']).toBeUndefined();
    const cookieConf = { issuer: idp.issuer, bearer_token_param_type: ['cookie'], bearer_token_cookie_name: 'at', upstream_access_token_header: 'x-token' };
    const c = request({ cookie: `theme=dark; at=${token}; lang=en` });
    expect(await access(build(cookieConf).h, c)).toBeUndefined();
    expect(c.headers['cookie']).toBe('theme=dark; lang=en');
    expect(c.headers['x-token']).toBe(token);
    // Only the configured places are searched.
    expect((await access(build(cookieConf).h, request(bearer(token))))?.status).toBe(401);
    expect((await access(build({ issuer: idp.issuer, bearer_token_param_type: ['header'] }).h, request({}, `access_token=${token}`)))?.status).toBe(401);
  });

  it('run_on_preflight: false lets OPTIONS through untouched', async () => {
    expect(build({ issuer: idp.issuer, run_on_preflight: false }).h.access!(request({}, '', 'OPTIONS'))).toBeUndefined();
    expect((await access(build({ issuer: idp.issuer }).h, request({}, '', 'OPTIONS')))?.status).toBe(401);
  });

  it('handlers of one worker share one IdP cache (one discovery, one JWKS fetch for many routes)', async () => {
    const { conf } = load({ issuer: idp.issuer });
    expect(sharedIdentityProvider(idpOptions(conf))).toBe(sharedIdentityProvider(idpOptions(load({ issuer: `${idp.issuer}/` }).conf)));
    expect(sharedIdentityProvider(idpOptions(conf))).not.toBe(sharedIdentityProvider(idpOptions(load({ issuer: idp.issuer, timeout: 5000 }).conf)));
  });

  it('IdP unreachable with nothing cached: 503 with a Kong-style body, not 401', async () => {
    idp.down = true;
    const { h, logs } = build({ issuer: idp.issuer, timeout: 2000 });
    const token = await sign(idp.privateKey, { kid: idp.kid }, { iss: idp.issuer, sub: 'svc', exp: now() + 600 });
    const r = expectReply(await access(h, request(bearer(token))), 503, IDP_UNAVAILABLE_MESSAGE);
    expect(header(r, 'retry-after')).toBe('1');
    expect(header(r, 'www-authenticate')).toBeUndefined();
    expect(logs.find((l) => l.level === 'error')?.msg).toMatch(/identity provider unavailable/);
  });

  it('IdP going down later: cached keys keep verifying new tokens', async () => {
    const { h } = build({ issuer: idp.issuer });
    expect(await access(h, request(bearer(await idp.token('orders:read'))))).toBeUndefined();
    const fresh = await idp.token('orders:write');
    idp.down = true;
    expect(await access(h, request(bearer(fresh)))).toBeUndefined();
  });
});

// ---------------------------------------------------------------------------------------
// a controlled IdP for the failure cases

interface ControlIdp {
  issuer: string;
  hits: Map<string, number>;
  /** Kids currently published. */
  published: string[];
  /** What the discovery document says (overrides). */
  discovery: Record<string, unknown>;
  jwksStatus: number;
  down: boolean;
  keys: Map<string, { privateKey: CryptoKey; jwk: JWK }>;
  sign(kid: string, claims?: JWTPayload): Promise<string>;
  close(): Promise<void>;
}

async function startControlIdp(kids: string[]): Promise<ControlIdp> {
  const keys = new Map<string, { privateKey: CryptoKey; jwk: JWK }>();
  for (const kid of kids) {
    const pair = await generateKeyPair('ES256', { extractable: true });
    keys.set(kid, { privateKey: pair.privateKey as CryptoKey, jwk: { ...(await exportJWK(pair.publicKey)), kid, alg: 'ES256', use: 'sig' } });
  }
  const state: ControlIdp = {
    issuer: '',
    hits: new Map(),
    published: [kids[0]!],
    discovery: {},
    jwksStatus: 200,
    down: false,
    keys,
    sign: async () => '',
    close: async () => undefined,
  };
  const server = createServer((req, res) => {
    const path = req.url ?? '/';
    state.hits.set(path, (state.hits.get(path) ?? 0) + 1);
    if (state.down) {
      req.socket.destroy();
      return;
    }
    if (path === '/.well-known/openid-configuration') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ issuer: state.issuer, jwks_uri: `${state.issuer}/jwks`, id_token_signing_alg_values_supported: ['ES256'], ...state.discovery }));
    } else if (path === '/jwks') {
      res.writeHead(state.jwksStatus, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ keys: state.published.map((k) => keys.get(k)!.jwk) }));
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  state.issuer = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  state.sign = (kid, claims = {}) =>
    new SignJWT({ iss: state.issuer, sub: 'svc', scope: 'orders:read', exp: now() + 600, ...claims })
      .setProtectedHeader({ alg: 'ES256', kid })
      .sign(keys.get(kid)?.privateKey ?? attackerKey);
  state.close = () =>
    new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    });
  return state;
}

describe('failure cases against a controlled IdP', () => {
  let ctl: ControlIdp;
  let t: number;
  const clock = () => t;

  beforeEach(async () => {
    ctl = await startControlIdp(['k1', 'k2']);
    t = 1_000_000;
  });
  afterEach(() => ctl.close());

  it('key rotation: a new kid is fetched once, as soon as the refresh interval allows', async () => {
    const { h } = build({ issuer: ctl.issuer, rediscovery_lifetime: 30 }, clock);
    expect(await access(h, request(bearer(await ctl.sign('k1'))))).toBeUndefined();
    expect(jwksHits(ctl)).toBe(1);
    ctl.published = ['k1', 'k2'];
    // Within 30 s of the last fetch, an unknown kid does not make us fetch.
    t += 10_000;
    expect((await access(h, request(bearer(await ctl.sign('k2')))))?.status).toBe(401);
    expect(jwksHits(ctl)).toBe(1);
    t += 20_000;
    const tokens = await Promise.all(Array.from({ length: 20 }, (_, i) => ctl.sign('k2', { jti: `t${i}` })));
    const verdicts = await Promise.all(tokens.map((tok) => access(h, request(bearer(tok)))));
    expect(verdicts.every((v) => v === undefined)).toBe(true);
    expect(jwksHits(ctl)).toBe(2);
    expect(await access(h, request(bearer(await ctl.sign('k2', { jti: 'later' }))))).toBeUndefined();
    expect(jwksHits(ctl)).toBe(2);
    expect(discoveryHits(ctl)).toBe(1);
  });

  it('a flood of unknown kids costs the IdP at most one JWKS fetch per interval', async () => {
    const { h } = build({ issuer: ctl.issuer, rediscovery_lifetime: 30 }, clock);
    expect(await access(h, request(bearer(await ctl.sign('k1'))))).toBeUndefined();
    t += 31_000;
    const forged = await Promise.all(Array.from({ length: 300 }, (_, i) => ctl.sign(`forged-${i}`)));
    const first = await Promise.all(forged.map((tok) => access(h, request(bearer(tok)))));
    expect(first.every((v) => v?.status === 401)).toBe(true);
    expect(jwksHits(ctl)).toBe(2);
    t += 10_000;
    const second = await Promise.all(forged.map((tok) => access(h, request(bearer(tok)))));
    expect(second.every((v) => v?.status === 401)).toBe(true);
    expect(jwksHits(ctl)).toBe(2);
    t += 20_000;
    await access(h, request(bearer(forged[0]!)));
    expect(jwksHits(ctl)).toBe(3);
    expect(discoveryHits(ctl)).toBe(1);
  });

  it('IdP down from the start: 503, one attempt per backoff period, then recovery', async () => {
    ctl.down = true;
    const { h } = build({ issuer: ctl.issuer, cache_ttl_neg: 5 }, clock);
    const token = await ctl.sign('k1');
    const r = await access(h, request(bearer(token)));
    expectReply(r, 503, IDP_UNAVAILABLE_MESSAGE);
    expect(header(r, 'retry-after')).toBe('5');
    expect(discoveryHits(ctl)).toBe(1);
    for (let i = 0; i < 20; i++) expect((await access(h, request(bearer(token))))?.status).toBe(503);
    expect(discoveryHits(ctl)).toBe(1);
    ctl.down = false;
    t += 5_000;
    expect(await access(h, request(bearer(token)))).toBeUndefined();
    expect(discoveryHits(ctl)).toBe(2);
    expect(jwksHits(ctl)).toBe(1);
  });

  it('JWKS failing while discovery works is a 503 too', async () => {
    ctl.jwksStatus = 500;
    const { h } = build({ issuer: ctl.issuer }, clock);
    expectReply(await access(h, request(bearer(await ctl.sign('k1')))), 503, IDP_UNAVAILABLE_MESSAGE);
  });

  it('a discovery document naming another issuer is not trusted (503, logged)', async () => {
    ctl.discovery = { issuer: 'https://evil.example' };
    const { h, logs } = build({ issuer: ctl.issuer }, clock);
    expectReply(await access(h, request(bearer(await ctl.sign('k1')))), 503, IDP_UNAVAILABLE_MESSAGE);
    expect(JSON.stringify(logs)).toMatch(/names issuer \\"https:\/\/evil.example\\"/);
    expect(jwksHits(ctl)).toBe(0);
  });

  it('jwks_endpoint overrides the discovered jwks_uri', async () => {
    ctl.discovery = { jwks_uri: 'http://127.0.0.1:9/nowhere' };
    const { h } = build({ issuer: ctl.issuer, jwks_endpoint: `${ctl.issuer}/jwks` }, clock);
    expect(await access(h, request(bearer(await ctl.sign('k1'))))).toBeUndefined();
  });

  it('stale keys are served while the IdP is down, until the resurrect window ends', async () => {
    const conf = { issuer: ctl.issuer, cache_ttl: 60, cache_ttl_min: 1, cache_ttl_resurrect: 120, cache_ttl_neg: 1 };
    const { h } = build(conf, clock);
    expect(await access(h, request(bearer(await ctl.sign('k1'))))).toBeUndefined();
    ctl.down = true;
    t += 100_000; // past the 60 s TTL, inside 60 + 120: stale keys, background refresh fails
    expect(await access(h, request(bearer(await ctl.sign('k1', { jti: 'a' }))))).toBeUndefined();
    t += 90_000; // past 180 s: nothing usable is left
    expect((await access(h, request(bearer(await ctl.sign('k1', { jti: 'b' })))))?.status).toBe(503);
  });
});
