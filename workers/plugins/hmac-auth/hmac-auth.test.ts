/**
 * hmac-auth: the config a Kong 3.x user writes (through the real loader), and the handler
 * driven through a RequestContext and a ConsumerIndex built from that config. Signatures
 * are computed here with node:crypto, independently of the handler's code. Kong sources:
 * kong/plugins/hmac-auth/{schema,access}.lua, spec/03-plugins/19-hmac-auth/03-access_spec.lua.
 */
import { createHash, createHmac } from 'node:crypto';
import RE2 from 're2';
import { describe, expect, it, vi } from 'vitest';
import { loadConfigText } from '../../../src/config/load.js';
import type { GatewayConfig } from '../../../src/config/types.js';
import { ConsumerIndex } from '../../auth/consumer-index.js';
import { safeEqual } from '../../auth/secrets.js';
import type { Downstream, RequestBodySink } from '../../http/downstream.js';
import { RequestContext } from '../../http/request-context.js';
import type { LocalReply, PluginEnv, PluginHandler, Verdict } from '../../pipeline/types.js';
import { pluginDefinitions } from '../index.js';
import { pluginSchemas } from '../registry-schemas.js';
import { parseHmacAuthorization } from './authorization.js';
import { HMAC_BODY_LIMIT, MESSAGES, signingString } from './handler.js';
import { parseHttpDate } from './http-date.js';
import { hmacAuth } from './index.js';
import type { HmacAuthConfig } from './schema.js';

// The signature must go through the constant-time compare: wrap it to count calls.
vi.mock('../../auth/secrets.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../auth/secrets.js')>();
  return { safeEqual: vi.fn(real.safeEqual) };
});

const HEAD = '_format_version: "3.0"\n';
const CONSUMERS = `consumers:
  - username: bob
    custom_id: "1234"
    hmacauth_credentials:
      - { username: bob-hmac, secret: bob-secret }
    acls:
      - group: readers
  - username: carol
    hmacauth_credentials:
      - { username: carol-hmac, secret: carol-secret }
  - username: nobody
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

function at(text: string, needle: string): string {
  const index = text.indexOf(needle);
  if (index < 0) throw new Error(`'${needle}' not found`);
  const before = text.slice(0, index).split('\n');
  return `${before.length}:${before[before.length - 1]!.length + 1}`;
}

const globalPlugin = (config: string): string => `${HEAD}${CONSUMERS}plugins:\n  - name: hmac-auth\n    config: ${config}\n`;

const errors: string[] = [];
function handlerFor(config: string): PluginHandler {
  const c = load(globalPlugin(config));
  const env = { workerId: 0, log: { info() {}, warn() {}, error: (_o: object, m?: string) => errors.push(m ?? '') }, consumers: new ConsumerIndex(c.consumers) };
  return hmacAuth.create(c.plugins[0]!.config as HmacAuthConfig, env as PluginEnv);
}

function request(headers: Record<string, string>, opts: { method?: string; path?: string; query?: string; repeated?: string[] } = {}): RequestContext {
  return new RequestContext(
    '0123456789abcdef0123456789abcdef',
    opts.method ?? 'GET',
    opts.path ?? '/orders',
    opts.query ?? '',
    { host: 'api.example.com', ...headers },
    opts.repeated ?? null,
    'api.example.com',
    8000,
    'http',
    '10.0.0.7',
    '10.0.0.7',
    0,
  );
}

/** An HTTP date `offset` seconds from now, as clients send it. */
const httpDate = (offset = 0): string => new Date(Date.now() + offset * 1000).toUTCString();

const NODE: Record<string, string> = { 'hmac-sha1': 'sha1', 'hmac-sha256': 'sha256', 'hmac-sha384': 'sha384', 'hmac-sha512': 'sha512', 'hmac-md5': 'md5' };
const sign = (secret: string, algorithm: string, text: string): string => createHmac(NODE[algorithm]!, secret).update(text).digest('base64');

function authorization(username: string, algorithm: string, headers: string, signature: string): string {
  return `hmac username="${username}", algorithm="${algorithm}", headers="${headers}", signature="${signature}"`;
}

/** A request signed over `date` (and whatever else `lines`/`names` say) by bob-hmac. */
function signedRequest(
  opts: { algorithm?: string; names?: string; lines?: (date: string) => string; header?: string; extra?: Record<string, string>; secret?: string; username?: string } = {},
  reqOpts: Parameters<typeof request>[1] = {},
): RequestContext {
  const date = httpDate();
  const algorithm = opts.algorithm ?? 'hmac-sha256';
  const text = opts.lines ? opts.lines(date) : `date: ${date}`;
  const value = authorization(opts.username ?? 'bob-hmac', algorithm, opts.names ?? 'date', sign(opts.secret ?? 'bob-secret', algorithm, text));
  return request({ date, [opts.header ?? 'authorization']: value, ...opts.extra }, reqOpts);
}

function sync(v: ReturnType<NonNullable<PluginHandler['access']>>): Verdict {
  expect(v).not.toBeInstanceOf(Promise);
  return v as Verdict;
}

function expect401(v: Verdict, message: string, www = 'hmac'): void {
  expect(v).toMatchObject({ status: 401, message });
  expect((v as LocalReply).headers).toEqual([['WWW-Authenticate', www]]);
}

/** A Downstream that delivers `body` (in two chunks) once attached. */
function feed(ctx: RequestContext, body: Buffer, chunked = false): void {
  const ds: Downstream = {
    aborted: false,
    finished: false,
    headSent: false,
    hasBody: true,
    contentLength: chunked ? -1 : body.length,
    attachBody(sink: RequestBodySink) {
      setImmediate(() => {
        const half = Math.floor(body.length / 2);
        sink.onBodyChunk(body.subarray(0, half));
        sink.onBodyChunk(body.subarray(half));
        sink.onBodyEnd();
      });
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
    retractHead: () => false,
  };
  ctx.downstream = ds;
}

// ---------------------------------------------------------------------------------------

describe('hmac-auth config (Kong schema.lua, through the loader)', () => {
  it("fills Kong's defaults, plus replay_protection off", () => {
    const p = load(`${HEAD}plugins:\n  - name: hmac-auth\n`).plugins[0]!;
    expect(p.config).toEqual({
      hide_credentials: false,
      clock_skew: 300,
      anonymous: null,
      validate_request_body: false,
      enforce_headers: [],
      algorithms: ['hmac-sha1', 'hmac-sha256', 'hmac-sha384', 'hmac-sha512'],
      realm: null,
      replay_protection: false,
    });
    expect(p.protocols).toEqual(['grpc', 'grpcs', 'http', 'https']);
  });

  it('loads the config a Kong user writes unchanged', () => {
    const c = load(globalPlugin('{ clock_skew: 3000, realm: test-realm, enforce_headers: [date, request-line], algorithms: [hmac-sha1, hmac-sha256], validate_request_body: true, hide_credentials: true, anonymous: nobody }'));
    expect(c.plugins[0]!.config).toMatchObject({ clock_skew: 3000, realm: 'test-realm', enforce_headers: ['date', 'request-line'], algorithms: ['hmac-sha1', 'hmac-sha256'], anonymous: 'nobody' });
  });

  it('refuses an unknown algorithm, a clock_skew of 0 and unknown fields, with positions', () => {
    const text = globalPlugin('{ algorithms: [hmac-md5], clock_skew: 0, nonce: true }');
    expect(issues(text)).toEqual([
      `${at(text, 'hmac-md5')} plugins[0].config.algorithms[0]: expected one of: hmac-sha1, hmac-sha256, hmac-sha384, hmac-sha512`,
      `${at(text, '0, nonce')} plugins[0].config.clock_skew: value must be greater than 0`,
      `${at(text, 'nonce')} plugins[0].config.nonce: unknown field`,
    ]);
  });

  it('cannot be scoped to a consumer (typedefs.no_consumer)', () => {
    const text = `${HEAD}consumers:\n  - username: bob\n    plugins:\n      - name: hmac-auth\n`;
    expect(issues(text)).toEqual([`${at(text, 'hmac-auth')} consumers[0].plugins[0].name: plugin 'hmac-auth' cannot be applied to a consumer`]);
  });

  it('registers with PRIORITY 1030 in both lists', () => {
    expect(hmacAuth.priority).toBe(1030);
    expect(pluginSchemas.get('hmac-auth')).toMatchObject({ priority: 1030, noConsumer: true });
    expect(pluginDefinitions.get('hmac-auth')).toBe(hmacAuth);
  });
});

describe('hmac-auth: failures (status, message, WWW-Authenticate)', () => {
  const h = handlerFor('{}');

  it('401 Unauthorized without Authorization or Proxy-Authorization', () => {
    expect401(sync(h.access!(request({ date: httpDate() }))), 'Unauthorized');
  });

  it('puts the realm in the challenge', () => {
    expect401(sync(handlerFor('{ realm: test-realm }').access!(request({}))), 'Unauthorized', 'hmac realm="test-realm"');
  });

  it('401 without Date or X-Date, or with one outside clock_skew, or not an HTTP date', () => {
    const valid = signedRequest().headers['authorization']!;
    expect401(sync(h.access!(request({ authorization: valid }))), MESSAGES.date);
    expect401(sync(h.access!(request({ authorization: valid, date: httpDate(-301) }))), MESSAGES.date);
    expect401(sync(h.access!(request({ authorization: valid, date: httpDate(301) }))), MESSAGES.date);
    expect401(sync(h.access!(request({ authorization: valid, date: new Date().toISOString() }))), MESSAGES.date);
    expect(MESSAGES.date).toBe('HMAC signature cannot be verified, a valid date or x-date header is required for HMAC Authentication');
  });

  it('401 "cannot be verified" for a value that is not hmac parameters', () => {
    for (const value of ['asd', 'hmac username', 'hmac :dXNlcm5hbWU6cGFzc3dvcmQ=', 'hmac username=,algorithm,headers,dXNlcm5hbWU6cGFzc3dvcmQ=']) {
      expect401(sync(h.access!(request({ date: httpDate(), authorization: value }))), 'HMAC signature cannot be verified');
      expect401(sync(h.access!(request({ date: httpDate(), 'proxy-authorization': value }))), 'HMAC signature cannot be verified');
    }
  });

  it('401 "cannot be verified" for an unknown username', () => {
    expect401(sync(h.access!(signedRequest({ username: 'mallory' }))), 'HMAC signature cannot be verified');
  });

  it('401 "does not match" for a wrong secret, a changed header, or a signature that is not base64', () => {
    expect401(sync(h.access!(signedRequest({ secret: 'guess' }))), 'HMAC signature does not match');
    const ctx = signedRequest({ names: 'date x-amount', lines: (d) => `date: ${d}\nx-amount: 10`, extra: { 'x-amount': '1000' } });
    expect401(sync(h.access!(ctx)), 'HMAC signature does not match');
    const bad = request({ date: httpDate(), authorization: authorization('bob-hmac', 'hmac-sha1', 'date', 'not really a base64 encoded value!!!') });
    expect401(sync(h.access!(bad)), 'HMAC signature does not match');
  });

  it('compares the signature with the constant-time compare', () => {
    const calls = vi.mocked(safeEqual).mock.calls.length;
    expect(sync(h.access!(signedRequest()))).toBeUndefined();
    expect(sync(h.access!(signedRequest({ secret: 'guess' })))).toMatchObject({ status: 401 });
    expect(vi.mocked(safeEqual).mock.calls.length).toBe(calls + 2);
  });

  it('401 for an algorithm the instance does not accept', () => {
    const only256 = handlerFor('{ algorithms: [hmac-sha256] }');
    expect(sync(only256.access!(signedRequest({ algorithm: 'hmac-sha256' })))).toBeUndefined();
    expect401(sync(only256.access!(signedRequest({ algorithm: 'hmac-sha1' }))), 'HMAC signature cannot be verified');
    expect401(sync(h.access!(signedRequest({ algorithm: 'hmac-md5' }))), 'HMAC signature cannot be verified');
  });

  it('401 when a header listed in enforce_headers is not signed', () => {
    const enforced = handlerFor('{ enforce_headers: [date, request-line] }');
    expect401(sync(enforced.access!(signedRequest())), 'HMAC signature cannot be verified');
    const ctx = signedRequest({ names: 'date request-line', lines: (d) => `date: ${d}\nGET /orders HTTP/1.1` });
    expect(sync(enforced.access!(ctx))).toBeUndefined();
  });

  it('refuses a repeated Authorization or Proxy-Authorization header (not in Kong)', () => {
    for (const name of ['authorization', 'proxy-authorization']) {
      const ctx = signedRequest({ header: name }, { repeated: [name] });
      expect401(sync(h.access!(ctx)), 'HMAC signature cannot be verified');
      expect(ctx.consumer).toBeNull();
    }
  });
});

describe('hmac-auth: valid signatures', () => {
  const h = handlerFor('{}');

  it('authenticates with each algorithm and sets the consumer headers (X-Credential-Identifier = username)', () => {
    for (const algorithm of ['hmac-sha1', 'hmac-sha256', 'hmac-sha384', 'hmac-sha512']) {
      const ctx = signedRequest({ algorithm, extra: { 'x-consumer-id': 'spoofed', 'x-anonymous-consumer': 'true' } });
      expect(sync(h.access!(ctx))).toBeUndefined();
      expect(ctx.consumer).toMatchObject({ username: 'bob', custom_id: '1234', groups: ['readers'] });
      expect(ctx.credential).toMatchObject({ identifier: 'bob-hmac' });
      expect(ctx.headers['x-consumer-id']).toBe(ctx.consumer!.id);
      expect(ctx.headers['x-consumer-username']).toBe('bob');
      expect(ctx.headers['x-consumer-custom-id']).toBe('1234');
      expect(ctx.headers['x-credential-identifier']).toBe('bob-hmac');
      expect(ctx.headers['x-anonymous-consumer']).toBeUndefined();
      expect(ctx.headers['authorization']).toMatch(/^hmac username="bob-hmac"/);
    }
  });

  it('accepts X-Date instead of Date, and X-Date wins when both are valid', () => {
    const xdate = httpDate(-5);
    const sig = sign('bob-secret', 'hmac-sha1', `x-date: ${xdate}`);
    const ctx = request({ 'x-date': xdate, authorization: authorization('bob-hmac', 'hmac-sha1', 'x-date', sig) });
    expect(sync(h.access!(ctx))).toBeUndefined();
    // An X-Date outside the window falls back to Date (Kong: x-date or date).
    const both = request({ 'x-date': httpDate(-4000), date: httpDate(), authorization: authorization('bob-hmac', 'hmac-sha1', 'x-date', sign('bob-secret', 'hmac-sha1', `x-date: ${httpDate(-4000)}`)) });
    expect(sync(h.access!(both))).toBeUndefined();
  });

  it('tries Proxy-Authorization first, then Authorization', () => {
    const valid = signedRequest().headers['authorization']!;
    const date = httpDate();
    expect(sync(h.access!(request({ date, 'proxy-authorization': valid, authorization: 'hello' })))).toBeUndefined();
    expect(sync(h.access!(request({ date, 'proxy-authorization': 'hmac username', authorization: valid })))).toBeUndefined();
    // A parsable but wrong Proxy-Authorization is the one checked.
    const wrong = authorization('bob-hmac', 'hmac-sha256', 'date', sign('nope', 'hmac-sha256', `date: ${date}`));
    expect401(sync(h.access!(request({ date, 'proxy-authorization': wrong, authorization: valid }))), 'HMAC signature does not match');
  });

  it('hide_credentials removes the header the signature came from, only that one', () => {
    const hide = handlerFor('{ hide_credentials: true }');
    const a = signedRequest({ extra: { 'proxy-authorization': 'Basic xyz' } });
    expect(sync(hide.access!(a))).toBeUndefined();
    expect(a.headers['authorization']).toBeUndefined();
    expect(a.headers['proxy-authorization']).toBe('Basic xyz');
    const p = signedRequest({ header: 'proxy-authorization', extra: { authorization: 'Bearer t' } });
    expect(sync(hide.access!(p))).toBeUndefined();
    expect(p.headers['proxy-authorization']).toBeUndefined();
    expect(p.headers['authorization']).toBe('Bearer t');
  });

  it("accepts base64 without padding (nginx's decode_base64)", () => {
    const date = httpDate();
    const sig = sign('bob-secret', 'hmac-sha256', `date: ${date}`).replace(/=+$/, '');
    expect(sync(h.access!(request({ date, authorization: authorization('bob-hmac', 'hmac-sha256', 'date', sig) })))).toBeUndefined();
  });

  it('signs @request-target, request-line, missing headers and header names as listed', () => {
    const ctx = request({ date: 'D', 'content-md5': 'md5', 'x-trace': '' }, { method: 'POST', path: '/orders/7', query: 'a=1&b' });
    expect(signingString(ctx, ['Date', '@request-target', 'request-line', 'content-md5', 'x-missing', 'x-trace', 'content_md5'])).toBe(
      'Date: D\n@request-target: post /orders/7?a=1&b\nPOST /orders/7?a=1&b HTTP/1.1\ncontent-md5: md5\nx-missing:\nx-trace: \ncontent_md5: md5',
    );
    const names = 'date @request-target request-line x-missing';
    const c2 = signedRequest(
      { names, lines: (d) => `date: ${d}\n@request-target: delete /orders/7?force=1\nDELETE /orders/7?force=1 HTTP/1.1\nx-missing:` },
      { method: 'DELETE', path: '/orders/7', query: 'force=1' },
    );
    expect(sync(h.access!(c2))).toBeUndefined();
    // Same signature, other path: refused.
    const c3 = request({ date: c2.headers['date']!, authorization: c2.headers['authorization']! }, { method: 'DELETE', path: '/orders/8', query: 'force=1' });
    expect401(sync(h.access!(c3)), 'HMAC signature does not match');
  });
});

describe('hmac-auth: anonymous (logical OR)', () => {
  it('falls back to the anonymous consumer (by username or id) on any failure', () => {
    const h = handlerFor('{ anonymous: nobody }');
    const ctx = request({ date: httpDate(), authorization: 'asd', 'x-consumer-username': 'bob' });
    expect(sync(h.access!(ctx))).toBeUndefined();
    expect(ctx.consumer).toMatchObject({ username: 'nobody' });
    expect(ctx.credential).toBeNull();
    expect(ctx.headers['x-anonymous-consumer']).toBe('true');
    expect(ctx.headers['x-consumer-username']).toBe('nobody');
    expect(ctx.headers['x-credential-identifier']).toBeUndefined();
    const nobodyId = ctx.consumer!.id;
    const byId = handlerFor(`{ anonymous: ${nobodyId} }`);
    const c2 = request({});
    expect(sync(byId.access!(c2))).toBeUndefined();
    expect(c2.consumer!.id).toBe(nobodyId);
  });

  it('still authenticates a valid signature as its own consumer', () => {
    const ctx = signedRequest();
    expect(sync(handlerFor('{ anonymous: nobody }').access!(ctx))).toBeUndefined();
    expect(ctx.consumer).toMatchObject({ username: 'bob' });
  });

  it('skips when an earlier auth plugin already found a credential', () => {
    const ctx = request({ authorization: 'garbage' });
    ctx.credential = { id: 'k', identifier: 'k' };
    expect(sync(handlerFor('{ anonymous: nobody }').access!(ctx))).toBeUndefined();
    expect(ctx.consumer).toBeNull();
    // Without anonymous the plugin is mandatory (logical AND).
    expect(sync(handlerFor('{}').access!(ctx))).toMatchObject({ status: 401 });
  });

  it('500 when the anonymous consumer does not exist', () => {
    errors.length = 0;
    const v = sync(handlerFor('{ anonymous: ghost }').access!(request({})));
    expect(v).toEqual({ status: 500, message: "anonymous consumer ghost is configured but doesn't exist" });
    expect(errors).toEqual(["anonymous consumer ghost is configured but doesn't exist"]);
  });
});

describe('hmac-auth: validate_request_body (Digest)', () => {
  const h = handlerFor('{ validate_request_body: true }');
  const digestOf = (b: string): string => `SHA-256=${createHash('sha256').update(b).digest('base64')}`;

  it('passes a request without body and without Digest, synchronously', () => {
    expect(sync(h.access!(signedRequest()))).toBeUndefined();
  });

  it('passes a body whose Digest matches, read through readBody', async () => {
    const body = '{"amount":10}';
    const ctx = signedRequest({ names: 'date digest', lines: (d) => `date: ${d}\ndigest: ${digestOf(body)}`, extra: { digest: digestOf(body) } }, { method: 'POST' });
    feed(ctx, Buffer.from(body));
    const v = h.access!(ctx);
    expect(v).toBeInstanceOf(Promise);
    expect(await v).toBeUndefined();
    expect(ctx.body?.toString()).toBe(body);
    expect(ctx.consumer).toMatchObject({ username: 'bob' });
  });

  it('401 "does not match" for a body without Digest, or with a Digest of another body', async () => {
    const none = signedRequest({}, { method: 'POST' });
    feed(none, Buffer.from('x=1'));
    expect401((await h.access!(none)) as Verdict, 'HMAC signature does not match');
    const other = signedRequest({ extra: { digest: digestOf('x=1') } }, { method: 'POST' });
    feed(other, Buffer.from('x=2'));
    expect401((await h.access!(other)) as Verdict, 'HMAC signature does not match');
    expect(other.consumer).toBeNull();
  });

  it('does not look at the body when body validation is off', () => {
    const ctx = signedRequest({}, { method: 'POST' });
    feed(ctx, Buffer.from('anything'));
    expect(sync(handlerFor('{}').access!(ctx))).toBeUndefined();
    expect(ctx.body).toBeNull();
  });

  it(`413 for a body over ${HMAC_BODY_LIMIT} bytes, announced or chunked, even with anonymous`, async () => {
    const big = Buffer.alloc(HMAC_BODY_LIMIT + 1, 0x61);
    const announced = signedRequest({ extra: { digest: digestOf(big.toString()) } }, { method: 'POST' });
    feed(announced, big);
    expect(await h.access!(announced)).toEqual({ status: 413, message: 'Request size limit exceeded' });
    const chunked = signedRequest({ extra: { digest: digestOf(big.toString()) } }, { method: 'POST' });
    feed(chunked, big, true);
    expect(await handlerFor('{ validate_request_body: true, anonymous: nobody }').access!(chunked)).toEqual({ status: 413, message: 'Request size limit exceeded' });
  });

  it('reads no body for a request whose signature is wrong', () => {
    const ctx = signedRequest({ secret: 'guess' }, { method: 'POST' });
    feed(ctx, Buffer.from('x'));
    expect401(sync(h.access!(ctx)), 'HMAC signature does not match');
    expect(ctx.body).toBeNull();
  });
});

describe('hmac-auth: replay_protection (not in Kong)', () => {
  it('refuses the second use of a signature, across instances, and accepts fresh ones', () => {
    const a = handlerFor('{ replay_protection: true }');
    const b = handlerFor('{ replay_protection: true }');
    const first = signedRequest({ username: 'carol-hmac', secret: 'carol-secret', names: 'date x-nonce', lines: (d) => `date: ${d}\nx-nonce: 1`, extra: { 'x-nonce': '1' } });
    const replay = request({ ...first.headers });
    const replayElsewhere = request({ ...first.headers }, { path: '/admin' });
    expect(sync(a.access!(first))).toBeUndefined();
    expect401(sync(a.access!(replay)), MESSAGES.replayed);
    expect401(sync(b.access!(replayElsewhere)), MESSAGES.replayed);
    // The same signature through Proxy-Authorization, or without padding, is the same signature.
    const viaProxy = request({ date: first.headers['date']!, 'x-nonce': '1', 'proxy-authorization': first.headers['authorization']!.replace(/=+"$/, '"') });
    expect401(sync(a.access!(viaProxy)), MESSAGES.replayed);
    const fresh = signedRequest({ username: 'carol-hmac', secret: 'carol-secret', names: 'date x-nonce', lines: (d) => `date: ${d}\nx-nonce: 2`, extra: { 'x-nonce': '2' } });
    expect(sync(a.access!(fresh))).toBeUndefined();
  });

  it('is off by default: Kong accepts replays within clock_skew', () => {
    const h = handlerFor('{}');
    const first = signedRequest({ names: 'date x-nonce', lines: (d) => `date: ${d}\nx-nonce: off`, extra: { 'x-nonce': 'off' } });
    expect(sync(h.access!(first))).toBeUndefined();
    expect(sync(h.access!(request({ ...first.headers })))).toBeUndefined();
  });

  it('records only accepted signatures', () => {
    const h = handlerFor('{ replay_protection: true, validate_request_body: true }');
    const ctx = signedRequest({ names: 'date x-nonce', lines: (d) => `date: ${d}\nx-nonce: body`, extra: { 'x-nonce': 'body' } });
    ctx.body = Buffer.from('unsigned body');
    expect401(sync(h.access!(ctx)), 'HMAC signature does not match');
    const again = request({ ...ctx.headers });
    expect(sync(h.access!(again))).toBeUndefined();
  });
});

describe("hmac-auth: parsing the Authorization value as Kong's regex does", () => {
  const RX = /\s*[Hh]mac\s*username="(.+)",\s*algorithm="(.+)",\s*headers="(.+)",\s*signature="(.+)"/;
  const groups = (s: string): string[] | null => {
    const p = parseHmacAuthorization(s);
    return p === null ? null : [p.username, p.algorithm, p.headers, p.signature];
  };

  it('gives the same four groups as the regex on generated values', () => {
    const atoms = ['hmac', 'Hmac', 'mac', ' ', '\t', '"', ',', '",', '", ', 'username="', 'algorithm="', 'headers="', 'signature="', 'a', 'x'];
    let seed = 7;
    const rnd = (n: number): number => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff), seed % n);
    const junk = (max: number): string => Array.from({ length: rnd(max + 1) }, () => atoms[rnd(atoms.length)]).join('');
    const ws = (): string => [' ', '', '  ', '\t'][rnd(4)]!;
    let matched = 0;
    for (let t = 0; t < 30_000; t++) {
      let s = `${junk(2)}${['hmac', 'Hmac', 'HMAC'][rnd(3)]}${ws()}username="${junk(3)}a",${ws()}algorithm="${junk(3)}b",${ws()}headers="${junk(3)}c",${ws()}signature="${junk(3)}d"${junk(3)}`;
      for (let k = rnd(3); k > 0; k--) {
        const i = rnd(s.length);
        s = rnd(2) ? s.slice(0, i) + s.slice(i + 1 + rnd(3)) : s.slice(0, i) + atoms[rnd(atoms.length)] + s.slice(i);
      }
      const m = RX.exec(s);
      if (m !== null) matched++;
      expect(groups(s), JSON.stringify(s)).toEqual(m === null ? null : m.slice(1, 5));
    }
    expect(matched).toBeGreaterThan(5_000);
  });

  it('takes linear time on values built to make a backtracking regex struggle', () => {
    const re2 = new RE2(RX.source);
    for (const evil of [
      `hmac username="${'",algorithm="",headers="",signature="'.repeat(4_000)}`,
      `hmac username="${'a", algorithm="b", headers="'.repeat(20_000)}`,
      `${'hmac username="'.repeat(10_000)}",signature="x"`,
    ]) {
      const t = performance.now();
      const got = groups(evil);
      expect(performance.now() - t).toBeLessThan(250);
      const m = re2.exec(evil);
      expect(got).toEqual(m === null ? null : [...m].slice(1, 5));
    }
  });

  it('parses the shapes from Kong\'s own tests', () => {
    expect(groups('hmac username="bob",algorithm="hmac-sha1",headers="date",signature="c2ln"')).toEqual(['bob', 'hmac-sha1', 'date', 'c2ln']);
    expect(groups('hmac username="bob",  algorithm="hmac-sha1", headers="date content-md5 request-line", signature="c2ln"')).toEqual([
      'bob',
      'hmac-sha1',
      'date content-md5 request-line',
      'c2ln',
    ]);
    expect(groups('"hmac username="bob",algorithm="hmac-sha1",headers="date",signature="x y"')).toEqual(['bob', 'hmac-sha1', 'date', 'x y']);
    expect(groups('HMAC username="bob",algorithm="a",headers="b",signature="c"')).toBeNull();
  });
});

describe('hmac-auth: HTTP dates (nginx parse_http_time)', () => {
  it('reads the three HTTP date formats', () => {
    const t = Date.UTC(1994, 10, 6, 8, 49, 37) / 1000;
    expect(parseHttpDate('Sun, 06 Nov 1994 08:49:37 GMT')).toBe(t);
    expect(parseHttpDate('Sunday, 06-Nov-94 08:49:37 GMT')).toBe(t);
    expect(parseHttpDate('Sun Nov  6 08:49:37 1994')).toBe(t);
    expect(parseHttpDate('Thu, 29 Feb 2024 00:00:00 GMT')).toBe(Date.UTC(2024, 1, 29) / 1000);
    expect(parseHttpDate('Fri, 01 Jan 2010 00:00:00 GMT')).toBe(Date.UTC(2010, 0, 1) / 1000);
  });

  it('refuses what nginx refuses', () => {
    for (const bad of ['1994-11-06T08:49:37Z', 'Sun, 06 nov 1994 08:49:37 GMT', 'Sun, 31 Nov 1994 08:49:37 GMT', 'Thu, 29 Feb 2023 00:00:00 GMT', 'Sun, 06 Nov 1994 24:00:00 GMT', 'Sun, 6 Nov 1994 08:49:37 GMT', '', 'yesterday']) {
      expect(parseHttpDate(bad), bad).toBeNaN();
    }
  });
});
