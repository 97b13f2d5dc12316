/** Public API of the router; the proxy worker imports from here. */
export { Router, DEFAULT_CACHE_SIZE, type MatcherInfo } from './router.js';
export { normalizePath } from './normalize-path.js';
export { upstreamPath } from './upstream-uri.js';
export {
  NO_ROUTE_STATUS,
  NO_ROUTE_MESSAGE,
  NO_ROUTE_REPLY,
  HTTPS_REQUIRED_MESSAGE,
  noRouteJsonBody,
  protocolMismatchReply,
  type RouterReply,
} from './replies.js';
export { RouterConfigError, type MatchInput, type RouteMatch, type RouterOptions, type RouterIssue } from './types.js';
