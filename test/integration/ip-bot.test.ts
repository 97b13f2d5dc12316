/**
 * ip-restriction and bot-detection end to end: a real gateway process (2 workers) in front
 * of a real upstream, requests on real sockets from several loopback addresses.
 *
 * The gateway listens on [::] (dual-stack), so IPv4 clients arrive as IPv4-mapped IPv6
 * peers, the form uWS reports them in, and ::1 is an IPv6 client. 127.0.0.2 is the only
 * trusted proxy (PORTCULLIS_TRUSTED_IPS) and X-Forwarded-For its real_ip_header
 * (PORTCULLIS_REAL_IP_HEADER); every other address is an untrusted client whose
 * X-Forwarded-For / X-Real-IP must change nothing (Linux answers on all of 127/8).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startGateway, type Gateway } from '../helpers/gateway.js';
import { assertGatewayHealthy, exchange, getHead, header, type Exchange } from '../helpers/http-probe.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

const TRUSTED = '127.0.0.2';
const CHROME = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36';
const GOOGLEBOT = 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)';

let up: Upstream;
let gw: Gateway;
let port: number;

beforeAll(async () => {
  up = await startUpstream();
  port = await freePort();
  gw = await startGateway(
    `_format_version: "3.0"
consumers:
  - username: alice
    keyauth_credentials:
      - key: alice-key
services:
  - name: echo
    url: ${up.url}
    routes:
      - name: deny-list
        paths: [/deny]
        plugins:
          - name: ip-restriction
            config: { deny: [127.0.0.1, "2001:db8::/32", 203.0.113.0/24] }
      - name: allow-v6
        paths: [/allow-v6]
        plugins:
          - name: ip-restriction
            config: { allow: ["::1"] }
      - name: mapped-rule
        paths: [/mapped]
        plugins:
          - name: ip-restriction
            config: { deny: ["::ffff:127.0.0.3"] }
      - name: custom-reply
        paths: [/custom]
        plugins:
          - name: ip-restriction
            config: { allow: [127.0.0.0/30], status: 451, message: Unavailable here }
      - name: allow-net
        paths: [/allow-net]
        plugins:
          - name: ip-restriction
            config: { allow: [198.51.100.0/24] }
      - name: bots
        paths: [/bots]
        plugins:
          - name: bot-detection
      - name: bots-custom
        paths: [/bots-custom]
        plugins:
          - name: bot-detection
            config: { allow: [Googlebot], deny: ["^BadClient/"] }
      - name: all
        paths: [/all]
        plugins:
          - name: key-auth
          - name: ip-restriction
            config: { deny: [127.0.0.1] }
          - name: bot-detection
      - name: pre-auth
        paths: [/pre-auth]
        plugins:
          - name: key-auth
          - name: ip-restriction
            config: { deny: [127.0.0.1] }
            ordering:
              before:
                access: [key-auth]
`,
    {
      workers: 2,
      // The last --proxy-listen wins: dual-stack instead of the helper's 127.0.0.1.
      extraArgs: ['--proxy-listen', `[::]:${port}`],
      env: { PORTCULLIS_TRUSTED_IPS: TRUSTED, PORTCULLIS_REAL_IP_HEADER: 'X-Forwarded-For' },
    },
  );
});

afterAll(async () => {
  await gw?.stop();
  await up?.close();
});

interface Sent {
  ex: Exchange;
  /** Whether the request reached the upstream. */
  proxied: boolean;
}

/** One request on a new connection, from `from` (a loopback address) or over IPv6 to ::1. */
async function send(path: string, lines: string[] = [], opts: { from?: string; v6?: boolean } = {}): Promise<Sent> {
  const before = up.seen.length;
  const ex = await exchange(port, getHead(path, lines, 'gw.example'), {
    graceMs: 30,
    ...(opts.v6 === true ? { host: '::1' } : { localAddress: opts.from ?? '127.0.0.1' }),
  });
  expect(ex.responded, `no response to ${path}`).toBe(true);
  return { ex, proxied: up.seen.length > before };
}

/** Asserts Kong's JSON error document with this status and message, and that the upstream was not called. */
function expectRefused(s: Sent, status: number, message: string): void {
  expect(s.ex.status, s.ex.raw.slice(0, 300)).toBe(status);
  expect(header(s.ex, 'content-type')).toBe('application/json; charset=utf-8');
  const body = JSON.parse(s.ex.body) as { message: string; request_id: string };
  expect(body.message).toBe(message);
  expect(body.request_id).toBe(header(s.ex, 'x-kong-request-id'));
  expect(s.proxied).toBe(false);
}

function expectProxied(s: Sent): void {
  expect(s.ex.status, s.ex.raw.slice(0, 300)).toBe(200);
  expect(s.proxied).toBe(true);
}

describe('ip-restriction: the TCP peer', () => {
  it('refuses a denied IPv4 client (seen as ::ffff:127.0.0.1 on the dual-stack socket) with 403 and its address', async () => {
    expectRefused(await send('/deny/a'), 403, 'IP address not allowed: 127.0.0.1');
  });

  it('lets another address through', async () => {
    expectProxied(await send('/deny/b', [], { from: '127.0.0.3' }));
  });

  it('allow ["::1"]: an IPv6 client is let through, an IPv4 one refused', async () => {
    expectProxied(await send('/allow-v6/a', [], { v6: true }));
    expectRefused(await send('/allow-v6/b'), 403, 'IP address not allowed: 127.0.0.1');
  });

  it('an IPv4-mapped rule matches the IPv4 client', async () => {
    expectRefused(await send('/mapped/a', [], { from: '127.0.0.3' }), 403, 'IP address not allowed: 127.0.0.3');
    expectProxied(await send('/mapped/b', [], { from: '127.0.0.4' }));
  });

  it('answers with the configured status and message, rendered for Accept', async () => {
    expectProxied(await send('/custom/a', [], { from: '127.0.0.3' }));
    expectRefused(await send('/custom/b', [], { from: '127.0.0.5' }), 451, 'Unavailable here');
    const plain = await send('/custom/c', ['Accept: text/plain'], { from: '127.0.0.5' });
    expect(plain.ex.status).toBe(451);
    expect(header(plain.ex, 'content-type')).toBe('text/plain; charset=utf-8');
    expect(plain.ex.body).toBe(`Unavailable here\nrequest_id: ${header(plain.ex, 'x-kong-request-id')}\n`);
  });
});

describe('ip-restriction: forwarded addresses', () => {
  it('a spoofed X-Forwarded-For or X-Real-IP from an untrusted peer does not get past deny', async () => {
    expectRefused(await send('/deny/spoof1', ['X-Forwarded-For: 198.51.100.7']), 403, 'IP address not allowed: 127.0.0.1');
    expectRefused(await send('/deny/spoof2', ['X-Real-IP: 198.51.100.7']), 403, 'IP address not allowed: 127.0.0.1');
    expectRefused(await send('/deny/spoof3', ['X-Forwarded-For: 198.51.100.7', 'X-Forwarded-For: 198.51.100.8']), 403, 'IP address not allowed: 127.0.0.1');
  });

  it('a spoofed X-Forwarded-For from an untrusted peer does not get into allow', async () => {
    expectRefused(await send('/allow-net/spoof', ['X-Forwarded-For: 198.51.100.7'], { from: '127.0.0.3' }), 403, 'IP address not allowed: 127.0.0.3');
  });

  it('from the trusted proxy, the X-Forwarded-For address is the client: allowed', async () => {
    const s = await send('/allow-net/trusted', ['X-Forwarded-For: 198.51.100.7'], { from: TRUSTED });
    expectProxied(s);
    expect(up.seen.at(-1)!.headers['x-real-ip']).toBe('198.51.100.7');
  });

  it('from the trusted proxy, a denied forwarded address is refused, IPv4, IPv6 and mapped alike', async () => {
    expectProxied(await send('/deny/t1', ['X-Forwarded-For: 198.51.100.7'], { from: TRUSTED }));
    expectRefused(await send('/deny/t2', ['X-Forwarded-For: 203.0.113.9'], { from: TRUSTED }), 403, 'IP address not allowed: 203.0.113.9');
    expectRefused(await send('/deny/t3', ['X-Forwarded-For: 2001:db8::5'], { from: TRUSTED }), 403, 'IP address not allowed: 2001:db8::5');
    expectRefused(await send('/deny/t4', ['X-Forwarded-For: ::ffff:203.0.113.10'], { from: TRUSTED }), 403, 'IP address not allowed: 203.0.113.10');
  });

  it('from the trusted proxy, the last X-Forwarded-For hop is the client (real_ip_recursive off)', async () => {
    expectRefused(await send('/deny/t5', ['X-Forwarded-For: 198.51.100.7, 203.0.113.9'], { from: TRUSTED }), 403, 'IP address not allowed: 203.0.113.9');
    expectProxied(await send('/deny/t6', ['X-Forwarded-For: 203.0.113.9, 198.51.100.7'], { from: TRUSTED }));
  });

  it('from the trusted proxy without the header, the proxy itself is the client', async () => {
    expectRefused(await send('/allow-net/no-xff', [], { from: TRUSTED }), 403, `IP address not allowed: ${TRUSTED}`);
  });
});

describe('bot-detection', () => {
  it('refuses a known bot with 403 "Forbidden"', async () => {
    expectRefused(await send('/bots/a', [`User-Agent: ${GOOGLEBOT}`]), 403, 'Forbidden');
    expectRefused(await send('/bots/b', ['User-Agent: sqlmap/1.7.2#stable (https://sqlmap.org)']), 403, 'Forbidden');
  });

  it('lets browsers, API clients and requests without a User-Agent through', async () => {
    expectProxied(await send('/bots/c', [`User-Agent: ${CHROME}`]));
    expectProxied(await send('/bots/d', ['User-Agent: curl/8.5.0']));
    expectProxied(await send('/bots/e'));
  });

  it('refuses a repeated User-Agent with 400 "Only one User-Agent header allowed"', async () => {
    expectRefused(await send('/bots/f', [`User-Agent: ${CHROME}`, `User-Agent: ${CHROME}`]), 400, 'Only one User-Agent header allowed');
  });

  it('gives the same verdict for a returning agent (cached) on every worker', async () => {
    for (let i = 0; i < 6; i++) {
      expectRefused(await send(`/bots/again-${i}`, [`User-Agent: ${GOOGLEBOT}`]), 403, 'Forbidden');
      expectProxied(await send(`/bots/human-${i}`, [`User-Agent: ${CHROME}`]));
    }
  });

  it('allow wins over the built-in list, deny adds to it', async () => {
    expectProxied(await send('/bots-custom/a', [`User-Agent: ${GOOGLEBOT}`]));
    expectRefused(await send('/bots-custom/b', ['User-Agent: BadClient/1.0']), 403, 'Forbidden');
    expectRefused(await send('/bots-custom/c', ['User-Agent: Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)']), 403, 'Forbidden');
    expectProxied(await send('/bots-custom/d', [`User-Agent: ${CHROME}`]));
  });
});

describe('in one chain with key-auth, in Kong PRIORITY order', () => {
  it('bot-detection (2500) answers before key-auth (1250): a bot without a key gets 403, not 401', async () => {
    expectRefused(await send('/all/a', [`User-Agent: ${GOOGLEBOT}`], { from: '127.0.0.3' }), 403, 'Forbidden');
  });

  it('key-auth (1250) answers before ip-restriction (990): no key from a denied address is 401', async () => {
    const s = await send('/all/b', ['User-Agent: curl/8.5.0']);
    expect(s.ex.status).toBe(401);
    expect(s.proxied).toBe(false);
  });

  it('an authenticated client from a denied address is refused by ip-restriction; from another, proxied', async () => {
    expectRefused(await send('/all/c', ['apikey: alice-key']), 403, 'IP address not allowed: 127.0.0.1');
    expectProxied(await send('/all/d', ['apikey: alice-key'], { from: '127.0.0.3' }));
  });
});

describe('ip-restriction moved before authentication (ordering.before.access)', () => {
  it('refuses a denied address before key-auth looks for a key: 403, not 401', async () => {
    expectRefused(await send('/pre-auth/a', ['User-Agent: curl/8.5.0']), 403, 'IP address not allowed: 127.0.0.1');
  });

  it('other addresses still meet key-auth', async () => {
    const s = await send('/pre-auth/b', [], { from: '127.0.0.3' });
    expect(s.ex.status).toBe(401);
    expectProxied(await send('/pre-auth/c', ['apikey: alice-key'], { from: '127.0.0.3' }));
  });
});

it('ends with no worker restarted', async () => {
  await assertGatewayHealthy({ ...gw, proxyPort: port }, '/bots/end');
});
