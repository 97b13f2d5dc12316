import type { BenchRequest } from '../scenarios/types.js';

export type ToolName = 'autocannon' | 'wrk';

export interface LoadOptions {
  port: number;
  request: BenchRequest;
  /** Cycle through these instead of repeating `request` (a scenario's spread). */
  requests?: BenchRequest[];
  connections: number;
  durationSec: number;
  /** Load-generator threads (wrk -t); autocannon runs on the harness's one thread. */
  threads: number;
  /** Per-request timeout. */
  timeoutSec: number;
  /** The status every response should have. */
  expectStatus: number;
}

export interface LoadResult {
  /** The closed-loop tool, or 'open-loop' (open-loop.ts, `--mode latency`). */
  tool: ToolName | 'open-loop';
  /** Measured length of the load window, seconds. */
  durationSec: number;
  /** Completed responses (any status). The denominator of every per-request figure. */
  requests: number;
  /** requests / durationSec. */
  rps: number;
  latencyMs: LatencyMs;
  /** Smallest latency step the tool reports (autocannon: 1 ms; wrk: 1 µs). */
  latencyResolutionMs: number;
  /**
   * Responses that are not the expected status. autocannon: exact; wrk: status >= 400 only
   * (wrk's own count; 1xx/3xx are not visible without a per-response Lua hook that would slow it).
   */
  non2xx: number;
  /** Socket errors and timeouts (no response at all). */
  errors: number;
  timeouts: number;
  /** Status code → count, when the tool gives it. */
  statusCodes: Record<string, number> | null;
  /** CPU the load generator itself used in the window, µs (null if unknown). */
  loadgenCpuUs: number | null;
  /** Open-loop runs only: the schedule and the uncorrected view, to show what the correction did. */
  openLoop?: OpenLoopStats;
}

export interface LatencyMs {
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
}

export interface OpenLoopStats {
  /** Requests per second the schedule asked for. */
  offeredRate: number;
  /** Requests the schedule planned in the window. */
  planned: number;
  /** Planned requests never sent (no free connection before the end): the rate was above the knee. */
  unsent: number;
  /** Latency from the actual send instead of the intended one (what a closed-loop tool reports). */
  uncorrectedMs: LatencyMs;
  /** How late the generator itself sent (actual − intended send time): its own contribution to `latencyMs`. */
  sendLagMs: { p50: number; p99: number; max: number };
}

export interface LoadTool {
  name: ToolName;
  version: string;
  run(opts: LoadOptions): Promise<LoadResult>;
}
