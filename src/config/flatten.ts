/**
 * Turns the validated, nested declarative document into the flat normalised config:
 * fills in ids (ids.ts), resolves foreign keys (nesting, or a name/id reference at the
 * top level), and enforces what only the whole file can tell: unique names, usernames
 * and credential keys, and one plugin instance per (name, route, service, consumer).
 * Every issue carries the path of the entity as written, so it maps back to a line.
 */
import type {
  ConsumerConfig,
  GatewayConfig,
  PluginConfig,
  RouteConfig,
  ServiceConfig,
  TargetConfig,
  UpstreamConfig,
} from './types.js';
import { Catalog } from './catalog.js';
import type { declarativeSchema } from './entities/declarative.js';
import type { PluginValue } from './entities/plugins.js';
import { addCredentials } from './flatten-credentials.js';
import { resolvePlugins, type Fk, type PendingPlugin } from './flatten-plugins.js';
import { cacheKey, entityId, fallbackKey } from './ids.js';
import { formatPath, setOwn, type Infer, type Issue, type Path } from './schema-dsl.js';
import { parseHostPort } from './validators.js';

export type Decl = Infer<ReturnType<typeof declarativeSchema>>;
export type Item<A> = NonNullable<A> extends ReadonlyArray<infer E> ? E : never;
type ServiceValue = Item<Decl['services']>;
type RouteValue = Item<Decl['routes']> | Item<ServiceValue['routes']>;
type UpstreamValue = Item<Decl['upstreams']>;
type TargetValue = Item<Decl['targets']> | Item<UpstreamValue['targets']>;

export function flatten(decl: Decl, issues: Issue[]): Omit<GatewayConfig, 'hash'> {
  const services = new Catalog('services', 'name', issues);
  const routes = new Catalog('routes', 'name', issues);
  const consumers = new Catalog('consumers', 'username', issues);
  const upstreams = new Catalog('upstreams', 'name', issues);

  const out = {
    services: [] as ServiceConfig[],
    routes: [] as RouteConfig[],
    consumers: [] as ConsumerConfig[],
    plugins: [] as PluginConfig[],
    upstreams: [] as UpstreamConfig[],
  };
  const pendingPlugins: PendingPlugin[] = [];
  const pendingRoutes: Array<{ route: RouteConfig; ref: string | null; path: Path }> = [];
  const none: Fk = { ref: null };

  const addRoute = (r: RouteValue, path: Path, serviceId: string | null): void => {
    const rid = r.id ?? entityId('routes', r.name ?? fallbackKey(path));
    routes.add(rid, path, r.id !== null, { name: r.name });
    const route = toRoute(r, rid, serviceId);
    out.routes.push(route);
    if (serviceId === null) pendingRoutes.push({ route, ref: (r as { service: string | null }).service, path });
    (r.plugins ?? []).forEach((p, k) =>
      pendingPlugins.push({ value: p as PluginValue, path: [...path, 'plugins', k], route: { nested: rid }, service: none, consumer: none }),
    );
  };

  // Pass 1: entities others refer to, so every reference can be resolved in pass 2.
  (decl.services ?? []).forEach((s, i) => {
    const path: Path = ['services', i];
    const sid = s.id ?? entityId('services', s.name ?? fallbackKey(path));
    services.add(sid, path, s.id !== null, { name: s.name });
    out.services.push(toService(s, sid));
    (s.plugins ?? []).forEach((p, k) =>
      pendingPlugins.push({ value: p as PluginValue, path: [...path, 'plugins', k], route: none, service: { nested: sid }, consumer: none }),
    );
    (s.routes ?? []).forEach((r, j) => addRoute(r, [...path, 'routes', j], sid));
  });
  (decl.routes ?? []).forEach((r, i) => addRoute(r, ['routes', i], null));

  const consumerById = new Map<string, ConsumerConfig>();
  (decl.consumers ?? []).forEach((c, i) => {
    const path: Path = ['consumers', i];
    const key = c.username ?? (c.custom_id !== null ? `#custom_id:${c.custom_id}` : fallbackKey(path));
    const cid = c.id ?? entityId('consumers', key);
    consumers.add(cid, path, c.id !== null, { username: c.username, custom_id: c.custom_id });
    const consumer: ConsumerConfig = {
      id: cid,
      username: c.username,
      custom_id: c.custom_id,
      tags: c.tags,
      keyauth_credentials: [],
      basicauth_credentials: [],
      jwt_secrets: [],
      hmacauth_credentials: [],
      acls: [],
    };
    out.consumers.push(consumer);
    if (!consumerById.has(cid)) consumerById.set(cid, consumer);
    (c.plugins ?? []).forEach((p, k) =>
      pendingPlugins.push({ value: p as PluginValue, path: [...path, 'plugins', k], route: none, service: none, consumer: { nested: cid } }),
    );
  });

  const upstreamById = new Map<string, UpstreamConfig>();
  (decl.upstreams ?? []).forEach((u, i) => {
    const path: Path = ['upstreams', i];
    const uid = u.id ?? entityId('upstreams', u.name);
    upstreams.add(uid, path, u.id !== null, { name: u.name });
    const upstream: UpstreamConfig = {
      id: uid,
      name: u.name,
      algorithm: u.algorithm,
      slots: u.slots,
      host_header: u.host_header,
      healthchecks: u.healthchecks,
      targets: [],
      tags: u.tags,
    };
    out.upstreams.push(upstream);
    if (!upstreamById.has(uid)) upstreamById.set(uid, upstream);
  });

  // Pass 2: everything that points at something.
  for (const { route, ref, path } of pendingRoutes) {
    if (ref !== null) route.service = services.resolveAt(ref, 'service', path);
  }

  const targetIds = new Catalog('targets', null, issues);
  const targetsSeen = new Map<string, Path>();
  const addTarget = (t: TargetValue, path: Path, upstreamId: string, upstreamKey: string): void => {
    const tid = t.id ?? entityId('targets', cacheKey('targets', [upstreamKey, t.target]));
    const scope = `${upstreamId} ${t.target}`;
    const prev = targetsSeen.get(scope);
    if (prev !== undefined) {
      issues.push({ path: [...path, 'target'], message: `uniqueness violation: target '${t.target}' already declared for this upstream at ${formatPath(prev)}` });
      return;
    }
    targetsSeen.set(scope, path);
    targetIds.add(tid, path, t.id !== null, {});
    const hp = parseHostPort(t.target);
    if ('error' in hp) return; // reported by the schema
    const target: TargetConfig = { id: tid, target: t.target, host: hp.host, port: hp.port ?? 8000, weight: t.weight, tags: t.tags };
    upstreamById.get(upstreamId)?.targets.push(target);
  };
  (decl.upstreams ?? []).forEach((u, i) => {
    const uid = out.upstreams[i]!.id;
    (u.targets ?? []).forEach((t, j) => addTarget(t, ['upstreams', i, 'targets', j], uid, uid));
  });
  (decl.targets ?? []).forEach((t, i) => {
    const path: Path = ['targets', i];
    const ref = (t as { upstream: string }).upstream;
    const uid = upstreams.resolveAt(ref, 'upstream', path);
    if (uid !== null) addTarget(t, path, uid, ref);
  });

  addCredentials(decl, out.consumers, consumers, consumerById, issues);
  (decl.plugins ?? []).forEach((p, i) => {
    const v = p as PluginValue;
    pendingPlugins.push({ value: v, path: ['plugins', i], route: { ref: v.route }, service: { ref: v.service }, consumer: { ref: v.consumer } });
  });
  out.plugins = resolvePlugins(pendingPlugins, { routes, services, consumers }, issues);
  return { _format_version: '3.0', ...out };
}

function toService(s: ServiceValue, id: string): ServiceConfig {
  return {
    id,
    name: s.name,
    protocol: s.protocol,
    host: s.host,
    port: s.port,
    path: s.path,
    retries: s.retries,
    connect_timeout: s.connect_timeout,
    write_timeout: s.write_timeout,
    read_timeout: s.read_timeout,
    tls_verify: s.tls_verify,
    tls_verify_depth: s.tls_verify_depth,
    enabled: s.enabled,
    tags: s.tags,
  };
}

function toRoute(r: RouteValue, id: string, service: string | null): RouteConfig {
  let headers: Record<string, string[]> | null = null;
  if (r.headers !== null) {
    headers = {};
    for (const [name, values] of Object.entries(r.headers)) setOwn(headers, name.toLowerCase(), values);
  }
  return {
    id,
    name: r.name,
    service,
    protocols: r.protocols,
    methods: r.methods,
    hosts: r.hosts,
    paths: r.paths,
    headers,
    snis: r.snis,
    https_redirect_status_code: r.https_redirect_status_code,
    strip_path: r.strip_path,
    preserve_host: r.preserve_host,
    request_buffering: r.request_buffering,
    response_buffering: r.response_buffering,
    regex_priority: r.regex_priority,
    path_handling: r.path_handling,
    tags: r.tags,
  };
}
