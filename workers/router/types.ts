/**
 * The router's public shapes. Kept apart from the implementation so the proxy worker and
 * the tests can import them without pulling in re2 or lru-cache.
 */
import type { RouteConfig, ServiceConfig } from '../../src/config/types.js';

/** What the router needs from a request; the listener fills it from RequestContext. */
export interface MatchInput {
  /** As sent; Kong compares methods case-sensitively (upper case in practice). */
  method: string;
  /** Lowercased, without the port. */
  host: string;
  /** Port the client addressed (Host header, else the listener's): Kong's net.dst.port. */
  port: number;
  /** Already normalised with normalizePath(); the query is not part of it. */
  path: string;
  /** Lowercased names; repeated headers joined with ", ". */
  headers: Record<string, string>;
  scheme: 'http' | 'https';
  /** TLS server name, null on plain HTTP or when the client sent none. */
  sni: string | null;
}

export interface RouteMatch {
  route: RouteConfig;
  /** null for a route without a service (only useful with a terminating plugin). */
  service: ServiceConfig | null;
  /**
   * The prefix that matched (prefix path), the whole regex match text (regex path), or "/"
   * for a route without paths: exactly what Kong strips when strip_path is on.
   */
  matchedPath: string;
  /** Regex captures, "0" (whole match), "1", ... and named; null when the regex has no groups. */
  captures: Readonly<Record<string, string>> | null;
  /**
   * The route accepts https but not http and the request came over http: the caller answers
   * with route.https_redirect_status_code (Kong's 426 / redirect) instead of proxying.
   */
  protocolMismatch: boolean;
}

export interface RouterOptions {
  /**
   * Entries in each of the positive and negative LRU caches; 0 disables caching. Default as
   * in Kong: 5000 negative, and 5000 positive per started 5000 routes (at most 100000).
   */
  cacheSize?: number;
  /** Keys longer than this are not cached (the request is still routed). Default 1024. */
  maxCacheKeyLength?: number;
}

/** One reason the router refused a config; the loader should have caught it first. */
export interface RouterIssue {
  route: string;
  message: string;
}

/** Thrown by `new Router()` when some route cannot be compiled safely. */
export class RouterConfigError extends Error {
  readonly issues: readonly RouterIssue[];

  constructor(issues: RouterIssue[]) {
    super(`router: ${issues.length} invalid route(s): ${issues.map((i) => `${i.route}: ${i.message}`).join('; ')}`);
    this.name = 'RouterConfigError';
    this.issues = issues;
  }
}
