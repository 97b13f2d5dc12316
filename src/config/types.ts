/**
 * The normalised, validated declarative config: what the loader produces and what the
 * supervisor posts to every worker. Plain data only (it crosses threads by structured
 * clone or msgpackr), field names as in Kong's entities so the admin API can echo them.
 *
 * Every entity has its id filled in (given, or a deterministic UUIDv5, see ids.ts) and
 * every default applied; foreign keys are ids, never names.
 */

export type Protocol = 'http' | 'https' | 'grpc' | 'grpcs' | 'tcp' | 'tls' | 'tls_passthrough' | 'udp';

export interface ServiceConfig {
  id: string;
  name: string | null;
  protocol: Protocol;
  host: string;
  port: number;
  /** null when the service has no path; the upstream URI rules treat null as "/". */
  path: string | null;
  retries: number;
  connect_timeout: number;
  write_timeout: number;
  read_timeout: number;
  tls_verify: boolean | null;
  tls_verify_depth: number | null;
  enabled: boolean;
  tags: string[];
}

export interface RouteConfig {
  id: string;
  name: string | null;
  /** Service id, or null for a route without a service (only useful with a terminating plugin). */
  service: string | null;
  protocols: Protocol[];
  methods: string[] | null;
  hosts: string[] | null;
  paths: string[] | null;
  /** Header name (lowercased) -> accepted values; a value starting with `~*` is a regex. */
  headers: Record<string, string[]> | null;
  snis: string[] | null;
  https_redirect_status_code: 426 | 301 | 302 | 307 | 308;
  strip_path: boolean;
  preserve_host: boolean;
  request_buffering: boolean;
  response_buffering: boolean;
  regex_priority: number;
  path_handling: 'v0' | 'v1';
  tags: string[];
}

/** Credentials a consumer carries; each list is empty when the config names none. */
export interface ConsumerCredentials {
  keyauth_credentials: Array<{ id: string; key: string; ttl: number | null; tags: string[] }>;
  basicauth_credentials: Array<{ id: string; username: string; password: string; tags: string[] }>;
  jwt_secrets: Array<{
    id: string;
    key: string;
    secret: string | null;
    rsa_public_key: string | null;
    algorithm: string;
    tags: string[];
  }>;
  hmacauth_credentials: Array<{ id: string; username: string; secret: string; tags: string[] }>;
  acls: Array<{ id: string; group: string; tags: string[] }>;
}

export interface ConsumerConfig extends ConsumerCredentials {
  id: string;
  username: string | null;
  custom_id: string | null;
  tags: string[];
}

export interface PluginConfig {
  id: string;
  name: string;
  instance_name: string | null;
  route: string | null;
  service: string | null;
  consumer: string | null;
  /** Validated by the plugin's own schema, defaults applied. */
  config: Record<string, unknown>;
  protocols: Protocol[];
  enabled: boolean;
  tags: string[];
  /**
   * Kong Enterprise's dynamic ordering: run this instance before / after the named plugins
   * in the access phase (e.g. ip-restriction before key-auth: a pre-auth stage). Null
   * when not set; lists are empty rather than absent.
   */
  ordering: PluginOrdering | null;
}

export interface PluginOrdering {
  before: { access: string[] };
  after: { access: string[] };
}

export interface TargetConfig {
  id: string;
  /** As written: "host:port" or "ip:port" ("[v6]:port"); port defaults to 8000 as in Kong. */
  target: string;
  host: string;
  port: number;
  weight: number;
  tags: string[];
}

export interface UpstreamConfig {
  id: string;
  name: string;
  algorithm: 'round-robin' | 'consistent-hashing' | 'least-connections' | 'latency';
  slots: number;
  host_header: string | null;
  /** Kept as given (validated); health checking arrives with its own issue. */
  healthchecks: Record<string, unknown>;
  targets: TargetConfig[];
  tags: string[];
}

export interface GatewayConfig {
  _format_version: '3.0';
  services: ServiceConfig[];
  routes: RouteConfig[];
  consumers: ConsumerConfig[];
  plugins: PluginConfig[];
  upstreams: UpstreamConfig[];
  /** sha256 (hex) of the canonical normalised config: identical configs hash the same. */
  hash: string;
}

/** One problem found in a config file, precise enough to jump to. */
export interface ConfigIssue {
  /** File name as given (or "<inline>"). */
  file: string;
  /** 1-based; 0 when the problem has no position (e.g. a cross-entity check on a JSON string). */
  line: number;
  col: number;
  /** Field path, e.g. "services[0].routes[1].paths[0]". */
  path: string;
  message: string;
}

export type LoadResult =
  /** `secrets`: the values vault references resolved to (never logged, redacted by the admin API). */
  | { ok: true; config: GatewayConfig; secrets?: string[] }
  | { ok: false; issues: ConfigIssue[] };
