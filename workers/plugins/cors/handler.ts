/**
 * cors (Kong PRIORITY 2000): answers preflights in access and adds the CORS response
 * headers in header_filter, as kong/plugins/cors/handler.lua does, with two deliberate
 * differences (README.md):
 * - the request Origin is never reflected just because `*` is allowed: with
 *   `credentials: true` and `*`, the answer is `Access-Control-Allow-Origin: *` without
 *   Access-Control-Allow-Credentials (browsers then refuse credentialed requests), where
 *   Kong reflects any Origin with credentials allowed;
 * - a single exact origin is emitted only when the request's Origin matches it (Kong
 *   sends it whatever the Origin).
 *
 * Everything that depends on the config is built in create(); what depends on the
 * request Origin is decided once per distinct Origin and kept in a bounded Map, so a
 * request costs a Map lookup (regexes run only the first time an Origin is seen).
 */
import RE2 from 're2';
import type { RequestContext } from '../../http/request-context.js';
import type { LocalReply, PluginEnv, PluginHandler, Verdict } from '../../pipeline/types.js';
import { anchoredOriginRegex, LITERAL_ORIGIN, type CorsConfig } from './schema.js';

/** Distinct request Origins whose decision is kept per plugin instance (Kong: an LRU of 10^4). */
export const ORIGIN_CACHE_SIZE = 10_000;

/** ctx.shared key: the access phase handled (or let through) a preflight; header_filter then adds nothing. */
const PREFLIGHT_SEEN = 'cors.preflight';

const ACAO = 'access-control-allow-origin';
const ACAC = 'access-control-allow-credentials';
const ACEH = 'access-control-expose-headers';

/** What to answer for one request Origin. */
interface Decision {
  /** Access-Control-Allow-Origin, or null: no such header (an upstream's is removed). */
  readonly acao: string | null;
  /** Access-Control-Allow-Credentials: true. */
  readonly acac: boolean;
  /** Preflight replies, built on first use when they do not depend on request headers. */
  preflight: LocalReply | null;
  preflightPna: LocalReply | null;
}

function decision(acao: string | null, acac: boolean): Decision {
  return { acao, acac, preflight: null, preflightPna: null };
}

export interface NormalizedOrigin {
  /** scheme://host[:port], the default port dropped; the value itself when it has no host. */
  readonly domain: string;
  readonly host: string;
}

const SCHEME = /^([A-Za-z0-9][A-Za-z0-9+.-]*):/;
const PORT = /:([^:\]]*)$/;
const IPV6 = /^\[(.+)\]$/;

/**
 * Kong's normalize_origin (LuaSocket url.parse): scheme, host and port of an origin, the
 * port dropped when it is the scheme's default. An IPv6 host keeps its brackets in the
 * domain (Kong drops them, producing an origin no browser sends).
 */
export function normalizeOrigin(value: string): NormalizedOrigin {
  let rest = value;
  const hash = rest.indexOf('#');
  if (hash >= 0) rest = rest.slice(0, hash);
  let scheme: string | null = null;
  const sm = SCHEME.exec(rest);
  if (sm !== null) {
    scheme = sm[1]!;
    rest = rest.slice(sm[0].length);
  }
  if (!rest.startsWith('//')) return { domain: value, host: value };
  const slash = rest.indexOf('/', 2);
  let authority = slash < 0 ? rest.slice(2) : rest.slice(2, slash);
  const at = authority.indexOf('@');
  if (at >= 0) authority = authority.slice(at + 1);
  let port: string | null = null;
  const pm = PORT.exec(authority);
  if (pm !== null) {
    port = pm[1]!;
    authority = authority.slice(0, pm.index);
  }
  if (authority === '') return { domain: value, host: value };
  const v6 = IPV6.exec(authority);
  const host = v6 !== null ? v6[1]! : authority;
  if ((scheme === 'http' && port === '80') || (scheme === 'https' && port === '443')) port = null;
  const domain = (scheme !== null ? `${scheme}://` : '') + authority + (port !== null ? `:${port}` : '');
  return { domain, host };
}

interface RegexOrigin {
  readonly re: RE2;
  /** Kong's by_host: an entry without ':' is matched against the Origin's host only. */
  readonly byHost: boolean;
  readonly source: string;
}

/** Origins no sane allow-list contains: a regex matching one of them allows (nearly) anything. */
const PROBE_ORIGINS = ['https://portcullis-probe.invalid', 'http://attacker.example', 'null'];

export function createCors(conf: CorsConfig, env?: PluginEnv): PluginHandler {
  const credentials = conf.credentials;
  const origins = conf.origins ?? [];
  const allowAll = origins.length === 0 || (origins.length === 1 && origins[0] === '*');
  const hasStar = origins.includes('*');
  const exact = new Set<string>();
  const regexes: RegexOrigin[] = [];
  for (const entry of origins) {
    if (entry === '*') continue;
    if (LITERAL_ORIGIN.test(entry)) exact.add(normalizeOrigin(entry).domain);
    else regexes.push({ re: new RE2(anchoredOriginRegex(entry)), byHost: !entry.includes(':'), source: entry });
  }

  const warn = env !== undefined && env.workerId === 0 ? env.log : null;
  if (warn !== null && credentials && hasStar) {
    warn.warn(
      { plugin: 'cors' },
      allowAll
        ? "origins '*' with credentials: true: answering 'Access-Control-Allow-Origin: *' without credentials (Kong would reflect any Origin with credentials allowed)"
        : "origins contains '*' with credentials: true: listed origins get credentials, any other origin gets '*' without credentials",
    );
  }
  if (warn !== null && credentials) {
    for (const r of regexes) {
      if (PROBE_ORIGINS.some((p) => matches(r, normalizeOrigin(p)))) {
        warn.warn({ plugin: 'cors', origin: r.source }, 'origins regex matches arbitrary origins, and credentials is true: any such site can make credentialed requests');
      }
    }
  }

  // Decisions that do not depend on which origin it is.
  const ALL = decision('*', false);
  const STAR = decision('*', false);
  const NONE = decision(null, credentials);
  /** Kong: the Vary: Origin header is sent whenever the answer depends on the Origin. */
  const vary = !allowAll;
  const cache = new Map<string, Decision>();

  function matches(r: RegexOrigin, n: NormalizedOrigin): boolean {
    return r.re.test(r.byHost ? n.host : n.domain);
  }

  function compute(origin: string): Decision {
    const n = normalizeOrigin(origin);
    let found = exact.has(n.domain);
    for (let i = 0; !found && i < regexes.length; i++) found = matches(regexes[i]!, n);
    // Kong: any '*' in the list answers '*' (without credentials here: see the header).
    if (hasStar && !(found && credentials)) return STAR;
    return found ? decision(n.domain, credentials) : NONE;
  }

  function decide(ctx: RequestContext, origin: string | undefined): Decision {
    if (allowAll) return ALL;
    if (origin === undefined) return NONE;
    // Two Origin headers are no browser's: never match them (their joined value could fool a loose regex).
    if (ctx.repeatedHeaders !== null && ctx.isRepeated('origin')) return hasStar ? STAR : NONE;
    let d = cache.get(origin);
    if (d === undefined) {
      d = compute(origin);
      if (cache.size >= ORIGIN_CACHE_SIZE) cache.delete(cache.keys().next().value as string);
      cache.set(origin, d);
    }
    return d;
  }

  const allowHeaders = conf.headers !== null && conf.headers.length > 0 ? conf.headers.join(',') : null;
  const exposeHeaders = conf.exposed_headers !== null && conf.exposed_headers.length > 0 ? conf.exposed_headers.join(',') : null;
  const allowMethods = conf.methods.join(',');
  const maxAge = conf.max_age !== null ? String(conf.max_age) : null;
  const privateNetwork = conf.private_network;
  const preflightContinue = conf.preflight_continue;
  const allowOriginAbsent = conf.allow_origin_absent;

  function preflightReply(d: Decision, acrh: string | undefined, pna: boolean): LocalReply {
    const headers: Array<readonly [string, string]> = [];
    if (vary) headers.push(['vary', 'Origin']);
    if (d.acao !== null) headers.push([ACAO, d.acao]);
    if (d.acac) headers.push([ACAC, 'true']);
    if (allowHeaders !== null) headers.push(['access-control-allow-headers', allowHeaders]);
    else if (acrh !== undefined) headers.push(['access-control-allow-headers', acrh]);
    headers.push(['access-control-allow-methods', allowMethods]);
    if (maxAge !== null) headers.push(['access-control-max-age', maxAge]);
    if (pna) headers.push(['access-control-allow-private-network', 'true']);
    // Kong's kong.response.exit(200): an empty body, no Content-Type.
    return { status: 200, body: '', headers };
  }

  return {
    access(ctx: RequestContext): Verdict {
      if (ctx.method !== 'OPTIONS') return undefined;
      const h = ctx.headers;
      const origin = h['origin'];
      if (origin === undefined || h['access-control-request-method'] === undefined) return undefined;
      // A preflight: header_filter adds nothing to its answer, ours or the upstream's.
      (ctx.shared ??= Object.create(null) as Record<string, unknown>)[PREFLIGHT_SEEN] = true;
      if (preflightContinue) return undefined;
      const d = decide(ctx, origin);
      const pna = privateNetwork && h['access-control-request-private-network'] === 'true';
      if (allowHeaders === null) return preflightReply(d, h['access-control-request-headers'], pna);
      if (pna) return (d.preflightPna ??= preflightReply(d, undefined, true));
      return (d.preflight ??= preflightReply(d, undefined, false));
    },

    headerFilter(ctx: RequestContext): void {
      const res = ctx.response;
      if (res === null) return;
      if (ctx.method === 'OPTIONS' && ctx.shared !== null && ctx.shared[PREFLIGHT_SEEN] === true) return;
      const origin = ctx.headers['origin'];
      if (origin === undefined && !allowOriginAbsent) return;
      const d = decide(ctx, origin);
      const out = res.headers;
      if (vary) {
        // Kong's add_header: one more Vary line, whatever the upstream sent.
        const prev = out['vary'];
        if (prev === undefined) out['vary'] = 'Origin';
        else if (Array.isArray(prev)) prev.push('Origin');
        else out['vary'] = [prev, 'Origin'];
      }
      if (d.acao !== null) out[ACAO] = d.acao;
      else delete out[ACAO];
      if (d.acac) out[ACAC] = 'true';
      if (exposeHeaders !== null) out[ACEH] = exposeHeaders;
    },
  };
}
