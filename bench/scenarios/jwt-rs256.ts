/**
 * `jwt-rs256`: the plain proxy plus the jwt plugin verifying an RS256 token (2048-bit key).
 * Every request repeats the same token, so after the first request per worker the verified-token
 * cache answers: this measures the cached path, which is what steady API traffic sees. nginx
 * (without njs or Lua) cannot verify a JWT: no nginx row.
 */
import { generateKeyPairSync, sign } from 'node:crypto';
import type { Scenario } from './types.js';

const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const b64url = (b: Buffer | string): string => Buffer.from(b).toString('base64url');
const ISSUER = 'bench-issuer';
const header = b64url(JSON.stringify({ alg: 'RS256', typ: 'JWT' }));
// Valid for a day: longer than any bench run.
const payload = b64url(JSON.stringify({ iss: ISSUER, sub: 'bench', exp: Math.floor(Date.now() / 1000) + 86_400 }));
const signature = b64url(sign('sha256', Buffer.from(`${header}.${payload}`), privateKey));
const TOKEN = `${header}.${payload}.${signature}`;

const jwtRs256: Scenario = {
  name: 'jwt-rs256',
  description: 'GET / with an RS256 bearer token verified by the jwt plugin (verified-token cache on)',
  request: { method: 'GET', path: '/', headers: { authorization: `Bearer ${TOKEN}` } },
  baseline: 'plain',
  gatewayConfig: (ctx) => ({
    _format_version: '3.0',
    services: [{ name: 'origin', url: ctx.upstreamUrl, routes: [{ name: 'all', paths: ['/'] }] }],
    consumers: [
      {
        username: 'bench',
        jwt_secrets: [{ key: ISSUER, algorithm: 'RS256', rsa_public_key: publicKey.export({ type: 'spki', format: 'pem' }).toString() }],
      },
    ],
    plugins: [{ name: 'jwt', config: { claims_to_verify: ['exp'] } }],
  }),
  nginx: null,
};

export default jwtRs256;
