/**
 * Compiles the plugin instances of a config into per-route chains, once per config
 * generation per worker, so a request walks a flat array.
 *
 * Which instance of a plugin applies follows Kong's lookup_cfg (reference section 4.3):
 * route+service+consumer > route+consumer > service+consumer > route+service > consumer >
 * route > service > global. The consumer is only known after authentication, so each
 * slot carries the instance chosen without a consumer plus, where consumer-scoped
 * instances exist, the choice for each consumer; the runner re-resolves per slot once
 * an authentication plugin has set the consumer (Kong's collecting access phase).
 */
import type { GatewayConfig, PluginConfig, PluginOrdering, RouteConfig } from '../../src/config/types.js';
import type { PluginDefinition, PluginEnv, PluginHandler } from './types.js';

export interface PluginSlot {
  readonly name: string;
  readonly priority: number;
  /** Instance chosen when no consumer is set (null: only consumer-scoped ones exist). */
  readonly base: PluginHandler | null;
  /** consumer id -> instance, only where it differs from `base`. */
  readonly byConsumer: ReadonlyMap<string, PluginHandler | null> | null;
  /** Dynamic ordering of the instance chosen without a consumer (Kong Enterprise `ordering`). */
  readonly ordering?: PluginOrdering | null;
}

export interface Chain {
  /**
   * Slots in access-phase order: descending priority (Kong PRIORITY; ties by name for
   * determinism), then moved by any `ordering` constraints.
   */
  readonly slots: readonly PluginSlot[];
  /** True when some slot depends on the consumer. */
  readonly consumerScoped: boolean;
  /** Handlers chosen with no consumer, in order: the list later phases use. */
  readonly handlers: readonly PluginHandler[];
  readonly hasAccess: boolean;
  readonly hasHeaderFilter: boolean;
  readonly hasBodyFilter: boolean;
  readonly hasLog: boolean;
}

export type Scheme = 'http' | 'https';

export interface CompiledPipelines {
  /** Global instances only (http): rewrite phase, and requests that matched no route. */
  readonly global: Chain;
  /** Global instances for a scheme (an instance runs only for the protocols it lists). */
  globalFor(scheme: Scheme): Chain;
  /** Global instances that have a rewrite handler, in priority order (http). */
  readonly rewrite: readonly PluginHandler[];
  rewriteFor(scheme: Scheme): readonly PluginHandler[];
  forRoute(route: RouteConfig, scheme?: Scheme): Chain;
}

// Precedence ranks, lower is more specific (Kong lookup_cfg order).
function rank(p: PluginConfig, routeId: string | null, serviceId: string | null, consumerId: string | null): number {
  const r = p.route;
  const s = p.service;
  const c = p.consumer;
  if (r !== null && r !== routeId) return -1;
  if (s !== null && s !== serviceId) return -1;
  if (c !== null && c !== consumerId) return -1;
  if (c !== null) {
    if (r !== null && s !== null) return 0;
    if (r !== null) return 1;
    if (s !== null) return 2;
    return 4;
  }
  if (r !== null && s !== null) return 3;
  if (r !== null) return 5;
  if (s !== null) return 6;
  return 7;
}

function pick(instances: readonly PluginConfig[], routeId: string | null, serviceId: string | null, consumerId: string | null): PluginConfig | null {
  let best: PluginConfig | null = null;
  let bestRank = 99;
  for (const p of instances) {
    const k = rank(p, routeId, serviceId, consumerId);
    if (k >= 0 && k < bestRank) {
      best = p;
      bestRank = k;
    }
  }
  return best;
}

/**
 * Applies `ordering.before.access` / `ordering.after.access` (Kong Enterprise dynamic
 * ordering) to slots already in priority order: a stable topological sort that keeps the
 * priority order wherever no constraint says otherwise. A cycle cannot be honoured; the
 * slots caught in it keep their priority order (reported through `onCycle`).
 */
export function applyOrdering(slots: readonly PluginSlot[], onCycle: (names: string[]) => void = () => undefined): PluginSlot[] {
  if (!slots.some((s) => s.ordering != null)) return [...slots];
  const index = new Map<string, number>();
  slots.forEach((s, i) => index.set(s.name, i));
  const succ: number[][] = slots.map(() => []);
  const indeg = new Array<number>(slots.length).fill(0);
  const edge = (from: number, to: number): void => {
    if (from === to || succ[from]!.includes(to)) return;
    succ[from]!.push(to);
    indeg[to]!++;
  };
  slots.forEach((s, i) => {
    for (const name of s.ordering?.before.access ?? []) {
      const j = index.get(name);
      if (j !== undefined) edge(i, j);
    }
    for (const name of s.ordering?.after.access ?? []) {
      const j = index.get(name);
      if (j !== undefined) edge(j, i);
    }
  });
  const out: PluginSlot[] = [];
  const done = new Array<boolean>(slots.length).fill(false);
  while (out.length < slots.length) {
    // The first slot in priority order whose predecessors have all run.
    let next = -1;
    for (let i = 0; i < slots.length; i++) {
      if (!done[i] && indeg[i] === 0) {
        next = i;
        break;
      }
    }
    if (next < 0) {
      const stuck = slots.filter((_, i) => !done[i]);
      onCycle(stuck.map((s) => s.name));
      next = slots.findIndex((_, i) => !done[i]);
    }
    done[next] = true;
    out.push(slots[next]!);
    for (const j of succ[next]!) indeg[j]!--;
  }
  return out;
}

function makeChain(slots: PluginSlot[], onCycle?: (names: string[]) => void): Chain {
  slots.sort((a, b) => b.priority - a.priority || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  // Later phases (header_filter, body_filter, log) keep Kong's priority order; only access
  // is reordered, as in Kong.
  const accessOrder = applyOrdering(slots, onCycle);
  const handlers: PluginHandler[] = [];
  let consumerScoped = false;
  for (const s of slots) {
    if (s.base !== null) handlers.push(s.base);
    if (s.byConsumer !== null) consumerScoped = true;
  }
  const any = (f: (h: PluginHandler) => unknown) =>
    slots.some((s) => (s.base !== null && f(s.base)) || (s.byConsumer !== null && [...s.byConsumer.values()].some((h) => h !== null && f(h))));
  return {
    slots: accessOrder,
    consumerScoped,
    handlers,
    hasAccess: any((h) => h.access),
    hasHeaderFilter: any((h) => h.headerFilter),
    hasBodyFilter: any((h) => h.bodyFilter),
    hasLog: any((h) => h.log),
  };
}

export function compilePipelines(
  config: GatewayConfig,
  definitions: ReadonlyMap<string, PluginDefinition<any>>,
  envFor: (plugin: PluginConfig) => PluginEnv,
): CompiledPipelines {
  const enabled = config.plugins.filter((p) => p.enabled);
  const byName = new Map<string, PluginConfig[]>();
  for (const p of enabled) {
    let list = byName.get(p.name);
    if (list === undefined) byName.set(p.name, (list = []));
    list.push(p);
  }

  const handlerCache = new Map<string, PluginHandler>();
  const handlerOf = (p: PluginConfig): PluginHandler => {
    let h = handlerCache.get(p.id);
    if (h === undefined) {
      const def = definitions.get(p.name);
      if (def === undefined) throw new Error(`plugin '${p.name}' is not installed`);
      h = def.create(p.config, envFor(p));
      handlerCache.set(p.id, h);
    }
    return h;
  };
  const priorityOf = (name: string): number => definitions.get(name)?.priority ?? 0;

  // Kong runs an instance only for the protocols it lists: the chosen instance is dropped
  // (not replaced by a less specific one) when the request's scheme is not among them.
  const forScheme = (p: PluginConfig | null, scheme: Scheme): PluginConfig | null =>
    p !== null && p.protocols.includes(scheme) ? p : null;

  const chainFor = (routeId: string | null, serviceId: string | null, scheme: Scheme): Chain => {
    const slots: PluginSlot[] = [];
    for (const [name, instances] of byName) {
      const base = forScheme(pick(instances, routeId, serviceId, null), scheme);
      let byConsumer: Map<string, PluginHandler | null> | null = null;
      if (routeId !== null) {
        for (const p of instances) {
          if (p.consumer === null || byConsumer?.has(p.consumer)) continue;
          const chosen = forScheme(pick(instances, routeId, serviceId, p.consumer), scheme);
          if (chosen === base) continue;
          (byConsumer ??= new Map()).set(p.consumer, chosen === null ? null : handlerOf(chosen));
        }
      }
      if (base === null && byConsumer === null) continue;
      slots.push({ name, priority: priorityOf(name), base: base === null ? null : handlerOf(base), byConsumer, ordering: base?.ordering ?? null });
    }
    return makeChain(slots);
  };

  const globalFor = (scheme: Scheme): Chain => {
    const globalSlots: PluginSlot[] = [];
    for (const [name, instances] of byName) {
      const g = forScheme(instances.find((p) => p.route === null && p.service === null && p.consumer === null) ?? null, scheme);
      if (g !== null) globalSlots.push({ name, priority: priorityOf(name), base: handlerOf(g), byConsumer: null, ordering: g.ordering });
    }
    return makeChain(globalSlots);
  };
  const globalHttp = globalFor('http');
  const globalHttps = globalFor('https');
  const rewriteHttp = globalHttp.handlers.filter((h) => h.rewrite !== undefined);
  const rewriteHttps = globalHttps.handlers.filter((h) => h.rewrite !== undefined);

  const httpChains = new Map<string, Chain>();
  const httpsChains = new Map<string, Chain>();
  for (const route of config.routes) {
    httpChains.set(route.id, chainFor(route.id, route.service, 'http'));
    httpsChains.set(route.id, chainFor(route.id, route.service, 'https'));
  }

  return {
    global: globalHttp,
    globalFor: (scheme) => (scheme === 'https' ? globalHttps : globalHttp),
    rewriteFor: (scheme) => (scheme === 'https' ? rewriteHttps : rewriteHttp),
    rewrite: rewriteHttp,
    forRoute(route: RouteConfig, scheme: Scheme = 'http'): Chain {
      return (scheme === 'https' ? httpsChains : httpChains).get(route.id) ?? (scheme === 'https' ? globalHttps : globalHttp);
    },
  };
}
