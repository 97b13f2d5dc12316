/**
 * hmac-auth and acl end to end: a real gateway process (built dist/) in front of a real
 * upstream that echoes what it received. Signatures are made here with node:crypto the
 * way a Kong client makes them. Checked on the wire: statuses, Kong's error bodies and
 * WWW-Authenticate, the X-Consumer-* and X-Consumer-Groups headers the upstream sees, the
 * clock-skew window, the Digest check on real bodies (sized and chunked), replay
 * protection, and acl after hmac-auth on the same route (with and without anonymous).
 */
import { createHash, createHmac } from 'node:crypto';
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type Gateway } from '../helpers/gateway.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

const ALICE_ID = '0b9b3f6e-5d4c-4e2a-9f1b-7c6d5e4f3a21';

function config(upstream: Upstream, extra = ''): string {
  return `_format_version: "3.0"
consumers:
  - id: ${ALICE_ID}
    username: alice
    custom_id: alice-001
    hmacauth_credentials:
      - { username: alice-hmac, secret: alice-secret }
    acls:
      - group: admins
      - group: readers
  - username: bob
    hmacauth_credentials:
      - { username: bob-hmac, secret: bob-secret }
    acls:
      - group: readers
  - username: mallory
    hmacauth_credentials:
      - { username: mallory-hmac, secret: mallory-secret }
    acls:
      - group: banned
  - username: guest
    acls:
      - group: guests
services:
  - name: echo
    url: ${upstream.url}
    routes:
      - name: hmac
        paths: [/hmac]
        plugins:
          - name: hmac-auth
            config: { clock_skew: 60, realm: api }
      - name: hmac-body
        paths: [/hmac-body]
        plugins:
          - name: hmac-auth
            config:
              validate_request_body: true
              enforce_headers: [date, digest, "@request-target"]
              hide_credentials: true
      - name: hmac-body-loose
        paths: [/loose]
        plugins:
          - name: hmac-auth
            config: { validate_request_body: true }
      - name: admin
        paths: [/admin]
        plugins:
          - name: acl
            config: { allow: [admins] }
          - name: hmac-auth
      - name: public
        paths: [/public]
        plugins:
          - name: hmac-auth
            config: { anonymous: guest }
          - name: acl
            config: { deny: [banned] }
      - name: guests
        paths: [/guests]
        plugins:
          - name: hmac-auth
            config: { anonymous: guest }
          - name: acl
            config: { allow: [guests, admins], hide_groups_header: true }
      - name: acl-only
        paths: [/acl-only]
        plugins:
          - name: acl
            config: { allow: [admins] }
${extra}`;
}

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One request on its own connection; headers as a list so a name can repeat. */
function send(port: number, method: string, path: string, headers: Array<[string, string]>, body?: Buffer, chunked = false): Promise<Reply> {
  const flat: string[] = ['host', 'api.test'];
  for (const [k, v] of headers) flat.push(k, v);
  if (body !== undefined && !chunked) flat.push('content-length', String(body.length));
  if (body !== undefined && chunked) flat.push('transfer-encoding', 'chunked');
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers: flat, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.on('error', reject);
    if (body !== undefined && chunked) {
      // Two chunks, so the gateway sees a body without a length.
      const half = Math.floor(body.length / 2);
      req.write(body.subarray(0, half));
      setTimeout(() => req.end(body.subarray(half)), 20);
    } else {
      req.end(body);
    }
  });
}

const httpDate = (offsetSeconds = 0): string => new Date(Date.now() + offsetSeconds * 1000).toUTCString();
const digestOf = (b: Buffer): string => `SHA-256=${createHash('sha256').update(b).digest('base64')}`;

/** The Authorization value a Kong hmac client sends for these signed `lines`. */
function hmacHeader(username: string, secret: string, names: string[], lines: string[], algorithm = 'hmac-sha256'): string {
  const hash = algorithm.slice('hmac-'.length);
  const signature = createHmac(hash, secret).update(lines.join('\n')).digest('base64');
  return `hmac username="${username}", algorithm="${algorithm}", headers="${names.join(' ')}", signature="${signature}"`;
}

/** Headers of a request signed over its date (and an optional nonce header). */
function signed(username: string, secret: string, opts: { offset?: number; nonce?: string; dateHeader?: string } = {}): Array<[string, string]> {
  const date = httpDate(opts.offset ?? 0);
  const dateHeader = opts.dateHeader ?? 'date';
  const names = [dateHeader];
  const lines = [`${dateHeader}: ${date}`];
  const out: Array<[string, string]> = [[dateHeader, date]];
  if (opts.nonce !== undefined) {
    names.push('x-nonce');
    lines.push(`x-nonce: ${opts.nonce}`);
    out.push(['x-nonce', opts.nonce]);
  }
  out.push(['authorization', hmacHeader(username, secret, names, lines)]);
  return out;
}

const upstreamSaw = (r: Reply): { headers: Record<string, string>; body: string; method: string } => JSON.parse(r.body);

function expectError(r: Reply, status: number, message: string): void {
  expect(r.status, r.body).toBe(status);
  expect(r.headers['content-type']).toMatch(/^application\/json/);
  const doc = JSON.parse(r.body) as { message: string; request_id: string };
  expect(doc.message).toBe(message);
  expect(doc.request_id).toMatch(/^[0-9a-f]{32}$/);
}

let upstream: Upstream;
let gw: Gateway;
let replayGw: Gateway;

beforeAll(async () => {
  upstream = await startUpstream();
  gw = await startGateway(config(upstream));
  // Replay protection is per worker thread: one worker, so every replay meets the same table.
  const replayRoute = `      - name: replay
        paths: [/replay]
        plugins:
          - name: hmac-auth
            config: { replay_protection: true, clock_skew: 60 }
`;
  replayGw = await startGateway(config(upstream, replayRoute), { workers: 1 });
});

afterAll(async () => {
  await gw?.stop();
  await replayGw?.stop();
  await upstream?.close();
});

describe('hmac-auth on the wire', () => {
  it('a valid signature reaches the upstream as the consumer, with spoofed identity headers replaced', async () => {
    const headers = signed('alice-hmac', 'alice-secret');
    const r = await send(gw.proxyPort, 'GET', '/hmac/orders?id=7', [...headers, ['x-consumer-username', 'root'], ['x-anonymous-consumer', 'true']]);
    expect(r.status, r.body).toBe(200);
    const saw = upstreamSaw(r).headers;
    expect(saw['x-consumer-id']).toBe(ALICE_ID);
    expect(saw['x-consumer-username']).toBe('alice');
    expect(saw['x-consumer-custom-id']).toBe('alice-001');
    expect(saw['x-credential-identifier']).toBe('alice-hmac');
    expect(saw['x-anonymous-consumer']).toBeUndefined();
    expect(saw['authorization']).toBe(headers[1]![1]);
  });

  it('each failure: status, Kong message, WWW-Authenticate, and nothing reaches the upstream', async () => {
    const before = upstream.seen.length;
    const none = await send(gw.proxyPort, 'GET', '/hmac', [['date', httpDate()]]);
    expectError(none, 401, 'Unauthorized');
    expect(none.headers['www-authenticate']).toBe('hmac realm="api"');

    const noDate = signed('alice-hmac', 'alice-secret').filter(([k]) => k !== 'date');
    const r1 = await send(gw.proxyPort, 'GET', '/hmac', noDate);
    expectError(r1, 401, 'HMAC signature cannot be verified, a valid date or x-date header is required for HMAC Authentication');
    expect(r1.headers['www-authenticate']).toBe('hmac realm="api"');

    expectError(await send(gw.proxyPort, 'GET', '/hmac', signed('alice-hmac', 'wrong-secret')), 401, 'HMAC signature does not match');
    expectError(await send(gw.proxyPort, 'GET', '/hmac', signed('nobody-hmac', 'alice-secret')), 401, 'HMAC signature cannot be verified');
    expectError(await send(gw.proxyPort, 'GET', '/hmac', [['date', httpDate()], ['authorization', 'asd']]), 401, 'HMAC signature cannot be verified');

    const twice = signed('alice-hmac', 'alice-secret');
    twice.push(['authorization', twice[1]![1]]);
    const dup = await send(gw.proxyPort, 'GET', '/hmac', twice);
    expectError(dup, 401, 'HMAC signature cannot be verified');
    expect(dup.headers['www-authenticate']).toBe('hmac realm="api"');
    expect(upstream.seen.length).toBe(before);
  });

  it('clock skew: a Date outside clock_skew is refused, inside accepted; X-Date works too', async () => {
    expectError(
      await send(gw.proxyPort, 'GET', '/hmac', signed('alice-hmac', 'alice-secret', { offset: -120 })),
      401,
      'HMAC signature cannot be verified, a valid date or x-date header is required for HMAC Authentication',
    );
    expectError(
      await send(gw.proxyPort, 'GET', '/hmac', signed('alice-hmac', 'alice-secret', { offset: 120 })),
      401,
      'HMAC signature cannot be verified, a valid date or x-date header is required for HMAC Authentication',
    );
    expect((await send(gw.proxyPort, 'GET', '/hmac', signed('alice-hmac', 'alice-secret', { offset: -30 }))).status).toBe(200);
    expect((await send(gw.proxyPort, 'GET', '/hmac', signed('alice-hmac', 'alice-secret', { dateHeader: 'x-date' }))).status).toBe(200);
  });
});

describe('hmac-auth Digest check (validate_request_body) with real bodies', () => {
  function bodyRequest(body: Buffer, digest: string | null, names = ['date', 'digest', '@request-target']): Array<[string, string]> {
    const date = httpDate();
    const lines = names.map((n) => (n === 'date' ? `date: ${date}` : n === 'digest' ? `digest: ${digest ?? ''}` : '@request-target: post /hmac-body/payments'));
    const out: Array<[string, string]> = [['date', date], ['content-type', 'application/json']];
    if (digest !== null) out.push(['digest', digest]);
    out.push(['authorization', hmacHeader('bob-hmac', 'bob-secret', names, lines)]);
    return out;
  }

  it('passes a body whose Digest matches; the upstream gets the body and no Authorization', async () => {
    const body = Buffer.from(JSON.stringify({ amount: 10, currency: 'EUR' }));
    for (const chunked of [false, true]) {
      const r = await send(gw.proxyPort, 'POST', '/hmac-body/payments', bodyRequest(body, digestOf(body)), body, chunked);
      expect(r.status, r.body).toBe(200);
      const saw = upstreamSaw(r);
      expect(saw.body).toBe(body.toString());
      expect(saw.headers['authorization']).toBeUndefined();
      expect(saw.headers['x-consumer-username']).toBe('bob');
    }
  });

  it('401 when the body was changed, or has no Digest; 401 when digest is not signed (enforce_headers)', async () => {
    const body = Buffer.from('{"amount":10}');
    const tampered = Buffer.from('{"amount":99}');
    expectError(await send(gw.proxyPort, 'POST', '/hmac-body/payments', bodyRequest(body, digestOf(body)), tampered), 401, 'HMAC signature does not match');
    expectError(await send(gw.proxyPort, 'POST', '/hmac-body/payments', bodyRequest(body, null, ['date', 'digest', '@request-target']), body), 401, 'HMAC signature does not match');
    expectError(
      await send(gw.proxyPort, 'POST', '/hmac-body/payments', bodyRequest(body, digestOf(body), ['date', '@request-target']), body),
      401,
      'HMAC signature cannot be verified',
    );
  });

  it('without a Digest header only an empty body passes (Kong)', async () => {
    const empty = await send(gw.proxyPort, 'GET', '/loose', signed('bob-hmac', 'bob-secret'));
    expect(empty.status, empty.body).toBe(200);
    expectError(await send(gw.proxyPort, 'POST', '/loose', signed('bob-hmac', 'bob-secret'), Buffer.from('x=1')), 401, 'HMAC signature does not match');
    const body = Buffer.from('x=1');
    const withDigest = await send(gw.proxyPort, 'POST', '/loose', [...signed('bob-hmac', 'bob-secret'), ['digest', digestOf(body)]], body);
    expect(withDigest.status, withDigest.body).toBe(200);
    expect(upstreamSaw(withDigest).body).toBe('x=1');
  });
});

describe('hmac-auth replay_protection (not in Kong)', () => {
  it('refuses the same signature a second time, accepts a fresh one', async () => {
    const headers = signed('alice-hmac', 'alice-secret', { nonce: 'e2e-1' });
    expect((await send(replayGw.proxyPort, 'GET', '/replay', headers)).status).toBe(200);
    const again = await send(replayGw.proxyPort, 'GET', '/replay', headers);
    expectError(again, 401, 'HMAC signature cannot be verified, the signature has already been used');
    expect(again.headers['www-authenticate']).toBe('hmac');
    expect((await send(replayGw.proxyPort, 'GET', '/replay', signed('alice-hmac', 'alice-secret', { nonce: 'e2e-2' }))).status).toBe(200);
  });

  it('is off unless configured: the same gateway accepts replays on a Kong-default route', async () => {
    const headers = signed('alice-hmac', 'alice-secret', { nonce: 'kong-default' });
    expect((await send(replayGw.proxyPort, 'GET', '/hmac', headers)).status).toBe(200);
    expect((await send(replayGw.proxyPort, 'GET', '/hmac', headers)).status).toBe(200);
  });
});

describe('acl after hmac-auth', () => {
  it('allow: a consumer in the group passes with X-Consumer-Groups; others get 403', async () => {
    const ok = await send(gw.proxyPort, 'GET', '/admin', [...signed('alice-hmac', 'alice-secret'), ['x-consumer-groups', 'spoofed']]);
    expect(ok.status, ok.body).toBe(200);
    expect(upstreamSaw(ok).headers['x-consumer-groups']).toBe('admins, readers');
    expectError(await send(gw.proxyPort, 'GET', '/admin', signed('bob-hmac', 'bob-secret')), 403, 'You cannot consume this service');
    // hmac-auth (no anonymous) answers before acl for an unauthenticated request.
    const anon = await send(gw.proxyPort, 'GET', '/admin', []);
    expectError(anon, 401, 'Unauthorized');
    expect(anon.headers['www-authenticate']).toBe('hmac');
  });

  it('deny: a listed group gets 403, others pass', async () => {
    expectError(await send(gw.proxyPort, 'GET', '/public', signed('mallory-hmac', 'mallory-secret')), 403, 'You cannot consume this service');
    const ok = await send(gw.proxyPort, 'GET', '/public', signed('bob-hmac', 'bob-secret'));
    expect(ok.status).toBe(200);
    expect(upstreamSaw(ok).headers['x-consumer-groups']).toBe('readers');
  });

  it('the anonymous consumer meets the acl with its own groups', async () => {
    const r = await send(gw.proxyPort, 'GET', '/public', [['authorization', 'not hmac']]);
    expect(r.status, r.body).toBe(200);
    const saw = upstreamSaw(r).headers;
    expect(saw['x-consumer-username']).toBe('guest');
    expect(saw['x-anonymous-consumer']).toBe('true');
    expect(saw['x-consumer-groups']).toBe('guests');
    expect(saw['x-credential-identifier']).toBeUndefined();
  });

  it('hide_groups_header: allowed without the header, even one the client sent', async () => {
    const r = await send(gw.proxyPort, 'GET', '/guests', [['x-consumer-groups', 'admins']]);
    expect(r.status, r.body).toBe(200);
    expect(upstreamSaw(r).headers['x-consumer-groups']).toBeUndefined();
    const a = await send(gw.proxyPort, 'GET', '/guests', signed('alice-hmac', 'alice-secret'));
    expect(a.status).toBe(200);
    expectError(await send(gw.proxyPort, 'GET', '/guests', signed('bob-hmac', 'bob-secret')), 403, 'You cannot consume this service');
  });

  it('acl without an authentication plugin: 401 Unauthorized', async () => {
    const r = await send(gw.proxyPort, 'GET', '/acl-only', []);
    expectError(r, 401, 'Unauthorized');
    expect(r.headers['www-authenticate']).toBeUndefined();
  });
});
