/**
 * A bench scenario: what the gateway is configured to do, the equivalent nginx setup (if nginx
 * can do it), and the request the load tool repeats. Add one by writing one file in this folder
 * whose default export is a `Scenario` (see plain.ts); `--scenario NAME` picks it up without any
 * other change.
 */

export interface ScenarioContext {
  /** The origin's base URL, e.g. http://127.0.0.1:40123 (no trailing slash). */
  upstreamUrl: string;
  /** Bytes in the origin's response body. */
  payloadSize: number;
  /** The Redis the bench started or was given, for scenarios with `needs: ['redis']`; else null. */
  redis: { host: string; port: number } | null;
}

export interface BenchRequest {
  method: string;
  /** Path and query, starting with "/". */
  path: string;
  headers?: Record<string, string>;
  body?: string;
}

export interface NginxSetup {
  /** Directives inside `http {}`, after the `upstream origin {}` block the peer always defines. */
  http?: string;
  /** Directives inside `server {}` (the peer adds `listen`). Proxy to the origin with `proxy_pass http://origin;`. */
  server: string;
}

/**
 * Requests spread over a table (routes, consumers): the load cycles through `count` requests
 * instead of repeating one. wrk and the open-loop generator send all of them; autocannon, which
 * builds every request up front for every connection, sends at most 1,000 evenly spaced ones.
 */
export interface RequestSpread {
  count: number;
  /** Request i, 0 <= i < count. Called once per request at start-up, never during the load. */
  at(i: number): BenchRequest;
}

/**
 * A second, closed-loop load that runs while the scenario's own request is measured open loop:
 * "the p99 of small requests while large bodies are being validated" (issue #6).
 */
export interface BackgroundLoad {
  /** Row-name words, e.g. "64 KB validated JSON POSTs". */
  label: string;
  request: BenchRequest;
  /** Concurrent keep-alive connections of the background load. */
  connections: number;
  expectStatus?: number;
}

export interface Scenario {
  /** The `--scenario` value. */
  name: string;
  /** One line for the report. */
  description: string;
  /**
   * The request every connection repeats, sent identically to every peer. With `spread`, the
   * request of the preflight check (and a representative of the spread in the report).
   */
  request: BenchRequest;
  /** Cycle through many requests instead of repeating `request`. */
  spread?: RequestSpread;
  /**
   * The scenario this one is judged against in the report's "vs baseline" column (the issues'
   * targets, e.g. key-auth-rate-limiting against plain), when both run in the same invocation.
   */
  baseline?: string;
  /**
   * Measure the request open loop while this load runs against the same gateway. Such a scenario
   * always runs in latency mode, with two gateway rows: without and with the background load.
   */
  background?: BackgroundLoad;
  /** Open-loop rate when `--rate` is not given (instead of a fraction of the measured maximum). */
  defaultRate?: number;
  /** Services the bench provides: 'redis' starts a private redis-server unless PORTCULLIS_BENCH_REDIS is set. */
  needs?: 'redis'[];
  /** How long the gateway may take to load this config and be ready (default 30). */
  readyTimeoutSec?: number;
  /** Status every response must have (others count as non-2xx/errors in the report). Default 200. */
  expectStatus?: number;
  /** The gateway's Kong 3.x declarative config (written as YAML). */
  gatewayConfig(ctx: ScenarioContext): Record<string, unknown>;
  /** Extra environment for the gateway process (e.g. PORTCULLIS_ACCESS_LOG), over the bench's own. */
  gatewayEnv?: Record<string, string>;
  /**
   * nginx's equivalent, or null when nginx has no fair equivalent (the nginx peer is then skipped
   * with a message). Omit to use the plain keep-alive proxy (`nginxProxyLocation`).
   */
  nginx?: ((ctx: ScenarioContext) => NginxSetup) | null;
}

/** The nginx location every proxy scenario starts from: keep-alive HTTP/1.1 to `upstream origin`. */
export function nginxProxyLocation(path = '/', extra = ''): string {
  return `location ${path} {
  proxy_pass http://origin;
  proxy_http_version 1.1;
  proxy_set_header Connection "";${extra === '' ? '' : `\n  ${extra.trim().split('\n').join('\n  ')}`}
}`;
}

/** The requests a load cycles through: the spread, or the one request. */
export function scenarioRequests(s: Pick<Scenario, 'request' | 'spread'>, max = Number.POSITIVE_INFINITY): BenchRequest[] {
  if (s.spread === undefined) return [s.request];
  const n = s.spread.count;
  if (n <= max) return Array.from({ length: n }, (_, i) => s.spread!.at(i));
  // Evenly spaced over the whole table, so a capped list still touches all of it.
  return Array.from({ length: max }, (_, i) => s.spread!.at(Math.floor((i * n) / max)));
}

/** Bytes of a request body (0 without one). */
export function bodyBytes(req: BenchRequest): number {
  return req.body === undefined ? 0 : Buffer.byteLength(req.body);
}

export function isScenario(v: unknown): v is Scenario {
  if (typeof v !== 'object' || v === null) return false;
  const s = v as Partial<Scenario>;
  return (
    typeof s.name === 'string' &&
    typeof s.description === 'string' &&
    typeof s.gatewayConfig === 'function' &&
    typeof s.request === 'object' &&
    s.request !== null &&
    typeof s.request.path === 'string' &&
    s.request.path.startsWith('/')
  );
}
