/**
 * jwt end to end: a real gateway process (dist/, 2 workers) in front of a real echo
 * upstream. Kong's statuses, bodies and WWW-Authenticate on the wire, the identity headers
 * the upstream receives, anonymous, claims_to_headers, duplicate Authorization headers
 * sent on a raw socket, and the verified-token cache across repeated requests.
 */
import { createHmac, generateKeyPairSync } from 'node:crypto';
import { SignJWT, type JWTPayload } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type Gateway } from '../helpers/gateway.js';
import { rawRequest } from '../helpers/raw-http.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

const SECRET = 'alice-hs256-secret-that-is-long-enough';
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const rsaPem = rsa.publicKey.export({ type: 'spki', format: 'pem' }) as string;
const enc = (s: string) => new TextEncoder().encode(s);
const now = () => Math.floor(Date.now() / 1000);
const b64u = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

const hs = (claims: JWTPayload, secret: Uint8Array = enc(SECRET)) => new SignJWT(claims).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(secret);
const rs = (claims: JWTPayload) => new SignJWT(claims).setProtectedHeader({ alg: 'RS256', typ: 'JWT' }).sign(rsa.privateKey);

let upstream: Upstream;
let gw: Gateway;

function config(up: Upstream): string {
  // JSON is YAML: the PEM needs no block scalar.
  return JSON.stringify({
    _format_version: '3.0',
    services: [
      {
        name: 'orders',
        url: up.url,
        routes: [
          { name: 'plain', paths: ['/plain'], plugins: [{ name: 'jwt' }] },
          {
            name: 'strict',
            paths: ['/strict'],
            plugins: [{ name: 'jwt', config: { claims_to_verify: ['exp'], realm: 'orders', claims_to_headers: { sub: 'X-User-Sub' } } }],
          },
          { name: 'open', paths: ['/open'], plugins: [{ name: 'jwt', config: { anonymous: 'anon' } }] },
        ],
      },
    ],
    consumers: [
      { username: 'alice', custom_id: 'cust-alice', jwt_secrets: [{ key: 'alice-iss', secret: SECRET }] },
      { username: 'bob', jwt_secrets: [{ key: 'bob-rsa', algorithm: 'RS256', rsa_public_key: rsaPem }] },
      { username: 'anon' },
    ],
  });
}

beforeAll(async () => {
  upstream = await startUpstream();
  gw = await startGateway(config(upstream));
});

afterAll(async () => {
  await gw?.stop();
  await upstream?.close();
});

interface Echo {
  url: string;
  headers: Record<string, string | undefined>;
}

async function get(path: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Headers; text: string }> {
  const res = await fetch(gw.url(path), { headers });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

/** A 401 exactly as Kong's jwt plugin sends it. */
function expect401(r: { status: number; headers: Headers; text: string }, body: string, challenge = 'Bearer error="invalid_token"'): void {
  expect(r.status).toBe(401);
  expect(r.text).toBe(body);
  expect(r.headers.get('content-type')).toBe('application/json; charset=utf-8');
  expect(r.headers.get('www-authenticate')).toBe(challenge);
}

describe('jwt through the gateway', () => {
  it('answers 401 {"message":"Unauthorized"} with `WWW-Authenticate: Bearer` and never calls the upstream without a token', async () => {
    const before = upstream.seen.length;
    expect401(await get('/plain'), '{"message":"Unauthorized"}', 'Bearer');
    // kong.response.exit sends its table as JSON whatever the client accepts.
    expect401(await get('/plain', { accept: 'text/html' }), '{"message":"Unauthorized"}', 'Bearer');
    expect(upstream.seen.length).toBe(before);
  });

  it('authenticates an HS256 token and tells the upstream who called, over any forged identity headers', async () => {
    const token = await hs({ iss: 'alice-iss' });
    const r = await get('/plain/orders', {
      authorization: `Bearer ${token}`,
      'x-consumer-username': 'root',
      'x-anonymous-consumer': 'true',
      'x-credential-identifier': 'forged',
    });
    expect(r.status).toBe(200);
    const echo = JSON.parse(r.text) as Echo;
    expect(echo.headers['x-consumer-username']).toBe('alice');
    expect(echo.headers['x-consumer-custom-id']).toBe('cust-alice');
    expect(echo.headers['x-consumer-id']).toMatch(/^[0-9a-f-]{36}$/);
    expect(echo.headers['x-credential-identifier']).toBe('alice-iss');
    expect(echo.headers['x-anonymous-consumer']).toBeUndefined();
    // Kong's jwt does not hide the token.
    expect(echo.headers['authorization']).toBe(`Bearer ${token}`);
  });

  it('authenticates an RS256 token from the query, repeatedly (verified-token cache), leaving the query as sent', async () => {
    const token = await rs({ iss: 'bob-rsa', exp: now() + 600 });
    for (let i = 0; i < 6; i++) {
      const r = await get(`/plain/x?jwt=${token}&i=${i}`);
      expect(r.status).toBe(200);
      const echo = JSON.parse(r.text) as Echo;
      expect(echo.headers['x-consumer-username']).toBe('bob');
      expect(echo.headers['x-credential-identifier']).toBe('bob-rsa');
      expect(echo.url).toBe(`/x?jwt=${token}&i=${i}`); // strip_path (default true) removed /plain
    }
  });

  it("answers Kong's verification errors", async () => {
    expect401(await get('/plain', { authorization: 'Bearer not-a-jwt' }), '{"message":"Bad token; invalid JSON"}');
    const none = `${b64u({ alg: 'none' })}.${b64u({ iss: 'alice-iss' })}.`;
    expect401(await get('/plain', { authorization: `Bearer ${none}` }), '{"message":"Bad token; invalid alg"}');
    expect401(await get('/plain', { authorization: `Bearer ${await hs({ iss: 'nobody' })}` }), '{"message":"No credentials found for given \'iss\'"}');
    // RS/HS confusion: HS256 signed with bob's public key PEM.
    expect401(await get('/plain', { authorization: `Bearer ${await hs({ iss: 'bob-rsa' }, enc(rsaPem))}` }), '{"message":"Invalid algorithm"}');
    const forged = await hs({ iss: 'alice-iss' }, enc('some-other-secret-some-other-secret'));
    expect401(await get('/plain', { authorization: `Bearer ${forged}` }), '{"message":"Invalid signature"}');
  });

  it('answers {"exp":"token expired"} with the realm in the challenge', async () => {
    const expired = await hs({ iss: 'alice-iss', sub: 'u1', exp: now() - 60 });
    expect401(await get('/strict', { authorization: `Bearer ${expired}` }), '{"exp":"token expired"}', 'Bearer realm="orders" error="invalid_token"');
    expect401(await get('/strict'), '{"message":"Unauthorized"}', 'Bearer realm="orders"');
  });

  it('refuses two different tokens, in header and query', async () => {
    const a = await hs({ iss: 'alice-iss', n: 1 });
    const b = await hs({ iss: 'alice-iss', n: 2 });
    expect401(await get(`/plain?jwt=${b}`, { authorization: `Bearer ${a}` }), '{"message":"Multiple tokens provided"}');
    expect((await get(`/plain?jwt=${a}`, { authorization: `Bearer ${a}` })).status).toBe(200);
  });

  it('refuses Authorization sent twice with different tokens (raw socket)', async () => {
    const a = await hs({ iss: 'alice-iss', n: 3 });
    const b = await hs({ iss: 'alice-iss', n: 4 });
    const req = (x: string, y: string) =>
      `GET /plain HTTP/1.1\r\nHost: api.example.com\r\nAuthorization: Bearer ${x}\r\nAuthorization: Bearer ${y}\r\nConnection: close\r\n\r\n`;
    const twice = await rawRequest(gw.proxyPort, req(a, b));
    expect(twice.status).toBe(401);
    expect(twice.text).toContain('\r\n\r\n{"message":"Multiple tokens provided"}');
    expect(twice.text.toLowerCase()).toContain('www-authenticate: bearer error="invalid_token"');
    const same = await rawRequest(gw.proxyPort, req(a, a));
    expect(same.status).toBe(200);
  });

  it('refuses an oversized token with 401', async () => {
    const big = await hs({ iss: 'alice-iss', pad: 'x'.repeat(9000) });
    expect401(await get('/plain', { authorization: `Bearer ${big}` }), '{"message":"Bad token; too large"}');
  });

  it('lets a request without a valid token through as the anonymous consumer', async () => {
    for (const headers of [{}, { authorization: 'Bearer garbage' }, { 'x-consumer-username': 'root' }]) {
      const r = await get('/open', headers);
      expect(r.status).toBe(200);
      const echo = JSON.parse(r.text) as Echo;
      expect(echo.headers['x-anonymous-consumer']).toBe('true');
      expect(echo.headers['x-consumer-username']).toBe('anon');
      expect(echo.headers['x-credential-identifier']).toBeUndefined();
    }
    const r = await get('/open', { authorization: `Bearer ${await hs({ iss: 'alice-iss' })}` });
    const echo = JSON.parse(r.text) as Echo;
    expect(echo.headers['x-consumer-username']).toBe('alice');
    expect(echo.headers['x-anonymous-consumer']).toBeUndefined();
  });

  it('copies claims to upstream headers, percent-encoding what could break the header, dropping forged values', async () => {
    const token = await hs({ iss: 'alice-iss', sub: 'u1\r\nX-Admin: yes', exp: now() + 600 });
    let r = await get('/strict', { authorization: `Bearer ${token}`, 'x-user-sub': 'forged' });
    expect(r.status).toBe(200);
    let echo = JSON.parse(r.text) as Echo;
    expect(echo.headers['x-user-sub']).toBe('u1%0D%0AX-Admin: yes');
    expect(echo.headers['x-admin']).toBeUndefined();

    r = await get('/strict', { authorization: `Bearer ${await hs({ iss: 'alice-iss', exp: now() + 600 })}`, 'x-user-sub': 'forged' });
    expect(r.status).toBe(200);
    echo = JSON.parse(r.text) as Echo;
    expect(echo.headers['x-user-sub']).toBeUndefined();
  });

  it('accepts a token signed by hand with node:crypto (no library on the client side)', async () => {
    const input = `${b64u({ alg: 'HS256', typ: 'JWT' })}.${b64u({ iss: 'alice-iss', sub: 'hand' })}`;
    const sig = createHmac('sha256', SECRET).update(input).digest('base64url');
    expect((await get('/plain', { authorization: `Bearer ${input}.${sig}` })).status).toBe(200);
  });
});
