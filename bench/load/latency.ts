/**
 * Open-loop timing: the fixed-rate schedule and the latency histograms.
 *
 * Why "intended" times: a closed-loop client (wrk, autocannon) sends a connection's next request
 * only after the previous answer, so when the server stalls for a second it simply stops asking,
 * and the stall shows up as ONE slow sample instead of the rate × 1 s requests that real users
 * would have sent and waited on ("coordinated omission"). The open-loop generator fixes the send
 * time of request k in advance (start + k / rate) and measures every latency from that intended
 * time, so the time a request spent waiting to be sent counts (wrk2's approach). The histogram
 * of latencies from the actual send is kept beside it, to show what the correction changed.
 */
import hdr, { type Histogram } from 'hdr-histogram-js';
import type { LatencyMs } from './types.js';

/** Request k of the schedule is due at `startMs + k * intervalMs`, for k in [0, planned). */
export class Schedule {
  readonly intervalMs: number;
  readonly planned: number;

  constructor(
    readonly rate: number,
    durationSec: number,
    readonly startMs: number,
  ) {
    if (!(rate > 0)) throw new Error(`open-loop rate must be > 0, got ${rate}`);
    this.intervalMs = 1000 / rate;
    this.planned = Math.max(1, Math.floor(rate * durationSec));
  }

  intendedAt(k: number): number {
    return this.startMs + k * this.intervalMs;
  }

  /** How many requests are due at `nowMs` (their intended time has come), at most `planned`. */
  dueBy(nowMs: number): number {
    if (nowMs < this.startMs) return 0;
    return Math.min(this.planned, Math.floor((nowMs - this.startMs) / this.intervalMs) + 1);
  }

  /** When the request after the first `k` is due (Infinity when the schedule is done). */
  nextDueAt(k: number): number {
    return k >= this.planned ? Number.POSITIVE_INFINITY : this.intendedAt(k);
  }
}

/** Histograms hold whole microseconds from 1 µs to 1 hour with 3 significant digits. */
function histogram(): Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 3 });
}

export function latencyMsOf(h: Histogram): LatencyMs {
  if (h.totalCount === 0) return { p50: Number.NaN, p90: Number.NaN, p99: Number.NaN, p999: Number.NaN, max: Number.NaN, mean: Number.NaN };
  const ms = (us: number): number => us / 1000;
  return {
    p50: ms(h.getValueAtPercentile(50)),
    p90: ms(h.getValueAtPercentile(90)),
    p99: ms(h.getValueAtPercentile(99)),
    p999: ms(h.getValueAtPercentile(99.9)),
    max: ms(h.maxValue),
    mean: ms(h.mean),
  };
}

const toUs = (ms: number): number => Math.max(1, Math.round(ms * 1000));

export class LatencyRecorder {
  /** From the intended send time: what a user arriving on schedule waited. */
  readonly corrected = histogram();
  /** From the actual send time: what a closed-loop tool would report. */
  readonly uncorrected = histogram();
  /** Actual − intended send time: the generator's own lateness plus waiting for a free connection. */
  readonly sendLag = histogram();

  record(intendedMs: number, sentMs: number, doneMs: number): void {
    this.corrected.recordValue(toUs(doneMs - intendedMs));
    this.uncorrected.recordValue(toUs(doneMs - sentMs));
    this.sendLag.recordValue(toUs(sentMs - intendedMs));
  }

  get count(): number {
    return this.corrected.totalCount;
  }

  summary(): { latencyMs: LatencyMs; uncorrectedMs: LatencyMs; sendLagMs: { p50: number; p99: number; max: number } } {
    const lag = latencyMsOf(this.sendLag);
    return { latencyMs: latencyMsOf(this.corrected), uncorrectedMs: latencyMsOf(this.uncorrected), sendLagMs: { p50: lag.p50, p99: lag.p99, max: lag.max } };
  }
}
