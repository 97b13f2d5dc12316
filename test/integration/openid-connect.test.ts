/**
 * openid-connect end to end: a real gateway process (2 worker threads, each with its own
 * discovery/JWKS cache) in front of an echo upstream, with
 * - a REAL OpenID provider (oidc-provider on loopback) issuing JWT access tokens through
 *   its client_credentials grant: valid token, no token, insufficient scope, consumer mapping;
 * - a node:http IdP we control, to count every JWKS fetch under an unknown-kid flood and a
 *   key rotation, and a closed port for an unreachable IdP (503).
 * Requests go out on fresh connections so both workers get traffic.
 */
import { createServer, request, type Server } from 'node:http';
import { exportJWK, generateKeyPair, SignJWT, type JWK, type JWTPayload } from 'jose';
// oidc-provider ships no type declarations; the test only uses its documented API.
// @ts-ignore
import Provider from 'oidc-provider';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startGateway, type Gateway } from '../helpers/gateway.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

const WORKERS = 2;
const AUDIENCE = 'https://orders.api.test';
const CLIENT_SECRET = 'orders-client-secret-orders-client-secret';

interface Res {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One request on a fresh connection (so the kernel spreads them over the workers). */
function get(port: number, path: string, headers: Record<string, string> = {}): Promise<Res> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------
// the identity providers

interface RealIdp {
  issuer: string;
  hits: Map<string, number>;
  server: Server;
  token(scope: string): Promise<string>;
}

async function startRealIdp(): Promise<RealIdp> {
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  const jwk = { ...(await exportJWK(privateKey)), kid: 'provider-es256', alg: 'ES256', use: 'sig' };
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const issuer = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  const provider = new Provider(issuer, {
    jwks: { keys: [jwk] },
    clients: [
      {
        client_id: 'orders-client',
        client_secret: CLIENT_SECRET,
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
    extraTokenClaims: () => ({ preferred_username: 'alice' }),
  });
  const callback = provider.callback();
  const hits = new Map<string, number>();
  server.on('request', (req, res) => {
    const path = new URL(req.url ?? '/', issuer).pathname;
    hits.set(path, (hits.get(path) ?? 0) + 1);
    callback(req, res);
  });
  return {
    issuer,
    hits,
    server,
    async token(scope: string) {
      const res = await fetch(`${issuer}/token`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization: `Basic ${Buffer.from(`orders-client:${CLIENT_SECRET}`).toString('base64')}`,
        },
        body: new URLSearchParams({ grant_type: 'client_credentials', scope }).toString(),
      });
      const body = (await res.json()) as { access_token?: string };
      if (body.access_token === undefined) throw new Error(`token endpoint answered ${res.status}`);
      return body.access_token;
    },
  };
}

interface ControlIdp {
  issuer: string;
  hits: Map<string, number>;
  published: string[];
  server: Server;
  sign(kid: string, claims?: JWTPayload): Promise<string>;
}

async function startControlIdp(kids: string[]): Promise<ControlIdp> {
  const keys = new Map<string, { privateKey: CryptoKey; jwk: JWK }>();
  for (const kid of [...kids, 'forger']) {
    const pair = await generateKeyPair('ES256', { extractable: true });
    keys.set(kid, { privateKey: pair.privateKey as CryptoKey, jwk: { ...(await exportJWK(pair.publicKey)), kid, alg: 'ES256', use: 'sig' } });
  }
  const hits = new Map<string, number>();
  const state = { published: [kids[0]!] };
  const server = createServer((req, res) => {
    const path = req.url ?? '/';
    hits.set(path, (hits.get(path) ?? 0) + 1);
    res.setHeader('content-type', 'application/json');
    if (path === '/.well-known/openid-configuration') {
      res.end(JSON.stringify({ issuer, jwks_uri: `${issuer}/jwks`, id_token_signing_alg_values_supported: ['ES256'] }));
    } else if (path === '/jwks') {
      res.end(JSON.stringify({ keys: state.published.map((k) => keys.get(k)!.jwk) }));
    } else {
      res.statusCode = 404;
      res.end('{}');
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const issuer = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return {
    issuer,
    hits,
    server,
    get published() {
      return state.published;
    },
    set published(v: string[]) {
      state.published = v;
    },
    sign: (kid, claims = {}) =>
      new SignJWT({ iss: issuer, sub: 'svc', scope: 'orders:read', exp: Math.floor(Date.now() / 1000) + 600, ...claims })
        .setProtectedHeader({ alg: 'ES256', kid })
        .sign(keys.get(kid)?.privateKey ?? keys.get('forger')!.privateKey),
  };
}

// ---------------------------------------------------------------------------------------

let real: RealIdp;
let ctl: ControlIdp;
let upstream: Upstream;
let gw: Gateway;
let deadIssuer: string;

beforeAll(async () => {
  real = await startRealIdp();
  ctl = await startControlIdp(['k1', 'k2']);
  upstream = await startUpstream();
  deadIssuer = `http://127.0.0.1:${await freePort()}`; // nothing listens there
  const oidc = (config: Record<string, unknown>) => `\n        plugins:\n          - name: openid-connect\n            config: ${JSON.stringify(config)}`;
  gw = await startGateway(
    `_format_version: "3.0"
consumers:
  - username: alice
    custom_id: c-alice
services:
  - name: orders
    url: ${upstream.url}
    routes:
      - name: orders
        paths: [/orders]
        strip_path: false${oidc({
          issuer: real.issuer,
          scopes_required: ['orders:read'],
          consumer_claim: ['preferred_username'],
          consumer_by: ['username'],
          upstream_headers_claims: ['client_id', 'scope'],
          upstream_headers_names: ['X-Client-Id', 'X-Scope'],
        })}
      - name: admin
        paths: [/admin]
        strip_path: false${oidc({ issuer: real.issuer, scopes_required: ['admin'] })}
      - name: dead
        paths: [/dead]
        strip_path: false${oidc({ issuer: deadIssuer, timeout: 1000 })}
      - name: controlled
        paths: [/controlled]
        strip_path: false${oidc({ issuer: ctl.issuer, rediscovery_lifetime: 4 })}
`,
    { workers: WORKERS },
  );
}, 60_000);

afterAll(async () => {
  await gw?.stop();
  await upstream?.close();
  for (const s of [real?.server, ctl?.server]) {
    if (s === undefined) continue;
    s.closeAllConnections();
    await new Promise<void>((r) => s.close(() => r()));
  }
});

describe('openid-connect through the gateway', () => {
  it('proxies a request with a provider-issued token, with identity and claim headers upstream', async () => {
    const token = await real.token('orders:read');
    const before = upstream.seen.length;
    const results = await Promise.all(Array.from({ length: 20 }, () => get(gw.proxyPort, '/orders/42', { ...bearer(token), 'x-consumer-id': 'forged' })));
    for (const r of results) expect(r.status).toBe(200);
    expect(upstream.seen.length - before).toBe(20);
    const seen = JSON.parse(results[0]!.body) as { headers: Record<string, string> };
    expect(seen.headers).toMatchObject({
      authorization: `Bearer ${token}`,
      'x-consumer-username': 'alice',
      'x-consumer-custom-id': 'c-alice',
      'x-credential-identifier': 'orders-client',
      'x-client-id': 'orders-client',
      'x-scope': 'orders:read',
    });
    expect(seen.headers['x-consumer-id']).not.toBe('forged');
    expect(seen.headers['x-anonymous-consumer']).toBeUndefined();
    // Each worker fetched discovery and JWKS at most once, whatever the request count.
    expect(real.hits.get('/.well-known/openid-configuration')).toBeLessThanOrEqual(WORKERS);
    expect(real.hits.get('/jwks')).toBeLessThanOrEqual(WORKERS);
  });

  it('answers 401 with a Bearer challenge and Kong’s JSON body when the token is missing or bad', async () => {
    const before = upstream.seen.length;
    const none = await get(gw.proxyPort, '/orders/1');
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toBe('Bearer');
    expect(none.headers['content-type']).toMatch(/^application\/json/);
    const body = JSON.parse(none.body) as { message: string; request_id: string };
    expect(body.message).toBe('Unauthorized');
    expect(body.request_id).toBe(none.headers['x-kong-request-id']);
    const token = await real.token('orders:read');
    const bad = await get(gw.proxyPort, '/orders/1', bearer(token.slice(0, -4) + (token.endsWith('AAAA') ? 'BBBB' : 'AAAA')));
    expect(bad.status).toBe(401);
    expect(bad.headers['www-authenticate']).toBe('Bearer error="invalid_token"');
    expect(upstream.seen.length).toBe(before);
  });

  it('answers 403 insufficient_scope for a valid token without the required scope', async () => {
    const token = await real.token('orders:read');
    const r = await get(gw.proxyPort, '/admin/users', bearer(token));
    expect(r.status).toBe(403);
    expect(r.headers['www-authenticate']).toBe('Bearer error="insufficient_scope", scope="admin"');
    expect(JSON.parse(r.body)).toMatchObject({ message: 'Forbidden' });
    expect((await get(gw.proxyPort, '/admin/users', bearer(await real.token('admin')))).status).toBe(200);
  });

  it('answers 503 (not 401) when the identity provider cannot be reached', async () => {
    const token = await ctl.sign('k1', { iss: deadIssuer });
    const r = await get(gw.proxyPort, '/dead/x', bearer(token));
    expect(r.status).toBe(503);
    expect(r.headers['retry-after']).toBe('1');
    expect(r.headers['www-authenticate']).toBeUndefined();
    expect(JSON.parse(r.body)).toEqual({ message: 'The identity provider is currently unavailable', request_id: r.headers['x-kong-request-id'] });
  });

  it('an unknown-kid flood costs at most one JWKS fetch per worker per rediscovery_lifetime', async () => {
    // Warm both workers up.
    const ok = await Promise.all(Array.from({ length: 10 }, async (_, i) => get(gw.proxyPort, '/controlled/a', bearer(await ctl.sign('k1', { jti: `w${i}` })))));
    for (const r of ok) expect(r.status).toBe(200);
    const warm = ctl.hits.get('/jwks') ?? 0;
    expect(warm).toBeGreaterThanOrEqual(1);
    expect(warm).toBeLessThanOrEqual(WORKERS);
    await sleep(4_100); // past rediscovery_lifetime: each worker may refresh once more
    const forged = await Promise.all(Array.from({ length: 200 }, (_, i) => ctl.sign(`forged-${i}`)));
    const flood = await Promise.all(forged.map((t) => get(gw.proxyPort, '/controlled/b', bearer(t))));
    for (const r of flood) expect(r.status).toBe(401);
    const afterFlood = ctl.hits.get('/jwks') ?? 0;
    expect(afterFlood - warm).toBeLessThanOrEqual(WORKERS);
    // Within the interval: another flood fetches nothing.
    const again = await Promise.all(forged.map((t) => get(gw.proxyPort, '/controlled/c', bearer(t))));
    for (const r of again) expect(r.status).toBe(401);
    expect(ctl.hits.get('/jwks')).toBe(afterFlood);
    expect(ctl.hits.get('/.well-known/openid-configuration')).toBeLessThanOrEqual(WORKERS);
  });

  it('picks up a rotated signing key after the refresh interval', async () => {
    ctl.published = ['k1', 'k2'];
    await sleep(4_100);
    const before = ctl.hits.get('/jwks') ?? 0;
    const results = await Promise.all(Array.from({ length: 20 }, async (_, i) => get(gw.proxyPort, '/controlled/r', bearer(await ctl.sign('k2', { jti: `r${i}` })))));
    for (const r of results) expect(r.status).toBe(200);
    expect((ctl.hits.get('/jwks') ?? 0) - before).toBeLessThanOrEqual(WORKERS);
  });
});
