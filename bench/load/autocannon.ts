/**
 * autocannon (npm devDependency), driven through its API inside the harness process. Reports
 * latency in whole milliseconds and tops out near 100k req/s on 2 cores: prefer wrk when present.
 */
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import type { LoadOptions, LoadResult, LoadTool } from './types.js';

/**
 * autocannon builds the buffer of every request of `requests` for every connection when it starts
 * (lib/requestIterator.js), so a spread is capped to this many evenly spaced requests.
 */
export const AUTOCANNON_MAX_REQUESTS = 1000;

const require = createRequire(import.meta.url);

interface AcResult {
  duration: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  statusCodeStats: Record<string, { count: number }>;
  latency: { p50: number; p90: number; p99: number; p99_9: number; max: number; mean: number };
  requests: { total: number };
}
type Autocannon = (opts: Record<string, unknown>, cb: (err: Error | null, result: AcResult) => void) => unknown;

function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(require.resolve('autocannon/package.json'), 'utf8')) as { version?: string };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

function evenlySpaced<T>(items: T[], max: number): T[] {
  if (items.length <= max) return items;
  return Array.from({ length: max }, (_, i) => items[Math.floor((i * items.length) / max)] as T);
}

export function autocannonTool(): LoadTool {
  const autocannon = require('autocannon') as Autocannon;
  return {
    name: 'autocannon',
    version: version(),
    async run(opts: LoadOptions): Promise<LoadResult> {
      const cpu0 = process.cpuUsage();
      const t0 = process.hrtime.bigint();
      const r = await new Promise<AcResult>((resolve, reject) => {
        autocannon(
          {
            url: `http://127.0.0.1:${opts.port}${opts.request.path}`,
            method: opts.request.method,
            headers: opts.request.headers ?? {},
            body: opts.request.body,
            ...(opts.requests !== undefined && opts.requests.length > 1
              ? { requests: evenlySpaced(opts.requests, AUTOCANNON_MAX_REQUESTS).map((r) => ({ method: r.method, path: r.path, headers: r.headers ?? {}, body: r.body })) }
              : {}),
            connections: opts.connections,
            pipelining: 1,
            duration: opts.durationSec,
            timeout: opts.timeoutSec,
          },
          (err, result) => (err ? reject(err) : resolve(result)),
        );
      });
      const wallSec = Number(process.hrtime.bigint() - t0) / 1e9;
      const cpu = process.cpuUsage(cpu0);
      const requests = r.requests.total;
      const statusCodes: Record<string, number> = {};
      for (const [code, { count }] of Object.entries(r.statusCodeStats)) statusCodes[code] = count;
      const expected = statusCodes[String(opts.expectStatus)] ?? 0;
      // autocannon's own duration is the window between its first and last 1-s tick.
      const durationSec = r.duration > 0 ? r.duration : wallSec;
      return {
        tool: 'autocannon',
        durationSec,
        requests,
        rps: requests / durationSec,
        latencyMs: { p50: r.latency.p50, p90: r.latency.p90, p99: r.latency.p99, p999: r.latency.p99_9, max: r.latency.max, mean: r.latency.mean },
        latencyResolutionMs: 1,
        non2xx: requests - expected,
        errors: r.errors,
        timeouts: r.timeouts,
        statusCodes,
        loadgenCpuUs: cpu.user + cpu.system,
      };
    },
  };
}
