/**
 * ip-restriction: config through the real loader (Kong's schema.lua fields and
 * at_least_one_of, ip_or_cidr entries refused with their position), the handler through a
 * RequestContext (deny before allow, IPv4 and IPv6 CIDRs, IPv4-mapped addresses on both
 * sides, status and message, the verdict cache), and its place in a compiled chain.
 * Kong sources: kong/plugins/ip-restriction/{schema,handler}.lua.
 */
import { describe, expect, it } from 'vitest';
import { loadConfigText } from '../../../src/config/load.js';
import type { GatewayConfig } from '../../../src/config/types.js';
import { ConsumerIndex } from '../../auth/consumer-index.js';
import { RequestContext } from '../../http/request-context.js';
import { compilePipelines } from '../../pipeline/compile.js';
import { runAccess } from '../../pipeline/run.js';
import type { LocalReply, PluginEnv, PluginHandler, Verdict } from '../../pipeline/types.js';
import { pluginDefinitions } from '../index.js';
import { pluginSchemas } from '../registry-schemas.js';
import { parseIpOrCidr } from './cidr.js';
import { LOG_INTERVAL_MS, UNIDENTIFIED_MESSAGE, VERDICT_CACHE_SIZE } from './handler.js';
import { ipRestriction } from './index.js';
import type { IpRestrictionConfig } from './schema.js';

const HEAD = '_format_version: "3.0"\n';

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

const globalPlugin = (config: string): string => `${HEAD}plugins:\n  - name: ip-restriction\n    config: ${config}\n`;

interface Logged {
  obj: object;
  msg: string | undefined;
}

function envWith(logged: Logged[] = []): PluginEnv {
  const consumers = new ConsumerIndex([]);
  return {
    workerId: 0,
    log: { info() {}, warn: (obj: object, msg?: string) => void logged.push({ obj, msg }), error() {} },
    consumers,
  } as unknown as PluginEnv;
}

function configOf(conf: string): IpRestrictionConfig {
  return load(globalPlugin(conf)).plugins[0]!.config as IpRestrictionConfig;
}

function handlerFor(conf: string, logged: Logged[] = []): PluginHandler {
  return ipRestriction.create(configOf(conf), envWith(logged));
}

/** A request whose client address (after trusted_ips / real_ip_header) is `clientIp`. */
function from(clientIp: string, opts: { peer?: string; headers?: Record<string, string> } = {}): RequestContext {
  const headers = { host: 'a.test', ...opts.headers };
  return new RequestContext('0123456789abcdef0123456789abcdef', 'GET', '/', '', headers, null, 'a.test', 8000, 'http', opts.peer ?? clientIp, clientIp, 0);
}

function access(h: PluginHandler, ctx: RequestContext): Verdict {
  const v = h.access!(ctx);
  if (v instanceof Promise) throw new Error('ip-restriction must answer synchronously');
  return v;
}

const denied = (ip: string, status = 403): LocalReply => ({ status, message: `IP address not allowed: ${ip}` });

describe('ip-restriction config', () => {
  it('loads allow and deny lists of IPs and CIDRs, v4 and v6, and leaves status and message unset (Kong)', () => {
    const c = configOf('{ allow: [10.0.0.0/8, 192.168.1.7, "2001:db8::/32", "::1"], deny: [10.0.0.5] }');
    expect(c).toEqual({ allow: ['10.0.0.0/8', '192.168.1.7', '2001:db8::/32', '::1'], deny: ['10.0.0.5'], status: null, message: null });
  });

  it('takes status and message', () => {
    const c = configOf('{ deny: [1.2.3.4], status: 451, message: "go away" }');
    expect(c.status).toBe(451);
    expect(c.message).toBe('go away');
  });

  it('needs at least one non-empty list (Kong at_least_one_of)', () => {
    const msg = "at least one of these fields must be non-empty: 'config.allow', 'config.deny'";
    expect(issues(`${HEAD}plugins:\n  - name: ip-restriction\n`)).toEqual([`3:5 plugins[0].config: ${msg}`]);
    expect(issues(globalPlugin('{ allow: [], deny: [] }'))).toEqual([`4:13 plugins[0].config: ${msg}`]);
    expect(issues(globalPlugin('{ status: 403 }'))).toEqual([`4:13 plugins[0].config: ${msg}`]);
  });

  it('refuses entries that are not IPs or CIDR ranges, each at its position, with the reason', () => {
    const text = `${HEAD}plugins:
  - name: ip-restriction
    config:
      allow:
        - 10.0.0.0/8
        - 10.0.0.0/33
        - example.com
        - "fe80::1%eth0"
      deny:
        - 010.0.0.1
        - "::/129"
        - 1.2.3.4/x
        - 1.2.3.4/
        - " 1.2.3.4"
`;
    expect(issues(text)).toEqual([
      "7:11 plugins[0].config.allow[1]: invalid ip or cidr range: '10.0.0.0/33' (the prefix length of an IPv4 range is at most 32)",
      "8:11 plugins[0].config.allow[2]: invalid ip or cidr range: 'example.com' (not an IPv4 or IPv6 address)",
      "9:11 plugins[0].config.allow[3]: invalid ip or cidr range: 'fe80::1%eth0' (zone ids (%) are not allowed)",
      "11:11 plugins[0].config.deny[0]: invalid ip or cidr range: '010.0.0.1' (not an IPv4 or IPv6 address)",
      "12:11 plugins[0].config.deny[1]: invalid ip or cidr range: '::/129' (the prefix length of an IPv6 range is at most 128)",
      "13:11 plugins[0].config.deny[2]: invalid ip or cidr range: '1.2.3.4/x' (the prefix length must be a number)",
      "14:11 plugins[0].config.deny[3]: invalid ip or cidr range: '1.2.3.4/' (the prefix length must be a number)",
      "15:11 plugins[0].config.deny[4]: invalid ip or cidr range: ' 1.2.3.4' (not an IPv4 or IPv6 address)",
    ]);
  });

  it('refuses a status kong.response.error would refuse at run time, and unknown fields', () => {
    expect(issues(globalPlugin('{ deny: [1.2.3.4], status: 200 }'))).toEqual(['4:40 plugins[0].config.status: value should be between 400 and 599']);
    expect(issues(globalPlugin('{ deny: [1.2.3.4], status: 403.5 }'))).toEqual(['4:40 plugins[0].config.status: expected an integer']);
    expect(issues(globalPlugin('{ deny: [1.2.3.4], whitelist: [1.2.3.4] }'))).toEqual(['4:32 plugins[0].config.whitelist: unknown field']);
  });

  it('may be scoped to a consumer (Kong has no no_consumer here) and defaults its protocols to Kong\'s', () => {
    const c = load(`${HEAD}consumers:
  - username: alice
    plugins:
      - name: ip-restriction
        config: { allow: [10.0.0.0/8] }
`);
    expect(c.plugins[0]!.consumer).not.toBeNull();
    expect(c.plugins[0]!.protocols).toEqual(['http', 'https', 'tcp', 'tls', 'grpc', 'grpcs']);
  });

  it('has the same priority in both registries (Kong 990)', () => {
    expect(ipRestriction.priority).toBe(990);
    expect(pluginSchemas.get('ip-restriction')?.priority).toBe(990);
    expect(pluginDefinitions.get('ip-restriction')).toBe(ipRestriction);
  });
});

describe('parseIpOrCidr', () => {
  it('turns IPv4-mapped entries into IPv4 rules, and leaves other IPv6 entries alone', () => {
    expect(parseIpOrCidr('::ffff:1.2.3.4')).toEqual({ family: 'ipv4', address: '1.2.3.4', prefix: 32 });
    expect(parseIpOrCidr('::FFFF:0102:0304')).toEqual({ family: 'ipv4', address: '1.2.3.4', prefix: 32 });
    expect(parseIpOrCidr('0:0:0:0:0:ffff:10.1.0.0/112')).toEqual({ family: 'ipv4', address: '10.1.0.0', prefix: 16 });
    expect(parseIpOrCidr('::ffff:0:0/96')).toEqual({ family: 'ipv4', address: '0.0.0.0', prefix: 0 });
    // Wider than the mapped block: an IPv6 rule, as Kong's matcher sees it.
    expect(parseIpOrCidr('::ffff:1.2.3.4/64')).toEqual({ family: 'ipv6', address: '::ffff:1.2.3.4', prefix: 64 });
    expect(parseIpOrCidr('2001:db8::/32')).toEqual({ family: 'ipv6', address: '2001:db8::', prefix: 32 });
    expect(parseIpOrCidr('10.0.0.0/08')).toEqual({ family: 'ipv4', address: '10.0.0.0', prefix: 8 });
  });
});

describe('ip-restriction handler', () => {
  it('deny: rejects listed addresses and CIDRs with 403 "IP address not allowed: <ip>", lets others through', () => {
    const h = handlerFor('{ deny: [10.0.0.5, 192.168.0.0/16] }');
    expect(access(h, from('10.0.0.5'))).toEqual(denied('10.0.0.5'));
    expect(access(h, from('192.168.77.1'))).toEqual(denied('192.168.77.1'));
    expect(access(h, from('10.0.0.6'))).toBeUndefined();
    expect(access(h, from('192.169.0.1'))).toBeUndefined();
  });

  it('allow: rejects every address not listed', () => {
    const h = handlerFor('{ allow: [10.0.0.0/8, "2001:db8::/32"] }');
    expect(access(h, from('10.200.3.4'))).toBeUndefined();
    expect(access(h, from('2001:db8:1::7'))).toBeUndefined();
    expect(access(h, from('11.0.0.1'))).toEqual(denied('11.0.0.1'));
    expect(access(h, from('2001:db9::1'))).toEqual(denied('2001:db9::1'));
  });

  it('checks deny before allow: an address in both is rejected', () => {
    const h = handlerFor('{ allow: [10.0.0.0/8], deny: [10.1.0.0/16] }');
    expect(access(h, from('10.1.2.3'))).toEqual(denied('10.1.2.3'));
    expect(access(h, from('10.2.2.3'))).toBeUndefined();
    expect(access(h, from('172.16.0.1'))).toEqual(denied('172.16.0.1'));
  });

  it('matches a CIDR written with host bits set as its network', () => {
    const h = handlerFor('{ deny: [10.1.2.3/8, "2001:db8::1/32"] }');
    expect(access(h, from('10.250.0.1'))).toEqual(denied('10.250.0.1'));
    expect(access(h, from('2001:db8:ffff::1'))).toEqual(denied('2001:db8:ffff::1'));
  });

  it('matches IPv4-mapped rules against IPv4 clients', () => {
    const h = handlerFor('{ deny: ["::ffff:203.0.113.9", "::ffff:198.51.100.0/120"] }');
    expect(access(h, from('203.0.113.9'))).toEqual(denied('203.0.113.9'));
    expect(access(h, from('198.51.100.77'))).toEqual(denied('198.51.100.77'));
    expect(access(h, from('198.51.101.1'))).toBeUndefined();
  });

  it('matches IPv4-mapped client addresses (short, hex and full form) against IPv4 rules, and reports them as IPv4', () => {
    const h = handlerFor('{ deny: [203.0.113.0/24] }');
    expect(access(h, from('::ffff:203.0.113.9'))).toEqual(denied('203.0.113.9'));
    expect(access(h, from('::ffff:cb00:7109'))).toEqual(denied('203.0.113.9'));
    expect(access(h, from('0000:0000:0000:0000:0000:ffff:cb00:7109'))).toEqual(denied('203.0.113.9'));
    const allowOnly = handlerFor('{ allow: ["::ffff:127.0.0.1"] }');
    expect(access(allowOnly, from('0000:0000:0000:0000:0000:ffff:7f00:0001'))).toBeUndefined();
    expect(access(allowOnly, from('127.0.0.1'))).toBeUndefined();
  });

  it('keeps families apart: ::/0 does not cover IPv4 clients, 0.0.0.0/0 does not cover IPv6 ones (Kong)', () => {
    const v6 = handlerFor('{ deny: ["::/0"] }');
    expect(access(v6, from('1.2.3.4'))).toBeUndefined();
    expect(access(v6, from('::1'))).toEqual(denied('::1'));
    const v4 = handlerFor('{ deny: [0.0.0.0/0] }');
    expect(access(v4, from('2001:db8::1'))).toBeUndefined();
    expect(access(v4, from('1.2.3.4'))).toEqual(denied('1.2.3.4'));
    // Only the mapped block itself stands for "every IPv4 address".
    const all4 = handlerFor('{ deny: ["::ffff:0:0/96"] }');
    expect(access(all4, from('8.8.8.8'))).toEqual(denied('8.8.8.8'));
    expect(access(all4, from('2001:db8::1'))).toBeUndefined();
  });

  it('reports IPv6 addresses in canonical form', () => {
    const h = handlerFor('{ deny: ["2001:db8::/32"] }');
    expect(access(h, from('2001:0DB8:0000:0000:0000:0000:0000:0001'))).toEqual(denied('2001:db8::1'));
  });

  it('answers with the configured status and message', () => {
    const h = handlerFor('{ deny: [10.0.0.0/8], status: 451, message: "Unavailable from your network" }');
    expect(access(h, from('10.0.0.1'))).toEqual({ status: 451, message: 'Unavailable from your network' });
    const statusOnly = handlerFor('{ allow: [10.0.0.0/8], status: 404 }');
    expect(access(statusOnly, from('11.0.0.1'))).toEqual(denied('11.0.0.1', 404));
  });

  it('answers 403 when the client address is not an IP at all (Kong: unix sockets), whatever status is configured', () => {
    const h = handlerFor('{ deny: [10.0.0.0/8], status: 451 }');
    expect(access(h, from(''))).toEqual({ status: 403, message: UNIDENTIFIED_MESSAGE });
    expect(access(h, from('unix:/tmp/sock'))).toEqual({ status: 403, message: UNIDENTIFIED_MESSAGE });
  });

  it('uses ctx.clientIp only: neither the TCP peer nor X-Forwarded-For / X-Real-IP', () => {
    const h = handlerFor('{ deny: [198.51.100.7] }');
    // A trusted proxy at 10.0.0.1 reported the client: the resolved address decides.
    expect(access(h, from('198.51.100.7', { peer: '10.0.0.1' }))).toEqual(denied('198.51.100.7'));
    // An untrusted client claiming another address in headers is still itself.
    const spoofed = from('198.51.100.7', { headers: { 'x-forwarded-for': '10.9.9.9', 'x-real-ip': '10.9.9.9' } });
    expect(access(h, spoofed)).toEqual(denied('198.51.100.7'));
    const claimsDenied = from('10.9.9.9', { headers: { 'x-forwarded-for': '198.51.100.7' } });
    expect(access(h, claimsDenied)).toBeUndefined();
  });

  it('remembers verdicts: a returning address gets the very same reply object', () => {
    const h = handlerFor('{ deny: [10.0.0.0/8] }');
    const a = access(h, from('10.0.0.1'));
    expect(access(h, from('10.0.0.1'))).toBe(a);
    expect(Object.isFrozen(a)).toBe(true);
    const fixed = handlerFor('{ deny: [10.0.0.0/8], message: nope }');
    expect(access(fixed, from('10.0.0.1'))).toBe(access(fixed, from('10.0.0.2')));
  });

  it('stays correct once the verdict cache has evicted entries', () => {
    const h = handlerFor('{ allow: [10.0.0.0/8] }');
    expect(access(h, from('11.0.0.1'))).toEqual(denied('11.0.0.1'));
    for (let i = 0; i < VERDICT_CACHE_SIZE + 10; i++) {
      const ip = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
      expect(access(h, from(ip))).toBeUndefined();
    }
    expect(access(h, from('11.0.0.1'))).toEqual(denied('11.0.0.1'));
    expect(access(h, from('10.0.0.0'))).toBeUndefined();
  });

  it('logs rejections at warn, at most one line per interval with the count', () => {
    const logged: Logged[] = [];
    const h = handlerFor('{ deny: [10.0.0.0/8] }', logged);
    for (let i = 0; i < 50; i++) access(h, from(`10.0.0.${i}`));
    access(h, from('11.0.0.1'));
    expect(logged).toHaveLength(1);
    expect(logged[0]!.msg).toBe('IP address not allowed: 10.0.0.0');
    expect(logged[0]!.obj).toMatchObject({ plugin: 'ip-restriction', clientIp: '10.0.0.0', status: 403, rejected: 1 });
    expect(LOG_INTERVAL_MS).toBeGreaterThanOrEqual(1000);
  });
});

describe('ip-restriction in a compiled chain', () => {
  const text = `${HEAD}consumers:
  - username: alice
    keyauth_credentials:
      - key: alice-key
services:
  - name: s
    url: http://upstream.test
    routes:
      - name: r
        paths: [/]
        plugins:
          - name: ip-restriction
            config: { deny: [10.0.0.0/8] }
          - name: key-auth
`;
  const c = load(text);
  const index = new ConsumerIndex(c.consumers);
  const pipelines = compilePipelines(c, pluginDefinitions, () => ({ workerId: 0, log: { info() {}, warn() {}, error() {} }, consumers: index }) as PluginEnv);
  const chain = pipelines.forRoute(c.routes[0]!);

  it('runs after key-auth (1250 before 990), as in Kong: an unauthenticated denied client gets 401', () => {
    const v = runAccess(chain, from('10.0.0.1')) as LocalReply;
    expect(v.status).toBe(401);
  });

  it('rejects an authenticated client from a denied address with 403', () => {
    expect(runAccess(chain, from('10.0.0.1', { headers: { apikey: 'alice-key' } }))).toEqual(denied('10.0.0.1'));
    expect(runAccess(chain, from('192.0.2.1', { headers: { apikey: 'alice-key' } }))).toBeUndefined();
  });
});
