/**
 * Route `hosts` and `snis` entries, compiled the way kong/router/transform.lua does:
 *   "api.example.com"        http.host == "api.example.com"
 *   "*.example.com"          http.host =^ ".example.com"   (suffix; the bare domain does not match)
 *   "example.*"              http.host ^= "example."       (prefix)
 *   "api.example.com:8443"   (http.host == "api.example.com" && net.dst.port == 8443)
 * Comparison is on lowercased names (DNS names are case-insensitive; the listener lowercases
 * the request's Host).
 */

export type HostKind = 'exact' | 'suffix' | 'prefix';

export interface HostSpec {
  kind: HostKind;
  /** exact: the name; suffix: ".example.com"; prefix: "example.". */
  value: string;
  /** Required port, or null for any. */
  port: number | null;
}

/**
 * Splits an optional ":port". Like Kong's split_host_port, a suffix that is not a number
 * stays part of the name; unlike it, a bracketed IPv6 literal ("[::1]:8080") is understood.
 */
function splitPort(entry: string): { name: string; port: number | null } {
  const colon = entry.lastIndexOf(':');
  if (colon === -1) return { name: entry, port: null };
  const name = entry.slice(0, colon);
  const digits = entry.slice(colon + 1);
  // An unbracketed IPv6 literal has colons of its own and no port.
  if (name.includes(':') && !(name.startsWith('[') && name.endsWith(']'))) return { name: entry, port: null };
  if (!/^[0-9]{1,5}$/.test(digits)) return { name: entry, port: null };
  const port = Number(digits);
  if (port < 1 || port > 65535) return { name: entry, port: null };
  return { name, port };
}

/** Returns the spec, or an error message for a wildcard Kong's schema would refuse. */
export function parseHost(entry: string, what = 'host'): HostSpec | string {
  const { name: raw, port } = splitPort(entry.trim());
  const name = raw.toLowerCase();
  if (name === '') return `empty ${what} in "${entry}"`;
  const stars = name.split('*').length - 1;
  if (stars === 0) return { kind: 'exact', value: name, port };
  if (stars > 1) return `${what} "${entry}" has more than one "*"`;
  if (name.startsWith('*.') && name.length > 2) return { kind: 'suffix', value: name.slice(1), port };
  if (name.endsWith('.*') && name.length > 2) return { kind: 'prefix', value: name.slice(0, -1), port };
  return `${what} "${entry}": a wildcard must be the whole leftmost or rightmost label`;
}

export function hostMatches(spec: HostSpec, host: string, port: number): boolean {
  if (spec.port !== null && spec.port !== port) return false;
  switch (spec.kind) {
    case 'exact':
      return host === spec.value;
    case 'suffix':
      return host.endsWith(spec.value);
    case 'prefix':
      return host.startsWith(spec.value);
  }
}

/**
 * SNI entries: same wildcards as hosts, no port, and a trailing dot is dropped ("the last
 * dot in FQDNs must not be used for routing", transform.lua sni_val_transform).
 */
export function parseSni(entry: string): HostSpec | string {
  let name = entry.trim().toLowerCase();
  if (name.length > 1 && name.endsWith('.')) name = name.slice(0, -1);
  if (name.includes(':')) return `sni "${entry}" must not carry a port`;
  return parseHost(name, 'sni');
}

/** The request's SNI in the same form as parsed entries. */
export function canonicalSni(sni: string): string {
  const lower = sni.toLowerCase();
  return lower.length > 1 && lower.endsWith('.') ? lower.slice(0, -1) : lower;
}
