/** Builders shared by the router's tests: Kong's defaults, overridable per case. */
import type { RouteConfig, ServiceConfig } from '../../src/config/types.js';
import type { MatchInput, RouteMatch } from './types.js';

export function service(id: string, path: string | null = null, extra: Partial<ServiceConfig> = {}): ServiceConfig {
  return {
    id,
    name: id,
    protocol: 'http',
    host: `${id}.internal`,
    port: 80,
    path,
    retries: 5,
    connect_timeout: 60000,
    write_timeout: 60000,
    read_timeout: 60000,
    tls_verify: null,
    tls_verify_depth: null,
    enabled: true,
    tags: [],
    ...extra,
  };
}

export function route(name: string, fields: Partial<RouteConfig> = {}): RouteConfig {
  return {
    id: `id-${name}`,
    name,
    service: 'svc',
    protocols: ['http', 'https'],
    methods: null,
    hosts: null,
    paths: null,
    headers: null,
    snis: null,
    https_redirect_status_code: 426,
    strip_path: true,
    preserve_host: false,
    request_buffering: true,
    response_buffering: true,
    regex_priority: 0,
    path_handling: 'v0',
    tags: [],
    ...fields,
  };
}

export function request(fields: Partial<MatchInput> = {}): MatchInput {
  return {
    method: 'GET',
    host: 'example.com',
    port: 80,
    path: '/',
    headers: {},
    scheme: 'http',
    sni: null,
    ...fields,
  };
}

/** A fake RouteMatch for upstream-path tests. */
export function matched(r: RouteConfig, matchedPath: string): RouteMatch {
  return { route: r, service: null, matchedPath, captures: null, protocolMismatch: false };
}
