/**
 * Picks the upstream target for a service. A service whose host names an upstream entity
 * is balanced over that upstream's targets with smooth weighted round-robin (nginx's
 * algorithm: deterministic, and spreads a heavy target's turns instead of bunching them);
 * otherwise the service's own host and port are the target.
 */
import type { GatewayConfig, ServiceConfig, UpstreamConfig } from '../../src/config/types.js';

export interface Target {
  /** undici origin, e.g. "http://10.0.0.1:8080". */
  readonly origin: string;
  /** Host header value when the service host is used (host[:port unless default]). */
  readonly hostHeader: string;
}

class WeightedRing {
  private readonly targets: Target[];
  private readonly weights: number[];
  private readonly current: number[];
  private readonly totalWeight: number;

  constructor(targets: Target[], weights: number[]) {
    this.targets = targets;
    this.weights = weights;
    this.current = weights.map(() => 0);
    this.totalWeight = weights.reduce((a, b) => a + b, 0);
  }

  get size(): number {
    return this.targets.length;
  }

  all(): readonly Target[] {
    return this.targets;
  }

  next(): Target | null {
    const n = this.targets.length;
    if (n === 0) return null;
    if (n === 1) return this.targets[0]!;
    let best = 0;
    for (let i = 0; i < n; i++) {
      this.current[i]! += this.weights[i]!;
      if (this.current[i]! > this.current[best]!) best = i;
    }
    this.current[best]! -= this.totalWeight;
    return this.targets[best]!;
  }
}

function bracket(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

function hostHeaderFor(scheme: string, host: string, port: number): string {
  const defaultPort = scheme === 'https' ? 443 : 80;
  return port === defaultPort ? bracket(host) : `${bracket(host)}:${port}`;
}

export class Balancer {
  private readonly rings = new Map<string, WeightedRing>();
  private readonly upstreamHostHeader = new Map<string, string | null>();
  private readonly direct = new Map<string, Target>();

  constructor(config: GatewayConfig) {
    const upstreams = new Map<string, UpstreamConfig>();
    for (const u of config.upstreams) upstreams.set(u.name, u);
    for (const s of config.services) {
      const u = upstreams.get(s.host);
      if (u === undefined) {
        const scheme = s.protocol === 'https' || s.protocol === 'grpcs' ? 'https' : 'http';
        this.direct.set(s.id, {
          origin: `${scheme}://${bracket(s.host)}:${s.port}`,
          hostHeader: hostHeaderFor(scheme, s.host, s.port),
        });
        continue;
      }
      const scheme = s.protocol === 'https' ? 'https' : 'http';
      const live = u.targets.filter((t) => t.weight > 0);
      this.rings.set(
        s.id,
        new WeightedRing(
          live.map((t) => ({ origin: `${scheme}://${bracket(t.host)}:${t.port}`, hostHeader: hostHeaderFor(scheme, s.host, s.port) })),
          live.map((t) => t.weight),
        ),
      );
      this.upstreamHostHeader.set(s.id, u.host_header);
    }
  }

  /** The next target for a service, or null when its upstream has no usable target. */
  pick(service: ServiceConfig): Target | null {
    const d = this.direct.get(service.id);
    if (d !== undefined) return d;
    return this.rings.get(service.id)?.next() ?? null;
  }

  /** Number of distinct targets a retry could try. */
  targetCount(service: ServiceConfig): number {
    if (this.direct.has(service.id)) return 1;
    return this.rings.get(service.id)?.size ?? 0;
  }

  /** upstreams.host_header for the service's upstream, if set. */
  hostHeaderOverride(service: ServiceConfig): string | null {
    return this.upstreamHostHeader.get(service.id) ?? null;
  }

  /** All origins in use (to retire pools of removed targets on reload). */
  origins(): Set<string> {
    const out = new Set<string>();
    for (const t of this.direct.values()) out.add(t.origin);
    for (const ring of this.rings.values()) for (const t of ring.all()) out.add(t.origin);
    return out;
  }
}
