/**
 * The three changes to the upstream request that RequestContext has no method for yet:
 * the method, the Host header and a rewritten query string. Kept here, in one place, so
 * that each becomes a one-line call once RequestContext grows the method (the change is
 * described in this plugin's README, "Gateway changes this plugin relies on").
 */
import type { RequestContext } from '../../http/request-context.js';

/**
 * Kong's kong.service.request.set_method. The runloop sends ctx.method upstream (and the
 * access log shows it, as Kong's does after set_method). A change to or from HEAD is not
 * made: the proxy frames the client's response by the method (a HEAD answer has no body),
 * so swapping it would leave a GET client waiting for a body that never comes, or write
 * a body to a HEAD client. Returns whether the method was changed.
 */
export function setUpstreamMethod(ctx: RequestContext, method: string): boolean {
  if (ctx.method === method) return false;
  if (ctx.method === 'HEAD' || method === 'HEAD') return false;
  (ctx as { method: string }).method = method;
  return true;
}

/**
 * Kong's kong.service.request.set_header("host", ...) (upstream_host). The runloop sends
 * ctx.headers.host upstream when the route has preserve_host; without it, the service's
 * host is sent until the runloop honours an explicit upstream Host (README).
 */
export function setUpstreamHost(ctx: RequestContext, host: string): void {
  ctx.setHeader('host', host);
}

/**
 * Kong's kong.service.request.set_query. ctx.query is what goes upstream; the parsed view
 * (ctx.queryArgs()) is dropped so that plugins after this one read the new query, as they
 * do in Kong after set_query.
 */
export function setUpstreamQuery(ctx: RequestContext, query: string): void {
  ctx.query = query;
  (ctx as unknown as { parsedQuery: unknown }).parsedQuery = null;
}
