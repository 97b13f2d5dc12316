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

export interface Scenario {
  /** The `--scenario` value. */
  name: string;
  /** One line for the report. */
  description: string;
  /** The request every connection repeats, sent identically to every peer. */
  request: BenchRequest;
  /** Status every response must have (others count as non-2xx/errors in the report). Default 200. */
  expectStatus?: number;
  /** The gateway's Kong 3.x declarative config (written as YAML). */
  gatewayConfig(ctx: ScenarioContext): Record<string, unknown>;
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
