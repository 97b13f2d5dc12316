/**
 * Portcullis router: Kong 3.x `traditional_compatible` route matching.
 *
 * Built once per config (per worker), immutable afterwards; `match()` is synchronous.
 *
 * WHAT MATCHES (all configured fields ANDed; values inside one field ORed)
 *   paths    "/p" is a plain string prefix, not segment-aware ("/p" matches "/pa");
 *            "~re" is an RE2 regex anchored at the start only ("^(?:re)"), named groups
 *            "(?<name>...)". Matched against the normalised path (normalize-path.ts).
 *   hosts    exact, "*.suffix", "prefix.*", optionally ":port" (checked against input.port).
 *   methods  exact.
 *   headers  per header, any value equal (case-insensitive) or "~*re" found (case-insensitive),
 *            tried on the whole value and on each comma-separated element; headers ANDed.
 *   snis     only checked when the request is https and carried an SNI; otherwise ignored.
 *   protocols  not a match condition (as in Kong): a route that accepts https but not http,
 *            hit over http, is returned with protocolMismatch = true and the caller answers
 *            with its https_redirect_status_code. grpc/grpcs mismatches are left to the caller.
 *
 * WHICH ROUTE WINS
 *   Kong's 64-bit priority (priority.ts), highest first:
 *     1. more kinds of field set (methods, hosts, headers, snis, paths);
 *     2. then plain hosts (no wildcard) over wildcard or no hosts;
 *     3. then more header names;
 *     4. then regex paths over prefix paths;
 *     5. then, among regex paths, higher regex_priority;
 *     6. then, among prefix paths, the longer prefix.
 *   A route whose paths differ in kind or length is split (Kong PR #10615): each prefix
 *   length and the set of its regexes is ranked on its own.
 *   TIE-BREAK: config order. On equal priority the route that comes first in the config wins.
 *   (Kong breaks ties by route UUID, and in DB-less mode the UUID is derived from the name,
 *   so renaming a route can silently change which one wins; config order is visible and
 *   stable.)
 *   Deliberate differences from Kong are listed in README.md (negative regex_priority,
 *   top-level alternation in regex paths, header regex case folding, SNI without TLS).
 *
 * HOW IT IS FAST
 *   Candidates come from an index, never from a scan of all routes: host buckets (exact map,
 *   one lookup per dot for wildcards, plus the host-less bucket), then per bucket a
 *   character trie of prefix paths, one RE2.Set pass for regex paths, and the path-less list.
 *   Each candidate costs a rank comparison, and the remaining checks only if it could still
 *   win. Results go into two bounded LRUs, positive and negative, sized as in Kong and keyed
 *   on exactly the fields some route uses (cache-key.ts).
 */
import { LRUCache } from 'lru-cache';
import type { RouteConfig, ServiceConfig } from '../../src/config/types.js';
import { makeKeyFunction, usedFields, type KeyFields, type KeyFunction } from './cache-key.js';
import { compileRoutes, type Matcher } from './compile.js';
import { headerMatches } from './headers.js';
import { HostIndex } from './host-index.js';
import { canonicalSni, hostMatches } from './hosts.js';
import type { PathIndex, PrefixEntry } from './path-index.js';
import { priorityToBigInt } from './priority.js';
import { RouterConfigError, type MatchInput, type RouteMatch, type RouterOptions } from './types.js';

/** Kong's DEFAULT_MATCH_LRUCACHE_SIZE (kong/router/utils.lua). */
export const DEFAULT_CACHE_SIZE = 5000;
const DEFAULT_MAX_KEY_LENGTH = 1024;

/**
 * Kong sizes the positive cache by route count (kong/runloop/handler.lua new_router):
 * 5000 per started 5000 routes, at most 100000. The negative cache stays at 5000, so a
 * flood of 404s can never push out more than that.
 */
function defaultPositiveSize(routeCount: number): number {
  const n = DEFAULT_CACHE_SIZE;
  return Math.min(Math.ceil(Math.max(routeCount / n, 1)) * n, n * 20);
}

export interface MatcherInfo {
  route: RouteConfig;
  /** Paths of this (possibly split) part; null for a route without paths. */
  paths: string[] | null;
  /** Kong's priority value (regex_priority read as signed), for debugging. */
  priority: bigint;
}

export class Router {
  private readonly matchers: Matcher[];
  private readonly index = new HostIndex();
  private readonly keyOf: KeyFunction;
  private readonly positive: LRUCache<string, RouteMatch> | null;
  private readonly negative: LRUCache<string, true> | null;
  readonly keyFields: KeyFields;

  // Per-lookup state, kept on the instance so the hot path allocates no closures.
  private epoch = 0;
  private req: MatchInput = null as unknown as MatchInput;
  private best: Matcher | null = null;
  private bestPrefix: string | null = null;

  constructor(routes: RouteConfig[], services: ServiceConfig[], opts: RouterOptions = {}) {
    const { matchers, issues } = compileRoutes(routes, services);
    if (issues.length > 0) throw new RouterConfigError(issues);
    this.matchers = matchers;
    for (const m of matchers) this.index.add(m);
    this.index.finish();

    this.keyFields = usedFields(matchers);
    this.keyOf = makeKeyFunction(this.keyFields, opts.maxCacheKeyLength ?? DEFAULT_MAX_KEY_LENGTH);
    const positiveSize = opts.cacheSize ?? defaultPositiveSize(routes.length);
    const negativeSize = opts.cacheSize ?? DEFAULT_CACHE_SIZE;
    this.positive = positiveSize > 0 ? new LRUCache<string, RouteMatch>({ max: positiveSize }) : null;
    this.negative = negativeSize > 0 ? new LRUCache<string, true>({ max: negativeSize }) : null;
  }

  /** The route for this request, or null (Kong's 404 "no Route matched with those values"). */
  match(req: MatchInput): RouteMatch | null {
    const key = this.positive === null ? null : this.keyOf(req);
    if (key !== null) {
      const hit = this.positive!.get(key);
      if (hit !== undefined) return hit;
      if (this.negative!.get(key) === true) return null;
    }
    const result = this.find(req);
    if (key !== null) {
      if (result === null) this.negative!.set(key, true);
      else this.positive!.set(key, result);
    }
    return result;
  }

  /** Matchers in priority order (split parts separately): what wins over what, for debugging. */
  describe(): MatcherInfo[] {
    return this.matchers.map((m) => ({
      route: m.route,
      paths: m.pathKind === 'none' ? null : m.pathKind === 'prefix' ? m.prefixes : m.regexes.map((r) => r.source),
      priority: priorityToBigInt(m.priority),
    }));
  }

  /** Uncached lookup. */
  private find(req: MatchInput): RouteMatch | null {
    this.epoch++;
    this.req = req;
    this.best = null;
    this.bestPrefix = null;
    try {
      this.index.visit(req.host, this.visitBucket);
      const best = this.best as Matcher | null;
      return best === null ? null : this.result(best, req);
    } finally {
      this.req = null as unknown as MatchInput; // do not keep the request alive
    }
  }

  private readonly visitBucket = (idx: PathIndex): void => {
    const req = this.req;
    if (idx.trie.size > 0) idx.trie.walk(req.path, this.considerPrefix);
    for (const m of idx.pathless) {
      if (this.best !== null && m.rank >= this.best.rank) break; // sorted by rank
      this.consider(m);
    }
    if (this.best !== null && idx.minRegexRank >= this.best.rank) return;
    if (idx.regexSet !== null) {
      for (const i of idx.regexSet.match(req.path)) this.consider(idx.regexes[i]!.matcher);
      return;
    }
    for (const e of idx.regexes) {
      if (this.best !== null && e.rank >= this.best.rank) return; // sorted by rank
      if (e.matcher.seen !== this.epoch && e.re.test(req.path)) this.consider(e.matcher);
    }
  };

  private readonly considerPrefix = (e: PrefixEntry): void => {
    if (this.consider(e.matcher)) this.bestPrefix = e.prefix;
  };

  /** Checks a matcher whose path already matched; returns true when it became the best. */
  private consider(m: Matcher): boolean {
    if (this.best !== null && m.rank >= this.best.rank) return false;
    if (m.seen === this.epoch) return false;
    m.seen = this.epoch;
    if (!this.accepts(m, this.req)) return false;
    this.best = m;
    return true;
  }

  /** Every condition except the path. */
  private accepts(m: Matcher, req: MatchInput): boolean {
    if (m.methods !== null && !m.methods.includes(req.method)) return false;
    if (m.hosts !== null) {
      let ok = false;
      for (const h of m.hosts) {
        if (hostMatches(h, req.host, req.port)) {
          ok = true;
          break;
        }
      }
      if (!ok) return false;
    }
    if (m.headers !== null) {
      for (const cond of m.headers) if (!headerMatches(cond, ownHeader(req.headers, cond.name))) return false;
    }
    // Kong: (net.protocol != "https" || tls.sni == ...). Without an SNI (TLS terminated in
    // front of us, or a client that sent none) there is nothing to compare, so no check.
    if (m.snis !== null && req.scheme === 'https' && req.sni !== null) {
      const sni = canonicalSni(req.sni);
      let ok = false;
      for (const s of m.snis) {
        if (hostMatches(s, sni, 0)) {
          ok = true;
          break;
        }
      }
      if (!ok) return false;
    }
    return true;
  }

  private result(m: Matcher, req: MatchInput): RouteMatch | null {
    const mismatch = m.httpsOnly && req.scheme !== 'https' ? 1 : 0;
    if (m.pathKind !== 'regex') {
      const fixed = m.fixed.get(m.pathKind === 'prefix' ? this.bestPrefix! : '/');
      return fixed![mismatch]!;
    }
    // The first of the matcher's regexes (config order) that matches supplies the captures,
    // like the short-circuit OR of Kong's expression.
    for (const r of m.regexes) {
      const found = r.re.exec(req.path);
      if (found === null) continue;
      return Object.freeze({
        route: m.route,
        service: m.service,
        matchedPath: found[0],
        captures: capturesOf(found),
        protocolMismatch: mismatch === 1,
      });
    }
    return null; // unreachable: the index only offers matchers whose regex matched
  }
}

/** A header value, never something inherited from Object.prototype ("constructor"...). */
export function ownHeader(headers: Record<string, string>, name: string): string | undefined {
  const v = headers[name];
  return typeof v === 'string' ? v : undefined;
}

/**
 * Kong's uri_captures: "0" is the whole match, then every group by number (named ones too)
 * and by name; groups that did not participate are absent. null when nothing but "0" is
 * left (Kong's has_capture). Null prototype: a capture named "constructor" or a
 * lookup of a missing name must not reach Object.prototype. Frozen: cached and shared.
 */
function capturesOf(found: RegExpExecArray): Readonly<Record<string, string>> | null {
  if (found.length < 2) return null;
  const captures: Record<string, string> = Object.create(null);
  let groups = 0;
  for (let i = 0; i < found.length; i++) {
    const v = found[i];
    if (v === undefined) continue;
    captures[String(i)] = v;
    if (i > 0) groups++;
  }
  if (groups === 0) return null;
  if (found.groups) {
    for (const name of Object.keys(found.groups)) {
      const v = found.groups[name];
      if (v !== undefined) captures[name] = v;
    }
  }
  return Object.freeze(captures);
}
