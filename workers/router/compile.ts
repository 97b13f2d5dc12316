/**
 * Turns the config's routes into ranked matchers, the way Kong's traditional_compatible
 * flavor turns them into ATC matchers (kong/router/compat.lua, transform.lua):
 *
 *  - only routes for the http subsystem (a protocol among http, https, grpc, grpcs), and not
 *    those whose service is disabled (kong/runloop/handler.lua new_router); routes without
 *    a service are kept;
 *  - a route whose paths differ in kind or length is split into one matcher per prefix
 *    length plus one holding all its regexes (split_routes_and_services_by_path), so each
 *    path is ranked by its own length instead of the route's longest (Kong PR #10615);
 *  - every matcher gets Kong's priority (priority.ts) and the list is sorted by it, ties
 *    broken by position in the config (then by split part), and numbered: `rank` 0 wins.
 *
 * Anything that cannot be compiled safely (unknown service, bad regex, bad wildcard, prefix
 * path that is not in normalised form, route with nothing to match on) is collected and
 * reported together: silently dropping a route could hand its traffic to a broader one.
 */
import RE2 from 're2';
import type { Protocol, RouteConfig, ServiceConfig } from '../../src/config/types.js';
import { compileHeader, type HeaderCondition } from './headers.js';
import { parseHost, parseSni, type HostSpec } from './hosts.js';
import { normalizePath } from './normalize-path.js';
import { comparePriority, computePriority, type Priority } from './priority.js';
import type { RouteMatch, RouterIssue } from './types.js';

const HTTP_SUBSYSTEM: ReadonlySet<Protocol> = new Set<Protocol>(['http', 'https', 'grpc', 'grpcs']);

export interface CompiledRegex {
  /** The path as configured, with its "~". */
  source: string;
  /** What RE2 compiles: "^(?:" + source without "~" + ")". */
  pattern: string;
  re: RE2;
}

export interface Matcher {
  /** Position in priority order: lower wins. */
  rank: number;
  route: RouteConfig;
  service: ServiceConfig | null;
  /** Index of the route in the config (the tie-break). */
  routeIndex: number;
  /** Which split part of the route this is (0 when not split). */
  part: number;
  priority: Priority;
  pathKind: 'none' | 'prefix' | 'regex';
  /** Prefix paths of this part (all the same length). */
  prefixes: string[];
  /** Regex paths of this part, in config order (the first that matches supplies captures). */
  regexes: CompiledRegex[];
  methods: string[] | null;
  hosts: HostSpec[] | null;
  snis: HostSpec[] | null;
  headers: HeaderCondition[] | null;
  /** protocols has https and not http: an http request gets protocolMismatch (Kong's 426). */
  httpsOnly: boolean;
  /**
   * Results for prefix paths and path-less routes, built once: index 0 without, 1 with
   * protocolMismatch. Keyed by prefix ("/" for a path-less route).
   */
  fixed: Map<string, readonly [RouteMatch, RouteMatch]>;
  /** Scratch for Router.find(): the lookup that last considered this matcher. */
  seen: number;
}

export interface CompileResult {
  /** Sorted by rank. */
  matchers: Matcher[];
  issues: RouterIssue[];
}

function nonEmpty<T>(a: T[] | null | undefined): a is T[] {
  return a !== null && a !== undefined && a.length > 0;
}

function routeLabel(route: RouteConfig, index: number): string {
  return route.name ?? (route.id || `routes[${index}]`);
}

/** Kong's group_by_regex_or_length: groups in order of first appearance. */
function groupPaths(paths: string[]): string[][] {
  const groups = new Map<string, string[]>();
  for (const p of paths) {
    const key = p.startsWith('~') ? 'regex' : String(p.length);
    const g = groups.get(key);
    if (g) g.push(p);
    else groups.set(key, [p]);
  }
  return [...groups.values()];
}

function fixedResult(
  route: RouteConfig,
  service: ServiceConfig | null,
  matchedPath: string,
): readonly [RouteMatch, RouteMatch] {
  // Frozen: the same objects are handed to every request that hits them (and cached).
  const ok: RouteMatch = Object.freeze({ route, service, matchedPath, captures: null, protocolMismatch: false });
  const mismatch: RouteMatch = Object.freeze({ route, service, matchedPath, captures: null, protocolMismatch: true });
  return [ok, mismatch];
}

export function compileRoutes(routes: readonly RouteConfig[], services: readonly ServiceConfig[]): CompileResult {
  const issues: RouterIssue[] = [];
  const serviceById = new Map<string, ServiceConfig>();
  for (const s of services) serviceById.set(s.id, s);

  const matchers: Matcher[] = [];
  routes.forEach((route, routeIndex) => {
    const label = routeLabel(route, routeIndex);
    const issue = (message: string): void => {
      issues.push({ route: label, message });
    };

    if (!route.protocols.some((p) => HTTP_SUBSYSTEM.has(p))) return; // a stream route

    let service: ServiceConfig | null = null;
    if (route.service !== null) {
      const s = serviceById.get(route.service);
      if (s === undefined) return issue(`unknown service "${route.service}"`);
      if (s.enabled === false) return; // Kong leaves these out of the router
      service = s;
    }

    const methods = nonEmpty(route.methods) ? route.methods.map((m) => m.toUpperCase()) : null;

    let hosts: HostSpec[] | null = null;
    if (nonEmpty(route.hosts)) {
      hosts = [];
      for (const h of route.hosts) {
        const spec = parseHost(h);
        if (typeof spec === 'string') issue(spec);
        else hosts.push(spec);
      }
    }

    let snis: HostSpec[] | null = null;
    if (nonEmpty(route.snis)) {
      snis = [];
      for (const s of route.snis) {
        const spec = parseSni(s);
        if (typeof spec === 'string') issue(spec);
        else snis.push(spec);
      }
    }

    let headers: HeaderCondition[] | null = null;
    const headerNames = route.headers === null ? [] : Object.keys(route.headers);
    if (headerNames.length > 0) {
      headers = [];
      for (const name of headerNames) {
        const cond = compileHeader(name, route.headers![name] ?? []);
        if (typeof cond === 'string') issue(cond);
        else headers.push(cond);
      }
    }

    const paths = nonEmpty(route.paths) ? route.paths : null;
    if (methods === null && hosts === null && headers === null && paths === null && snis === null) {
      return issue('route has none of methods, hosts, headers, paths, snis');
    }

    const httpsOnly = route.protocols.includes('https') && !route.protocols.includes('http');
    const groups = paths === null ? [null] : groupPaths(paths);

    groups.forEach((group, part) => {
      const regexes: CompiledRegex[] = [];
      const prefixes: string[] = [];
      let pathKind: Matcher['pathKind'] = 'none';
      if (group !== null && group[0]!.startsWith('~')) {
        pathKind = 'regex';
        for (const source of group) {
          try {
            // Kong prepends "^" only; the group keeps a top-level alternation ("~/a|/b")
            // anchored too, instead of letting "/b" match anywhere in the path.
            const pattern = `^(?:${source.slice(1)})`;
            regexes.push({ source, pattern, re: new RE2(pattern) });
          } catch (err) {
            issue(`invalid regex path "${source}": ${(err as Error).message}`);
          }
        }
      } else if (group !== null) {
        pathKind = 'prefix';
        for (const p of group) {
          if (normalizePath(p) !== p) issue(`prefix path "${p}" is not normalised (expected "${normalizePath(p) ?? 'invalid'}")`);
          else prefixes.push(p);
        }
      }

      const fixed = new Map<string, readonly [RouteMatch, RouteMatch]>();
      if (pathKind === 'none') fixed.set('/', fixedResult(route, service, '/'));
      for (const p of prefixes) fixed.set(p, fixedResult(route, service, p));

      matchers.push({
        rank: 0,
        route,
        service,
        routeIndex,
        part,
        priority: computePriority({
          methods: methods !== null,
          hosts: route.hosts,
          headerCount: headerNames.length,
          snis: snis !== null,
          pathKind,
          prefixLength: pathKind === 'prefix' ? group![0]!.length : 0,
          regexPriority: route.regex_priority,
        }),
        pathKind,
        prefixes,
        regexes,
        methods,
        hosts,
        snis,
        headers,
        httpsOnly,
        fixed,
        seen: 0,
      });
    });
  });

  // Kong: highest priority first, equal priority by route UUID. Ours: config order.
  matchers.sort((a, b) => comparePriority(a.priority, b.priority) || a.routeIndex - b.routeIndex || a.part - b.part);
  matchers.forEach((m, i) => {
    m.rank = i;
  });
  return { matchers, issues };
}
