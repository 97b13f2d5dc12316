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
  private readonly pools = new Map<string, UpstreamPool>();
  private readonly options: PoolOptions;

  constructor(options: PoolOptions = DEFAULT_POOL_OPTIONS) {
    this.options = options;
  }

  get(origin: string, connectTimeoutMs: number): UpstreamPool {
    const key = `${origin}|${connectTimeoutMs}`;
    let pool = this.pools.get(key);
    if (pool === undefined) {
      pool = new UpstreamPool(origin, {
        connections: this.options.connections,
        keepAliveTimeoutMs: this.options.keepAliveTimeoutMs,
        connectTimeoutMs,
      });
      this.pools.set(key, pool);
    }
    return pool;
  }

  /** Closes pools whose origin is not in `keep` (after a config change). */
  retain(keep: ReadonlySet<string>): void {
    for (const [key, pool] of this.pools) {
      const origin = key.slice(0, key.lastIndexOf('|'));
      if (keep.has(origin)) continue;
      this.pools.delete(key);
      void pool.close();
    }
  }

  async closeAll(): Promise<void> {
    const all = [...this.pools.values()];
    this.pools.clear();
    await Promise.allSettled(all.map((p) => p.close()));
  }
}
