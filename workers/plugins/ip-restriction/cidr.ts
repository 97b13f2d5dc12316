/**
 * IP or CIDR entries of ip-restriction's `allow` / `deny` (Kong's typedefs.ip_or_cidr),
 * parsed once: by the schema at load time (to refuse bad entries with a precise message)
 * and by the handler at create() time (to fill its BlockLists).
 *
 * An IPv4-mapped IPv6 entry (::ffff:1.2.3.4, ::ffff:102:304, ::ffff:1.2.3.0/120) is an IPv4
 * rule: client addresses are normalised the same way (client-address.ts), so both sides
 * meet as IPv4. Any other IPv6 entry matches IPv6 clients only, as in Kong: `::/0` does not
 * cover IPv4 clients.
 */
import { isIP } from 'node:net';
import { normalizeAddress } from '../../http/client-address.js';

export interface IpRule {
  readonly family: 'ipv4' | 'ipv6';
  /** The network address in a form node:net BlockList accepts. */
  readonly address: string;
  /** Prefix length: 32 / 128 for a single address. */
  readonly prefix: number;
}

const PREFIX = /^\d{1,3}$/;

/** Parses one entry, or returns why it is not an IP address or CIDR range. */
export function parseIpOrCidr(entry: string): IpRule | { error: string } {
  const slash = entry.indexOf('/');
  const text = slash < 0 ? entry : entry.slice(0, slash);
  if (text.includes('%')) return { error: 'zone ids (%) are not allowed' };
  const kind = isIP(text);
  if (kind === 0) return { error: 'not an IPv4 or IPv6 address' };
  const max = kind === 4 ? 32 : 128;
  let prefix = max;
  if (slash >= 0) {
    const p = entry.slice(slash + 1);
    if (!PREFIX.test(p)) return { error: 'the prefix length must be a number' };
    prefix = Number(p);
    if (prefix > max) return { error: `the prefix length of an IPv${kind} range is at most ${max}` };
  }
  if (kind === 4) return { family: 'ipv4', address: text, prefix };
  // An IPv4-mapped address (and a range inside ::ffff:0:0/96) is the IPv4 rule it stands for.
  const v4 = normalizeAddress(text);
  if (prefix >= 96 && isIP(v4) === 4) return { family: 'ipv4', address: v4, prefix: prefix - 96 };
  return { family: 'ipv6', address: text, prefix };
}

/** Schema check: Kong's message, with the reason. */
export function checkIpOrCidr(value: string): string | undefined {
  const r = parseIpOrCidr(value);
  return 'error' in r ? `invalid ip or cidr range: '${value}' (${r.error})` : undefined;
}
