/**
 * Kong's traditional_compatible priority (kong/router/transform.lua get_priority), a 64-bit
 * number whose bits, high to low, are:
 *
 *   63-61  match weight: how many of methods, hosts, headers, snis, paths are non-empty
 *   60     PLAIN_HOST_ONLY: hosts is set and none of its entries has a "*"
 *   59-52  number of header names (capped at 255)
 *   51     REGEX_URL: the (split) route's paths are regexes
 *   50-19  regex_priority (regex paths only)
 *   18-0   length of the prefix path (prefix paths only; every path of a split part has the
 *          same length)
 *
 * We keep it as two doubles so comparisons stay exact without BigInt on the hot path (it is
 * only compared at build time anyway): `hi` holds bits 63-52 (12 bits), `lo` bits 51-0
 * (52 bits, below 2^53).
 *
 * One deliberate difference: Kong shifts regex_priority as an unsigned 64-bit value, so a
 * negative regex_priority wraps and floods the high bits (such a route outranks everything),
 * and values of 2^32 or more spill into the REGEX_URL and header-count bits. We read it as a
 * signed 32-bit integer (clamped) and bias it by 2^31, which keeps the documented meaning:
 * higher wins, negative ranks below the default 0.
 */

export interface Priority {
  hi: number;
  lo: number;
}

export interface PriorityInput {
  methods: boolean;
  hosts: string[] | null;
  headerCount: number;
  snis: boolean;
  /** 'none' when the route has no paths. */
  pathKind: 'none' | 'prefix' | 'regex';
  /** Length of the prefix paths of this split part (0 for regex or none). */
  prefixLength: number;
  regexPriority: number;
}

const MAX_HEADER_COUNT = 255;
const INT32_MIN = -(2 ** 31);
const INT32_MAX = 2 ** 31 - 1;

export function computePriority(p: PriorityInput): Priority {
  const hasHosts = p.hosts !== null && p.hosts.length > 0;
  const weight =
    (p.methods ? 1 : 0) + (hasHosts ? 1 : 0) + (p.headerCount > 0 ? 1 : 0) + (p.snis ? 1 : 0) + (p.pathKind !== 'none' ? 1 : 0);
  // Kong tests `type(hosts) == "table"`, so an explicit empty list counts as plain hosts.
  const plainHostOnly = p.hosts !== null && p.hosts.every((h) => !h.includes('*'));
  const headers = Math.min(p.headerCount, MAX_HEADER_COUNT);
  const hi = weight * 2 ** 9 + (plainHostOnly ? 2 ** 8 : 0) + headers;

  let lo = 0;
  if (p.pathKind === 'regex') {
    const rp = Math.min(INT32_MAX, Math.max(INT32_MIN, Math.trunc(p.regexPriority)));
    lo = 2 ** 51 + (rp + 2 ** 31) * 2 ** 19;
  } else if (p.pathKind === 'prefix') {
    lo = p.prefixLength & 0x7ffff; // Kong masks the length to 19 bits
  }
  return { hi, lo };
}

/** Negative when `a` outranks `b`. */
export function comparePriority(a: Priority, b: Priority): number {
  if (a.hi !== b.hi) return b.hi - a.hi;
  return b.lo > a.lo ? 1 : b.lo < a.lo ? -1 : 0;
}

/**
 * Kong's 64-bit value, for logs and debugging only. Identical to Kong's for regex_priority
 * >= 0; a negative one is subtracted instead of wrapping, which keeps the order we match by.
 */
export function priorityToBigInt(p: Priority): bigint {
  const hi = BigInt(p.hi) << 52n;
  if (p.lo < 2 ** 51) return hi | BigInt(p.lo);
  const regexPriority = (p.lo - 2 ** 51) / 2 ** 19 - 2 ** 31; // exact: no length bits here
  return hi + (1n << 51n) + (BigInt(regexPriority) << 19n);
}
