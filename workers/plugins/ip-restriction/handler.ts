/**
 * ip-restriction (Kong PRIORITY 990): lets a request through or not by its client address,
 * following kong/plugins/ip-restriction/handler.lua (Kong 3.x):
 *
 * - the address is ctx.clientIp: the TCP peer, or what real_ip_header says when the peer
 *   is in trusted_ips (Kong matches nginx's binary_remote_addr after the realip module).
 *   Nothing else is read: a client cannot talk its way past a rule with X-Forwarded-For
 *   unless it connects from a trusted proxy;
 * - `deny` first: a listed address is rejected; then `allow`: an address not listed is
 *   rejected. Both may be set;
 * - the rejection is Kong's error document with `status` (403) and `message` ("IP address
 *   not allowed: <client ip>"); an address that is not an IP at all (a unix socket in Kong)
 *   gets 403 "Cannot identify the client IP address, unix domain sockets are not supported.".
 *
 * The lists are compiled at create() into node:net BlockLists, one per address family, so
 * that an IPv6 rule never matches an IPv4 client (BlockList alone would match `::/0`
 * against every IPv4 address, Kong does not). BlockList.check parses its argument on every
 * call (~1 µs), so verdicts are kept in a bounded per-instance LRU keyed by the address:
 * a returning client costs one map lookup and allocates nothing, rejected or not.
 * Synchronous.
 */
import { isIP, BlockList } from 'node:net';
import { LRUCache } from 'lru-cache';
import { normalizeAddress } from '../../http/client-address.js';
import type { RequestContext } from '../../http/request-context.js';
import type { LocalReply, PluginEnv, PluginHandler, Verdict } from '../../pipeline/types.js';
import { parseIpOrCidr } from './cidr.js';
import type { IpRestrictionConfig } from './schema.js';

export const DEFAULT_STATUS = 403;
export const UNIDENTIFIED_MESSAGE = 'Cannot identify the client IP address, unix domain sockets are not supported.';

/** Distinct client addresses whose verdict an instance remembers (per worker). */
export const VERDICT_CACHE_SIZE = 10_000;
/** At most one log line per instance in this many ms, with the count of rejections since the last. */
export const LOG_INTERVAL_MS = 10_000;

const UNIDENTIFIED: LocalReply = Object.freeze({ status: 403, message: UNIDENTIFIED_MESSAGE });
const ALLOWED = true;
type Decision = LocalReply | typeof ALLOWED;

/** One list (allow or deny) compiled per address family; null when it has no rule of that family. */
interface Matcher {
  readonly v4: BlockList | null;
  readonly v6: BlockList | null;
}

export function compileList(entries: readonly string[] | null): Matcher | null {
  if (entries === null || entries.length === 0) return null;
  let v4: BlockList | null = null;
  let v6: BlockList | null = null;
  for (const entry of entries) {
    const rule = parseIpOrCidr(entry);
    // The schema refused these already; a config that skipped it is a programming error.
    if ('error' in rule) throw new Error(`ip-restriction: invalid ip or cidr range '${entry}': ${rule.error}`);
    const list = rule.family === 'ipv4' ? (v4 ??= new BlockList()) : (v6 ??= new BlockList());
    list.addSubnet(rule.address, rule.prefix, rule.family);
  }
  return { v4, v6 };
}

function matches(m: Matcher, address: string, family: 4 | 6): boolean {
  const list = family === 4 ? m.v4 : m.v6;
  return list !== null && list.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

export function createIpRestriction(conf: IpRestrictionConfig, env: PluginEnv): PluginHandler {
  const deny = compileList(conf.deny);
  const allow = compileList(conf.allow);
  const status = conf.status ?? DEFAULT_STATUS;
  // With a configured message every rejection is the same object; without, one per address.
  const fixed: LocalReply | null = conf.message !== null ? Object.freeze({ status, message: conf.message }) : null;
  const reject = (address: string): LocalReply => fixed ?? Object.freeze({ status, message: `IP address not allowed: ${address}` });

  function decide(clientIp: string): Decision {
    // ctx.clientIp is normalised already; normalising again (only on a cache miss) keeps a
    // mapped or full-form IPv6 address from another listener from slipping past an IPv4 rule.
    const address = normalizeAddress(clientIp);
    const family = isIP(address) as 0 | 4 | 6;
    if (family === 0) return UNIDENTIFIED;
    if (deny !== null && matches(deny, address, family)) return reject(address);
    if (allow !== null && !matches(allow, address, family)) return reject(address);
    return ALLOWED;
  }

  // Allocated on first use: an instance that never sees traffic costs no cache.
  let cache: LRUCache<string, Decision> | null = null;
  let rejected = 0;
  let lastLog = -Infinity;

  return {
    access(ctx: RequestContext): Verdict {
      const ip = ctx.clientIp;
      const c = (cache ??= new LRUCache<string, Decision>({ max: VERDICT_CACHE_SIZE }));
      let d = c.get(ip);
      if (d === undefined) c.set(ip, (d = decide(ip)));
      if (d === ALLOWED) return undefined;
      // Kong logs every rejection at warn; a flood of them must not become a flood of log lines.
      rejected++;
      const now = Date.now();
      if (now - lastLog >= LOG_INTERVAL_MS) {
        env.log.warn({ plugin: 'ip-restriction', clientIp: ip, status: d.status, rejected }, d.message ?? 'IP address not allowed');
        lastLog = now;
        rejected = 0;
      }
      return d;
    },
  };
}
