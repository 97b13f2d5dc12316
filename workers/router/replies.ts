/**
 * The local replies a routing outcome calls for, worded as Kong words them so clients and
 * monitors that parse Kong's answers keep working.
 *
 * No route: kong/runloop/handler.lua access phase,
 *   return kong.response.error(404, "no Route matched with those values")
 * rendered by the Accept-dependent error templates of kong/tools/http.lua; the JSON one is
 *   {\n  "message":"%s",\n  "request_id":"%s"\n}
 *
 * Protocol mismatch (route accepts https only, request came over http), same file:
 *   426 -> kong.response.error(426, "Please use HTTPS protocol",
 *            { Connection = "Upgrade", Upgrade = "TLS/1.2, HTTP/1.1" })
 *   301/302/307/308 -> Location: "https://" .. forwarded_host .. request_uri, empty body
 *
 * The reply objects have the shape of the pipeline's LocalReply (workers/pipeline/types.ts):
 * `message` means "render Kong's error document for the request's Accept header".
 */
import type { RouteConfig } from '../../src/config/types.js';

export const NO_ROUTE_STATUS = 404;
export const NO_ROUTE_MESSAGE = 'no Route matched with those values';
export const HTTPS_REQUIRED_MESSAGE = 'Please use HTTPS protocol';

export interface RouterReply {
  readonly status: number;
  readonly message?: string;
  readonly body?: string;
  readonly headers?: ReadonlyArray<readonly [string, string]>;
}

export const NO_ROUTE_REPLY: RouterReply = Object.freeze({ status: NO_ROUTE_STATUS, message: NO_ROUTE_MESSAGE });

/** Kong's JSON error body for the 404, byte for byte (request ids are hex: nothing to escape). */
export function noRouteJsonBody(requestId: string): string {
  return `{\n  "message":"${NO_ROUTE_MESSAGE}",\n  "request_id":"${requestId}"\n}`;
}

const UPGRADE_HEADERS = Object.freeze([
  Object.freeze(['connection', 'Upgrade'] as const),
  Object.freeze(['upgrade', 'TLS/1.2, HTTP/1.1'] as const),
]);

/**
 * The answer to a match with protocolMismatch. `host` is the host the client addressed
 * (X-Forwarded-Host when trusted), `requestUri` the raw path and query as received.
 */
export function protocolMismatchReply(route: RouteConfig, host: string, requestUri: string): RouterReply {
  const status = route.https_redirect_status_code;
  if (status === 426) return { status, message: HTTPS_REQUIRED_MESSAGE, headers: UPGRADE_HEADERS };
  return { status, body: '', headers: [['location', `https://${host}${requestUri}`]] };
}
