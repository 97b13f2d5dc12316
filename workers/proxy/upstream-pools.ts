/**
 * One pool per upstream origin per worker: keep-alive connections reused across requests
 * (Kong's upstream keepalive pool; see http1/upstream-pool.ts). Pools are keyed by origin
 * and connect timeout, since the connect timeout is fixed per pool. Pools survive config
 * reloads for origins still in use; the others are closed gracefully.
 */
import { UpstreamPool } from './http1/upstream-pool.js';

export interface PoolOptions {
  connections: number;
  keepAliveTimeoutMs: number;
}

export const DEFAULT_POOL_OPTIONS: PoolOptions = {
  // Enough sockets for a busy worker; requests queue beyond it.
  connections: 256,
  // Kong's upstream_keepalive_idle_timeout.
  keepAliveTimeoutMs: 60_000,
};

export class UpstreamPools {
  /** origin → connect timeout → pool. Nested rather than one concatenated key: the origin
   * string comes from the balancer's target (the same string every time, its hash cached),
   * so a lookup builds no string per request. */
  private readonly pools = new Map<string, Map<number, UpstreamPool>>();
  private readonly options: PoolOptions;

  constructor(options: PoolOptions = DEFAULT_POOL_OPTIONS) {
    this.options = options;
  }

  get(origin: string, connectTimeoutMs: number): UpstreamPool {
    let byTimeout = this.pools.get(origin);
    if (byTimeout === undefined) {
      byTimeout = new Map();
      this.pools.set(origin, byTimeout);
    }
    let pool = byTimeout.get(connectTimeoutMs);
    if (pool === undefined) {
      pool = new UpstreamPool(origin, {
        connections: this.options.connections,
        keepAliveTimeoutMs: this.options.keepAliveTimeoutMs,
        connectTimeoutMs,
      });
      byTimeout.set(connectTimeoutMs, pool);
    }
    return pool;
  }

  /** Closes pools whose origin is not in `keep` (after a config change). */
  retain(keep: ReadonlySet<string>): void {
    for (const [origin, byTimeout] of this.pools) {
      if (keep.has(origin)) continue;
      this.pools.delete(origin);
      for (const pool of byTimeout.values()) void pool.close();
    }
  }

  async closeAll(): Promise<void> {
    const all: UpstreamPool[] = [];
    for (const byTimeout of this.pools.values()) all.push(...byTimeout.values());
    this.pools.clear();
    await Promise.allSettled(all.map((p) => p.close()));
  }
}
