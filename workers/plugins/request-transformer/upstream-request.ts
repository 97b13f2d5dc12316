/**
 * The three changes to the upstream request beyond headers and body: the method, the Host
 * header and a rewritten query string (Kong's kong.service.request.set_method / upstream
 * host / set_query).
 */
import type { RequestContext } from '../../http/request-context.js';

/**
 * Kong's kong.service.request.set_method. The runloop sends ctx.upstreamMethod upstream
 * when set; ctx.method stays the client's. A change to or from HEAD is not
 * made: the proxy frames the client's response by the method (a HEAD answer has no body),
 * so swapping it would leave a GET client waiting for a body that never comes, or write
 * a body to a HEAD client. Returns whether the method was changed.
 */
export function setUpstreamMethod(ctx: RequestContext, method: string): boolean {
  if ((ctx.upstreamMethod ?? ctx.method) === method) return false;
  if (ctx.method === 'HEAD' || method === 'HEAD') return false;
  ctx.upstreamMethod = method;
  return true;
}

/**
 * Kong's kong.service.request.set_header("host", ...) (upstream_host): the runloop sends
 * it whatever preserve_host says; later plugins see it in ctx.headers too.
 */
export function setUpstreamHost(ctx: RequestContext, host: string): void {
  ctx.upstreamHost = host;
  ctx.setHeader('host', host);
}

/**
 * Kong's kong.service.request.set_query. ctx.query is what goes upstream; the parsed view
 * (ctx.queryArgs()) is dropped so that plugins after this one read the new query, as they
 * do in Kong after set_query.
 */
export function setUpstreamQuery(ctx: RequestContext, query: string): void {
  ctx.setQuery(query);
}
