/**
 * One undici Pool per upstream origin per worker: keep-alive connections reused across
 * requests (Kong's upstream keepalive pool). Pools are keyed by origin and connect
 * timeout, since undici fixes the connect timeout per pool. Pools survive config reloads
 * for origins still in use; the others are closed gracefully.
 */
import { Pool } from 'undici';

export interface PoolOptions {
  connections: number;
  keepAliveTimeoutMs: number;
}

export const DEFAULT_POOL_OPTIONS: PoolOptions = {
  // Enough sockets for a busy worker; undici queues beyond it.
  connections: 256,
  // Kong's upstream_keepalive_idle_timeout.
  keepAliveTimeoutMs: 60_000,
};

export class UpstreamPools {
  private readonly pools = new Map<string, Pool>();
  private readonly options: PoolOptions;

  constructor(options: PoolOptions = DEFAULT_POOL_OPTIONS) {
    this.options = options;
  }

  get(origin: string, connectTimeoutMs: number): Pool {
    const key = `${origin}|${connectTimeoutMs}`;
    let pool = this.pools.get(key);
    if (pool === undefined) {
      pool = new Pool(origin, {
        connections: this.options.connections,
        pipelining: 1,
        keepAliveTimeout: this.options.keepAliveTimeoutMs,
        keepAliveMaxTimeout: this.options.keepAliveTimeoutMs,
        connect: { timeout: connectTimeoutMs },
        strictContentLength: true,
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
      pool.close().catch(() => undefined);
    }
  }

  async closeAll(): Promise<void> {
    const all = [...this.pools.values()];
    this.pools.clear();
    await Promise.allSettled(all.map((p) => p.close()));
  }
}
