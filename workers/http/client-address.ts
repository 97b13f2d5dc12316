/**
 * Who is the client? The TCP peer, unless the peer is a trusted proxy (Kong trusted_ips),
 * in which case the address it reports in real_ip_header is believed (Kong/nginx realip).
 * Addresses are normalised first: uWS reports IPv4 peers on a dual-stack socket as
 * full-form IPv4-mapped IPv6 ("0000:…:ffff:7f00:0001"), which no IP rule, log or header
 * should ever see.
 */
import { BlockList, isIP } from 'node:net';

const MAPPED_PREFIX = '0000:0000:0000:0000:0000:ffff:';

/** Canonical text form of an address: IPv4 dotted, IPv6 compressed lowercase (RFC 5952). */
export function normalizeAddress(text: string): string {
  if (text.length === 39 && text.startsWith(MAPPED_PREFIX)) {
    // Fast path for uWS's full-form IPv4-mapped addresses.
    const hi = parseInt(text.slice(30, 34), 16);
    const lo = parseInt(text.slice(35, 39), 16);
    return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  }
  const kind = isIP(text);
  if (kind === 4) return text;
  if (kind === 6) return compressIPv6(text);
  return text;
}

function compressIPv6(text: string): string {
  const lower = text.toLowerCase();
  // Expand '::' so we can work on 8 groups.
  let groups: string[];
  const dbl = lower.indexOf('::');
  if (dbl >= 0) {
    const head = lower.slice(0, dbl).split(':').filter((g) => g !== '');
    const tail = lower.slice(dbl + 2).split(':').filter((g) => g !== '');
    // An embedded IPv4 tail stands for two groups.
    const width = head.length + tail.length + (tail[tail.length - 1]?.includes('.') ? 1 : 0);
    groups = [...head, ...new Array<string>(8 - width).fill('0'), ...tail];
  } else {
    groups = lower.split(':');
  }
  // An embedded IPv4 tail (::ffff:1.2.3.4) stays in dotted form.
  const last = groups[groups.length - 1] ?? '';
  if (last.includes('.')) {
    const v4 = last;
    groups = groups.slice(0, -1);
    const words = groups.map((g) => parseInt(g, 16));
    if (words.length === 6 && words.slice(0, 5).every((w) => w === 0) && words[5] === 0xffff) return v4;
    return `${compress(words)}:${v4}`.replace(':::', '::');
  }
  const words = groups.map((g) => parseInt(g, 16));
  if (words.length === 8 && words.slice(0, 5).every((w) => w === 0) && words[5] === 0xffff) {
    const hi = words[6] ?? 0;
    const lo = words[7] ?? 0;
    return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  }
  return compress(words);
}

function compress(words: number[]): string {
  // Longest run of zero words (length >= 2) becomes '::' (RFC 5952 section 4.2).
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < words.length; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < words.length && words[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = words.map((w) => w.toString(16));
  if (bestStart < 0) return hex.join(':');
  const left = hex.slice(0, bestStart).join(':');
  const right = hex.slice(bestStart + bestLen).join(':');
  return `${left}::${right}`;
}

/**
 * Compiled trusted_ips: one BlockList per address family. (A single node:net BlockList
 * matches IPv4 addresses against IPv6 subnets such as ::/0, which would make `::/0` trust
 * every IPv4 peer: nginx and Kong trust only what the entry's own family covers.) An
 * IPv4-mapped entry (::ffff:10.0.0.0/104) is filed as the IPv4 subnet it stands for.
 */
export class TrustedProxies {
  private readonly v4 = new BlockList();
  private readonly v6 = new BlockList();
  readonly empty: boolean;

  constructor(entries: readonly string[]) {
    let count = 0;
    for (const raw of entries) {
      const entry = raw.trim();
      if (entry === '' || entry.toUpperCase() === 'NONE') continue;
      const slash = entry.indexOf('/');
      const rawAddr = slash >= 0 ? entry.slice(0, slash) : entry;
      const kind = isIP(rawAddr);
      if (kind === 0) throw new Error(`trusted_ips: '${entry}' is not an IP address or CIDR`);
      const max = kind === 4 ? 32 : 128;
      let prefix = max;
      if (slash >= 0) {
        const text = entry.slice(slash + 1);
        prefix = /^\d{1,3}$/.test(text) ? Number(text) : -1;
        if (prefix < 0 || prefix > max) throw new Error(`trusted_ips: '${entry}' has an invalid prefix length`);
      }
      const addr = normalizeAddress(rawAddr);
      if (kind === 6 && isIP(addr) === 4) {
        // ::ffff:a.b.c.d: an IPv4 rule in IPv6 clothing.
        if (prefix < 96) throw new Error(`trusted_ips: '${entry}' spans more than the IPv4-mapped range`);
        this.v4.addSubnet(addr, prefix - 96, 'ipv4');
      } else if (kind === 4) {
        this.v4.addSubnet(addr, prefix, 'ipv4');
      } else {
        this.v6.addSubnet(addr, prefix, 'ipv6');
      }
      count++;
    }
    this.empty = count === 0;
  }

  /** `address` in canonical form (normalizeAddress): IPv4 peers are never matched by IPv6 rules. */
  has(address: string): boolean {
    if (this.empty) return false;
    const kind = isIP(address);
    if (kind === 4) return this.v4.check(address, 'ipv4');
    if (kind === 6) return this.v6.check(address, 'ipv6');
    return false;
  }
}

/**
 * The client address as nginx's realip module would compute it: when the peer is trusted,
 * take real_ip_header; for X-Forwarded-For, walk the list from the right skipping trusted
 * hops when `recursive`, else take the last element.
 */
export function resolveClientIp(
  peer: string,
  headers: Record<string, string>,
  trusted: TrustedProxies,
  realIpHeader: string,
  recursive: boolean,
): string {
  if (trusted.empty || !trusted.has(peer)) return peer;
  const value = headers[realIpHeader];
  if (value === undefined || value === '') return peer;
  if (realIpHeader !== 'x-forwarded-for' && value.indexOf(',') < 0) {
    const ip = normalizeAddress(value.trim());
    return isIP(ip) ? ip : peer;
  }
  const hops = value.split(',');
  for (let i = hops.length - 1; i >= 0; i--) {
    const ip = normalizeAddress((hops[i] ?? '').trim());
    if (!isIP(ip)) return peer;
    if (!recursive || i === 0 || !trusted.has(ip)) return ip;
  }
  return peer;
}

// The last address formatted, and its text: consecutive requests mostly come from the same
// peer (a keep-alive connection, a load balancer in front), and 16 byte compares cost less
// than building the text again.
const lastBytes = new Uint8Array(16);
let lastLength = -1;
let lastText = '';

/** Formats uWS's binary peer address (4 or 16 bytes) in canonical text form. */
export function formatBinaryAddress(ab: ArrayBuffer): string {
  const b = new Uint8Array(ab);
  const n = b.length;
  if (n === lastLength) {
    let i = n - 1;
    while (i >= 0 && b[i] === lastBytes[i]) i--;
    if (i < 0) return lastText;
  }
  const text = formatAddressBytes(b);
  if (n <= 16) {
    lastBytes.set(b);
    lastLength = n;
    lastText = text;
  }
  return text;
}

function formatAddressBytes(b: Uint8Array): string {
  if (b.length === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  if (b.length !== 16) return '';
  let mapped = b[10] === 0xff && b[11] === 0xff;
  for (let i = 0; mapped && i < 10; i++) if (b[i] !== 0) mapped = false;
  if (mapped) return `${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  const words: number[] = [];
  for (let i = 0; i < 16; i += 2) words.push((b[i]! << 8) | b[i + 1]!);
  return compress(words);
}
