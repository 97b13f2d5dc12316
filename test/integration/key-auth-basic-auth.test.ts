/**
 * key-auth and basic-auth end to end: a real gateway process (built dist/) in front of a
 * real upstream that echoes what it received. Statuses, Kong's error bodies and
 * WWW-Authenticate challenges, the X-Consumer-* headers the upstream sees, hide_credentials,
 * anonymous as a logical OR across both plugins, and a consumer-scoped plugin that only
 * applies once authentication has identified the consumer.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type Gateway } from '../helpers/gateway.js';
import { rawRequest } from '../helpers/raw-http.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

const ALICE_ID = '5d0c3a4b-1e2f-4a5b-8c9d-0e1f2a3b4c5d';
const ALICE_KEY_ID = '7e6d5c4b-3a29-4180-9f8e-7d6c5b4a3928';
const BOB_ID = '9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d';
const BOB_SHA1 = createHash('sha1').update('b0b-pass').update(BOB_ID).digest('hex');
const QUERY_SECRET = 'alice-key-in-a-query-string';

function config(upstream: Upstream): string {
  return `_format_version: "3.0"
services:
  - name: echo
    url: ${upstream.url}
    routes:
      - name: key
        paths: [/key]
        plugins:
          - name: key-auth
            config: { realm: api }
      - name: key-hidden
        paths: [/key-hidden]
        plugins:
          - name: key-auth
            config: { hide_credentials: true, key_names: [apikey, x-api-key] }
      - name: key-body
        paths: [/key-body]
        plugins:
          - name: key-auth
            config: { key_in_body: true, hide_credentials: true }
      - name: basic
        paths: [/basic]
        plugins:
          - name: basic-auth
      - name: basic-hidden
        paths: [/basic-hidden]
        plugins:
          - name: basic-auth
            config: { hide_credentials: true, realm: staff }
      - name: either
        paths: [/either]
        plugins:
          - name: key-auth
            config: { anonymous: anon }
          - name: basic-auth
            config: { anonymous: anon }
      - name: missing-anonymous
        paths: [/missing-anonymous]
        plugins:
          - name: key-auth
            config: { anonymous: ghost }
plugins:
  - name: request-termination
    route: key
    consumer: mallory
    config: { status_code: 403, message: account suspended }
consumers:
  - username: alice
    id: ${ALICE_ID}
    custom_id: alice-123
    keyauth_credentials:
      - { id: ${ALICE_KEY_ID}, key: alice-key }
      - { key: ${QUERY_SECRET} }
    basicauth_credentials:
      - { username: alice, password: "open:sesame" }
  - username: bob
    id: ${BOB_ID}
    basicauth_credentials:
      - { username: bob, password: "${BOB_SHA1}" }
  - username: mallory
    keyauth_credentials:
      - { key: mallory-key }
  - username: anon
`;
}

let upstream: Upstream;
let gw: Gateway;

beforeAll(async () => {
  upstream = await startUpstream();
  // Debug logging on purpose: nothing the gateway logs may contain a key.
  gw = await startGateway(config(upstream), { workers: 2, env: { PORTCULLIS_LOG_LEVEL: 'debug' } });
});

afterAll(async () => {
  await gw?.stop();
  await upstream?.close();
});

interface Seen {
  url: string;
  headers: Record<string, string | undefined>;
  body: string;
}

async function call(path: string, headers: Record<string, string> = {}, init: RequestInit = {}) {
  const res = await fetch(gw.url(path), { ...init, headers });
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: () => JSON.parse(text) as Record<string, unknown> };
}

/** A request that must reach the upstream: returns what the upstream saw. */
async function proxied(path: string, headers: Record<string, string> = {}, init: RequestInit = {}): Promise<Seen> {
  const r = await call(path, headers, init);
  expect(r.status, r.text).toBe(200);
  return JSON.parse(r.text) as Seen;
}

async function expect401(path: string, headers: Record<string, string>, message: string, challenge: string): Promise<void> {
  const r = await call(path, headers);
  expect(r.status).toBe(401);
  expect(r.headers.get('www-authenticate')).toBe(challenge);
  expect(r.headers.get('content-type')).toBe('application/json; charset=utf-8');
  expect(r.json()).toEqual({ message, request_id: r.headers.get('x-kong-request-id') });
}

/** Raw request with repeated header lines (fetch would merge them). */
async function raw(path: string, lines: string[]): Promise<{ status: number | null; body: string; text: string }> {
  const head = [`GET ${path} HTTP/1.1`, `Host: 127.0.0.1:${gw.proxyPort}`, ...lines, 'Connection: close', '', ''].join('\r\n');
  const r = await rawRequest(gw.proxyPort, head);
  return { status: r.status, text: r.text, body: r.text.slice(r.text.indexOf('\r\n\r\n') + 4) };
}

const basic = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;

describe('key-auth', () => {
  it('401 "No API key found in request" with WWW-Authenticate: Key realm="api"', async () => {
    await expect401('/key', {}, 'No API key found in request', 'Key realm="api"');
  });

  it('401 "Unauthorized" for an unknown key', async () => {
    await expect401('/key', { apikey: 'nope' }, 'Unauthorized', 'Key realm="api"');
  });

  it('renders the error for the Accept header, as Kong does', async () => {
    const r = await call('/key', { accept: 'text/plain' });
    expect(r.status).toBe(401);
    expect(r.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(r.text).toContain('No API key found in request');
  });

  it('401 "Duplicate API key found" for a repeated header line or a repeated query argument', async () => {
    const dupHeader = await raw('/key', ['apikey: alice-key', 'apikey: alice-key']);
    expect(dupHeader.status).toBe(401);
    expect(dupHeader.text).toMatch(/\r\nWWW-Authenticate: Key realm="api"\r\n/i);
    expect(JSON.parse(dupHeader.body).message).toBe('Duplicate API key found');
    const r = await call('/key?apikey=alice-key&apikey=mallory-key');
    expect(r.status).toBe(401);
    expect(r.json().message).toBe('Duplicate API key found');
  });

  it('authenticates: the upstream gets the X-Consumer-* headers, forged ones are overwritten or cleared', async () => {
    const seen = await proxied('/key', {
      apikey: 'alice-key',
      'x-consumer-id': 'forged',
      'x-consumer-username': 'forged',
      'x-anonymous-consumer': 'true',
      'x-credential-identifier': 'forged',
    });
    expect(seen.headers['x-consumer-id']).toBe(ALICE_ID);
    expect(seen.headers['x-consumer-custom-id']).toBe('alice-123');
    expect(seen.headers['x-consumer-username']).toBe('alice');
    expect(seen.headers['x-credential-identifier']).toBe(ALICE_KEY_ID);
    expect(seen.headers['x-anonymous-consumer']).toBeUndefined();
    expect(seen.headers['apikey']).toBe('alice-key');
  });

  it('clears a forged X-Consumer-Custom-ID for a consumer without one', async () => {
    // mallory is suspended on /key: use the OR route, where the key identifies mallory.
    const seen = await proxied('/either', { apikey: 'mallory-key', 'x-consumer-custom-id': 'forged' });
    expect(seen.headers['x-consumer-username']).toBe('mallory');
    expect(seen.headers['x-consumer-custom-id']).toBeUndefined();
  });

  it('accepts the key in the query string and, without hide_credentials, passes it on', async () => {
    const seen = await proxied(`/key?page=2&apikey=${QUERY_SECRET}`);
    expect(seen.headers['x-consumer-username']).toBe('alice');
    expect(seen.url).toBe(`/?page=2&apikey=${QUERY_SECRET}`); // strip_path
  });

  it('hide_credentials strips the matched name from the headers and the query, nothing else', async () => {
    const seen = await proxied('/key-hidden?a=1&apikey=alice-key&b=2', { apikey: 'alice-key', 'x-api-key': 'other' });
    expect(seen.headers['x-consumer-username']).toBe('alice');
    expect(seen.headers['apikey']).toBeUndefined();
    expect(seen.headers['x-api-key']).toBe('other');
    expect(seen.url).toBe('/?a=1&b=2');
    const second = await proxied('/key-hidden', { 'x-api-key': 'alice-key' });
    expect(second.headers['x-api-key']).toBeUndefined();
  });

  it('key_in_body + hide_credentials: finds the key in a form body and forwards the body without it', async () => {
    const body = 'qty=3&apikey=alice-key&note=a%20b';
    const seen = await proxied('/key-body', { 'content-type': 'application/x-www-form-urlencoded' }, { method: 'POST', body });
    expect(seen.headers['x-consumer-username']).toBe('alice');
    expect(seen.body).toBe('qty=3&note=a%20b');
    expect(seen.headers['content-length']).toBe(String(Buffer.byteLength('qty=3&note=a%20b')));
    const json = await proxied('/key-body', { 'content-type': 'application/json' }, { method: 'POST', body: '{"apikey":"alice-key","n":1}' });
    expect(JSON.parse(json.body)).toEqual({ n: 1 });
  });

  it('a consumer-scoped plugin applies once key-auth has identified that consumer', async () => {
    const r = await call('/key', { apikey: 'mallory-key' });
    expect(r.status).toBe(403);
    expect(r.json()).toEqual({ message: 'account suspended' });
    await proxied('/key', { apikey: 'alice-key' });
  });

  it('never logs a key', () => {
    expect(gw.output()).not.toContain(QUERY_SECRET);
    expect(gw.output()).not.toContain('alice-key');
  });
});

describe('basic-auth', () => {
  it('401 "Unauthorized" with WWW-Authenticate: Basic realm="service" without, or with bad, credentials', async () => {
    const challenge = 'Basic realm="service"';
    await expect401('/basic', {}, 'Unauthorized', challenge);
    await expect401('/basic', { authorization: basic('alice', 'open:sesam') }, 'Unauthorized', challenge);
    await expect401('/basic', { authorization: basic('nobody', 'x') }, 'Unauthorized', challenge);
    await expect401('/basic', { authorization: 'Basic %%%%' }, 'Unauthorized', challenge);
    await expect401('/basic', { authorization: `Basic ${Buffer.from('alice').toString('base64')}` }, 'Unauthorized', challenge);
    await expect401('/basic', { authorization: 'Bearer abc' }, 'Unauthorized', challenge);
    await expect401('/basic-hidden', {}, 'Unauthorized', 'Basic realm="staff"');
  });

  it('authenticates a password with a colon; X-Credential-Identifier is the username', async () => {
    for (let i = 0; i < 3; i++) {
      const seen = await proxied('/basic', { authorization: basic('alice', 'open:sesame'), 'x-consumer-id': 'forged' });
      expect(seen.headers['x-consumer-id']).toBe(ALICE_ID);
      expect(seen.headers['x-consumer-username']).toBe('alice');
      expect(seen.headers['x-credential-identifier']).toBe('alice');
      expect(seen.headers['x-anonymous-consumer']).toBeUndefined();
      expect(seen.headers['authorization']).toBe(basic('alice', 'open:sesame'));
    }
  });

  it("authenticates against a Kong-hashed password, sha1(password .. consumer_id)", async () => {
    const seen = await proxied('/basic', { authorization: basic('bob', 'b0b-pass') });
    expect(seen.headers['x-consumer-id']).toBe(BOB_ID);
    await expect401('/basic', { authorization: basic('bob', BOB_SHA1) }, 'Unauthorized', 'Basic realm="service"');
  });

  it('401 for a repeated Authorization header line', async () => {
    const one = basic('bob', 'b0b-pass');
    const r = await raw('/basic', [`Authorization: ${one}`, `Authorization: ${one}`]);
    expect(r.status).toBe(401);
    expect(r.text).toMatch(/\r\nWWW-Authenticate: Basic realm="service"\r\n/i);
  });

  it('hide_credentials removes Authorization before the upstream', async () => {
    const seen = await proxied('/basic-hidden', { authorization: basic('bob', 'b0b-pass') });
    expect(seen.headers['x-consumer-username']).toBe('bob');
    expect(seen.headers['authorization']).toBeUndefined();
  });
});

describe('anonymous: logical OR across key-auth and basic-auth', () => {
  it('no credentials: the anonymous consumer, flagged for the upstream', async () => {
    const seen = await proxied('/either', { 'x-credential-identifier': 'forged' });
    expect(seen.headers['x-consumer-username']).toBe('anon');
    expect(seen.headers['x-anonymous-consumer']).toBe('true');
    expect(seen.headers['x-credential-identifier']).toBeUndefined();
  });

  it('a key authenticates and basic-auth is skipped, even with bad basic credentials', async () => {
    const seen = await proxied('/either', { apikey: 'alice-key', authorization: basic('bob', 'wrong') });
    expect(seen.headers['x-consumer-username']).toBe('alice');
    expect(seen.headers['x-credential-identifier']).toBe(ALICE_KEY_ID);
  });

  it('a bad key falls through to basic-auth, which authenticates', async () => {
    const seen = await proxied('/either', { apikey: 'nope', authorization: basic('bob', 'b0b-pass') });
    expect(seen.headers['x-consumer-username']).toBe('bob');
    expect(seen.headers['x-credential-identifier']).toBe('bob');
    expect(seen.headers['x-anonymous-consumer']).toBeUndefined();
  });

  it('both failing: anonymous', async () => {
    const seen = await proxied('/either', { apikey: 'nope', authorization: basic('bob', 'wrong') });
    expect(seen.headers['x-consumer-username']).toBe('anon');
    expect(seen.headers['x-anonymous-consumer']).toBe('true');
  });

  it('500 when the anonymous consumer does not exist', async () => {
    const r = await call('/missing-anonymous');
    expect(r.status).toBe(500);
    expect(r.json().message).toBe("anonymous consumer ghost is configured but doesn't exist");
    // A valid key still authenticates.
    await proxied('/missing-anonymous', { apikey: 'alice-key' });
  });
});
