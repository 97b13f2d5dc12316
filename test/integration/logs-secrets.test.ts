/**
 * Secrets never reach the logs: a gateway at debug level with the access log on, sent
 * API keys (header and query), basic-auth passwords, JWT bearer tokens and HMAC
 * signatures, valid and invalid, through key-auth, basic-auth, jwt and hmac-auth. Then
 * everything it wrote (stdout, stderr, the access log file) is searched for each secret.
 */
import { createHmac } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type Gateway } from '../helpers/gateway.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

const API_KEY = 'k3y-SECRET-abc123def456';
const WRONG_KEY = 'wrong-KEY-zzz987yyy654';
const PASSWORD = 'pa55-SECRET-word-314159';
const WRONG_PASSWORD = 'bad-PASS-word-271828';
const JWT_SECRET = 'jwt-SIGNING-secret-xyz-161803';
const HMAC_SECRET = 'hmac-SECRET-key-777-141421';

const b64u = (o: object): string => Buffer.from(JSON.stringify(o)).toString('base64url');

function jwtToken(secret: string): string {
  const input = `${b64u({ alg: 'HS256', typ: 'JWT' })}.${b64u({ iss: 'alice-iss', sub: 'alice' })}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

function hmacHeaders(secret: string): { date: string; authorization: string; signature: string } {
  const date = new Date().toUTCString();
  const signature = createHmac('sha256', secret).update(`date: ${date}`).digest('base64');
  return { date, signature, authorization: `hmac username="alice-hmac", algorithm="hmac-sha256", headers="date", signature="${signature}"` };
}

let upstream: Upstream;
let gw: Gateway;
let accessLogFile: string;
/** Every secret string sent, with what it is (for the failure message). */
const secrets = new Map<string, string>();

beforeAll(async () => {
  upstream = await startUpstream();
  accessLogFile = join(mkdtempSync(join(tmpdir(), 'portcullis-logs-')), 'logs', 'access.log');
  const config = `_format_version: "3.0"
services:
  - name: echo
    url: ${upstream.url}
    routes:
      - name: key
        paths: [/key]
        plugins: [{ name: key-auth, config: { key_names: [apikey, x-api-key] } }]
      - name: basic
        paths: [/basic]
        plugins: [{ name: basic-auth }]
      - name: jwt
        paths: [/jwt]
        plugins: [{ name: jwt }]
      - name: hmac
        paths: [/hmac]
        plugins: [{ name: hmac-auth }]
  - name: down
    url: http://127.0.0.1:9
    routes:
      - name: down
        paths: [/down]
        plugins: [{ name: key-auth }]
consumers:
  - username: alice
    keyauth_credentials: [{ key: ${API_KEY} }]
    basicauth_credentials: [{ username: alice, password: "${PASSWORD}" }]
    jwt_secrets: [{ key: alice-iss, secret: ${JWT_SECRET} }]
    hmacauth_credentials: [{ username: alice-hmac, secret: ${HMAC_SECRET} }]
`;
  gw = await startGateway(config, {
    workers: 2,
    env: { PORTCULLIS_LOG_LEVEL: 'debug' },
    extraArgs: ['--access-log', accessLogFile],
  });
});

afterAll(async () => {
  await gw?.stop();
  await upstream?.close();
});

async function send(path: string, headers: Record<string, string>, expectStatus: number): Promise<void> {
  const res = await fetch(gw.url(path), { headers });
  await res.text();
  expect(res.status, `${path}`).toBe(expectStatus);
}

describe('secrets never appear in logs', () => {
  it('sends credentials, valid and invalid, through every auth plugin', async () => {
    secrets.set(API_KEY, 'API key');
    secrets.set(WRONG_KEY, 'wrong API key');
    await send('/key', { apikey: API_KEY }, 200);
    await send('/key', { 'x-api-key': API_KEY }, 200);
    await send(`/key/q?apikey=${API_KEY}&page=2`, {}, 200);
    await send(`/key/q?x-api-key=${encodeURIComponent(API_KEY)}`, {}, 200);
    await send('/key', { apikey: WRONG_KEY }, 401);
    await send(`/key/q?apikey=${WRONG_KEY}`, {}, 401);

    const good = Buffer.from(`alice:${PASSWORD}`).toString('base64');
    const bad = Buffer.from(`alice:${WRONG_PASSWORD}`).toString('base64');
    secrets.set(PASSWORD, 'password');
    secrets.set(WRONG_PASSWORD, 'wrong password');
    secrets.set(good, 'basic credentials');
    secrets.set(bad, 'wrong basic credentials');
    await send('/basic', { authorization: `Basic ${good}` }, 200);
    await send('/basic', { authorization: `Basic ${bad}` }, 401);
    await send('/basic', { 'proxy-authorization': `Basic ${bad}` }, 401);

    const token = jwtToken(JWT_SECRET);
    const forged = jwtToken('not-the-secret');
    secrets.set(JWT_SECRET, 'JWT signing secret');
    secrets.set(token, 'JWT');
    secrets.set(token.split('.')[2]!, 'JWT signature');
    secrets.set(forged.split('.')[2]!, 'forged JWT signature');
    await send('/jwt', { authorization: `Bearer ${token}` }, 200);
    await send(`/jwt?jwt=${token}`, {}, 200);
    await send('/jwt', { authorization: `Bearer ${forged}` }, 401);

    const h = hmacHeaders(HMAC_SECRET);
    const wrong = hmacHeaders('wrong-hmac-secret');
    secrets.set(HMAC_SECRET, 'HMAC secret');
    secrets.set(h.signature, 'HMAC signature');
    secrets.set(wrong.signature, 'wrong HMAC signature');
    await send('/hmac', { date: h.date, authorization: h.authorization }, 200);
    await send('/hmac', { date: wrong.date, authorization: wrong.authorization }, 401);
    await send(`/hmac?signature=${encodeURIComponent(h.signature)}`, { date: h.date, authorization: h.authorization }, 200);

    // An upstream failure after authentication: the gateway logs debug retries and a warning.
    await send(`/down/x?apikey=${API_KEY}`, { authorization: `Bearer ${token}` }, 502);
  });

  it('finds none of them in the process output or the access log', async () => {
    await gw.stop();
    const output = gw.output();
    const access = readFileSync(accessLogFile, 'utf8');
    const lines = access.trim().split('\n');
    // The logs are really there: one access line per request, debug output present.
    expect(lines.length).toBe(16);
    for (const l of lines) JSON.parse(l);
    expect(access).toContain('"status":401');
    expect(access).toContain('apikey=[REDACTED]');
    expect(access).toContain('"username":"alice"');
    expect(output).toContain('"level":20');
    expect(output).toContain('upstream request failed');
    for (const [secret, what] of secrets) {
      expect(output.includes(secret), `${what} in the gateway output`).toBe(false);
      expect(access.includes(secret), `${what} in the access log`).toBe(false);
      // Percent-encoded forms too (query strings).
      expect(access.includes(encodeURIComponent(secret)), `${what} (encoded) in the access log`).toBe(false);
    }
  });
});
