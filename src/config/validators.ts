/**
 * Value checks shared by the entity schemas, with Kong's rules and messages
 * (kong/db/schema/typedefs.lua, kong/tools/uri.lua). Each returns an error message, or
 * undefined when the value is fine, so it plugs into a schema's `check`.
 */
import { isIP } from 'node:net';
import RE2 from 're2';

export interface HostPort {
  kind: 'ipv4' | 'ipv6' | 'name';
  /** Without brackets for IPv6. */
  host: string;
  port: number | null;
}

const LABEL = /^[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?$/;

function isHostname(name: string): boolean {
  if (name.length === 0 || name.length > 253) return false;
  // A name made of digits and dots is a malformed IPv4 address, not a host name.
  if (/^[\d.]+$/.test(name)) return false;
  return name.split('.').every((label) => label.length <= 63 && LABEL.test(label));
}

function parsePort(text: string): number | 'invalid port number' {
  if (!/^\d{1,5}$/.test(text)) return 'invalid port number';
  const port = Number(text);
  return port <= 65535 ? port : 'invalid port number';
}

/** Kong's utils.normalize_ip: host name, IPv4 or IPv6 (bracketed when a port follows). */
export function parseHostPort(value: string): HostPort | { error: string } {
  const invalid = { error: `invalid value: ${value}` };
  if (value.startsWith('[')) {
    const m = /^\[([^\]]+)\](?::(.*))?$/.exec(value);
    if (m === null || isIP(m[1]!) !== 6) return invalid;
    if (m[2] === undefined) return { kind: 'ipv6', host: m[1]!, port: null };
    const port = parsePort(m[2]);
    return typeof port === 'number' ? { kind: 'ipv6', host: m[1]!, port } : { error: port };
  }
  const colons = value.split(':').length - 1;
  if (colons > 1) return isIP(value) === 6 ? { kind: 'ipv6', host: value, port: null } : invalid;
  const [host, portText] = value.split(':') as [string, string | undefined];
  let port: number | null = null;
  if (portText !== undefined) {
    const p = parsePort(portText);
    if (typeof p === 'string') return { error: p };
    port = p;
  }
  if (isIP(host) === 4) return { kind: 'ipv4', host, port };
  return isHostname(host) ? { kind: 'name', host, port } : invalid;
}

/** typedefs.host: a host name or IP address, without a port. */
export function checkHost(value: string): string | undefined {
  const p = parseHostPort(value);
  if ('error' in p) return p.error === 'invalid port number' ? 'must not have a port' : p.error;
  return p.port === null ? undefined : 'must not have a port';
}

/** typedefs.hosts elements: at most one `*`, as the leftmost or rightmost label; `:port` allowed. */
export function checkRouteHost(value: string): string | undefined {
  if ((value.match(/\*/g) ?? []).length > 1) return 'invalid wildcard: must have at most one wildcard';
  if (value.includes('*') && !value.startsWith('*.') && !/\.\*(:\d+)?$/.test(value)) {
    return 'invalid wildcard: must be placed at leftmost or rightmost label';
  }
  const p = parseHostPort(value.replace('*', 'abc'));
  return 'error' in p ? (p.error === 'invalid port number' ? p.error : `invalid value: ${value}`) : undefined;
}

/** typedefs.wildcard_host (route snis): like a host, never an IP, never a port. */
export function checkWildcardHost(value: string): string | undefined {
  let host = value;
  const star = value.indexOf('*');
  if (star >= 0) {
    if (star !== 0 && star !== value.length - 1) return 'wildcard must be leftmost or rightmost character';
    if (value.indexOf('*', star + 1) >= 0) return 'only one wildcard must be specified';
    host = value.replace('*', 'wildcard');
  }
  const p = parseHostPort(host);
  if ('error' in p) return p.error === 'invalid port number' ? 'must not have a port' : `invalid value: ${value}`;
  if (p.kind !== 'name') return 'must not be an IP';
  return p.port === null ? undefined : 'must not have a port';
}

/** The `name` of an upstream: a host name, never an IP, never a port. */
export function checkUpstreamName(value: string): string | undefined {
  const p = parseHostPort(value);
  if ('error' in p) return 'Invalid name; must be a valid hostname';
  if (p.kind !== 'name') return 'Invalid name; no ip addresses allowed';
  return p.port === null ? undefined : 'Invalid name; no port allowed';
}

export function checkHeaderName(value: string): string | undefined {
  return /^[A-Za-z0-9_-]+$/.test(value) ? undefined : `bad header name '${value}', allowed characters are A-Z, a-z, 0-9, '_', and '-'`;
}

/** typedefs.utf8_name (entity names): a URL-safe name, non-ASCII letters allowed. */
export function checkUtf8Name(value: string): string | undefined {
  return /^[A-Za-z0-9._~\u0080-\u{10FFFF}-]+$/u.test(value)
    ? undefined
    : `invalid value '${value}': the only accepted ascii characters are alphanumerics or ., -, _, and ~`;
}

/** typedefs.tag: printable ASCII except `,` and `/`, or any non-ASCII character. */
export function checkTag(value: string): string | undefined {
  return /^[ !-+\-.0-~\u0080-\u{10FFFF}]+$/u.test(value)
    ? undefined
    : `invalid tag '${value}': expected printable ascii (except \`,\` and \`/\`) or valid utf-8 sequences`;
}

function percentProblem(path: string): string | undefined {
  const raw = path.replace(/%[0-9A-Fa-f]{2}/g, '___');
  const at = raw.indexOf('%');
  return at < 0 ? undefined : `invalid url-encoded value: '${raw.slice(at, at + 3)}'`;
}

/** typedefs.path (a service path): `/`-prefixed, no `//`, RFC 3986 characters, valid %-encoding. */
export function checkServicePath(value: string): string | undefined {
  if (!value.startsWith('/')) return 'should start with: /';
  if (value.includes('//')) return 'must not have empty segments';
  if (!/^\/[A-Za-z0-9._~/%:@!$&'()*+,;=-]*$/.test(value)) {
    return `invalid path: '${value}' (characters outside of the reserved list of RFC 3986 found)`;
  }
  return percentProblem(value);
}

const RESERVED = new Set([...`!*'();:@&=+$,/?%#[]`].map((c) => c.charCodeAt(0)));

/**
 * Kong's uri.normalize(path, true): decode %XX of anything but reserved characters (and
 * upper-case the rest), remove dot segments, merge slashes.
 */
export function normalizePath(path: string): string {
  let uri = path;
  if (uri === '' || uri === '/') return uri;
  if (uri.includes('%')) {
    const bytes: number[] = [];
    const src = Buffer.from(uri, 'utf8');
    for (let i = 0; i < src.length; i++) {
      const hex = src[i] === 0x25 && i + 2 < src.length ? src.subarray(i + 1, i + 3).toString('latin1') : '';
      if (/^[0-9A-Fa-f]{2}$/.test(hex)) {
        const n = parseInt(hex, 16);
        if (RESERVED.has(n)) bytes.push(0x25, ...Buffer.from(hex.toUpperCase(), 'latin1'));
        else bytes.push(n);
        i += 2;
      } else {
        bytes.push(src[i]!);
      }
    }
    uri = Buffer.from(bytes).toString('utf8');
  }
  if (!uri.includes('.') && !uri.includes('//')) return uri;
  const out: string[] = [];
  while (uri.length > 0) {
    if (uri === '/.') uri = '/';
    else if (uri === '/..') {
      uri = '/';
      out.pop();
    } else if (uri === '.' || uri === '..') uri = '';
    else if (uri.startsWith('../')) uri = uri.slice(3);
    else if (uri.startsWith('./')) uri = uri.slice(2);
    else if (uri.startsWith('/./')) uri = uri.slice(2);
    else if (uri.startsWith('/../')) {
      uri = uri.slice(3);
      out.pop();
    } else if (uri.startsWith('//')) uri = uri.slice(1);
    else {
      const i = uri.indexOf('/', 1);
      out.push(i < 0 ? uri : uri.slice(0, i));
      uri = i < 0 ? '' : uri.slice(i);
    }
  }
  return out.join('');
}

/**
 * typedefs.router_path: `/prefix` (already normalized) or `~/regex`. Regexes are compiled
 * with RE2, the engine the router matches them with, so what loads also runs.
 */
export function checkRouterPath(value: string): string | undefined {
  if (!value.startsWith('/') && !value.startsWith('~/')) return 'should start with: / (fixed path) or ~/ (regex path)';
  if (value.includes('//')) return 'must not have empty segments';
  if (value.startsWith('/')) {
    const percent = percentProblem(value);
    if (percent !== undefined) return percent;
    const normalized = normalizePath(value);
    return normalized === value ? undefined : `non-normalized path, consider use '${normalized}' instead`;
  }
  const regex = value.slice(1);
  try {
    new RE2(regex);
  } catch (err) {
    return `invalid regex: '${regex}' (RE2 returned: ${(err as Error).message})`;
  }
  return undefined;
}

/** A header value condition: `~*regex` is matched case-insensitively, like Kong's router. */
export function checkHeaderValue(value: string): string | undefined {
  if (!value.startsWith('~*')) return undefined;
  try {
    new RE2(value.slice(2), 'i');
  } catch (err) {
    return `invalid regex: '${value.slice(2)}' (RE2 returned: ${(err as Error).message})`;
  }
  return undefined;
}
