/**
 * Plugin instances: foreign keys resolved, deterministic ids, and Kong's rule that a
 * (route, service, consumer) scope holds one instance per plugin name (its cache_key).
 */
import type { PluginConfig, Protocol } from './types.js';
import { Catalog } from './catalog.js';
import type { PluginValue } from './entities/plugins.js';
import { cacheKey, entityId } from './ids.js';
import { formatPath, type Issue, type Path } from './schema-dsl.js';

/** A foreign key: the parent's id when nested, else the reference as written (or none). */
export type Fk = { nested: string } | { ref: string | null };

export interface PendingPlugin {
  value: PluginValue;
  path: Path;
  route: Fk;
  service: Fk;
  consumer: Fk;
}

/** What Kong's cache key holds for a foreign key: the parent id, or the ref as written. */
const keyPart = (fk: Fk): string | null => ('nested' in fk ? fk.nested : fk.ref);

interface Targets {
  routes: Catalog;
  services: Catalog;
  consumers: Catalog;
}

export function resolvePlugins(pending: readonly PendingPlugin[], targets: Targets, issues: Issue[]): PluginConfig[] {
  const ids = new Catalog('plugins', 'instance_name', issues);
  const scopes = new Map<string, Path>();
  const out: PluginConfig[] = [];
  for (const p of pending) {
    const v = p.value;
    const resolve = (fk: Fk, catalog: Catalog, field: string): string | null | undefined => {
      if ('nested' in fk) return fk.nested;
      if (fk.ref === null) return null;
      return catalog.resolveAt(fk.ref, field, p.path) ?? undefined;
    };
    const route = resolve(p.route, targets.routes, 'route');
    const service = resolve(p.service, targets.services, 'service');
    const consumer = resolve(p.consumer, targets.consumers, 'consumer');
    if (route === undefined || service === undefined || consumer === undefined) continue;

    const scope = JSON.stringify([v.name, route, service, consumer]);
    const prev = scopes.get(scope);
    if (prev !== undefined) {
      issues.push({
        path: [...p.path, 'name'],
        message: `plugin '${v.name}' is already configured for the same route, service and consumer at ${formatPath(prev)} (one instance per plugin and scope)`,
      });
      continue;
    }
    scopes.set(scope, p.path);

    const id = v.id ?? entityId('plugins', cacheKey('plugins', [v.name, keyPart(p.route), keyPart(p.service), keyPart(p.consumer)]));
    ids.add(id, p.path, v.id !== null, { instance_name: v.instance_name });
    out.push({
      id,
      name: v.name,
      instance_name: v.instance_name,
      route,
      service,
      consumer,
      config: v.config,
      protocols: v.protocols as Protocol[],
      enabled: v.enabled,
      tags: v.tags,
      ordering:
        v.ordering === null
          ? null
          : { before: { access: v.ordering.before?.access ?? [] }, after: { access: v.ordering.after?.access ?? [] } },
    });
  }
  return out;
}
