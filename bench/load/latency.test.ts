import { describe, expect, it } from 'vitest';
import { LatencyRecorder, Schedule } from './latency.js';

describe('Schedule', () => {
  it('spaces requests 1/rate apart from the start and caps at the planned count', () => {
    const s = new Schedule(1000, 2, 100);
    expect(s.planned).toBe(2000);
    expect(s.intervalMs).toBe(1);
    expect(s.intendedAt(0)).toBe(100);
    expect(s.intendedAt(1500)).toBe(1600);
    expect(s.dueBy(99.9)).toBe(0);
    expect(s.dueBy(100)).toBe(1); // request 0 is due at the start
    expect(s.dueBy(100.5)).toBe(1);
    expect(s.dueBy(110)).toBe(11);
    expect(s.dueBy(1e9)).toBe(2000);
    expect(s.nextDueAt(5)).toBe(105);
    expect(s.nextDueAt(2000)).toBe(Number.POSITIVE_INFINITY);
  });

  it('rejects a rate that is not positive', () => {
    expect(() => new Schedule(0, 1, 0)).toThrow(/rate must be > 0/);
  });
});

/**
 * One connection, pipelining 1, a server that answers in 0.1 ms except once, when it takes
 * `stallMs`. A request is sent at its intended time or when the connection frees up, whichever
 * is later: exactly what the open-loop generator does with one connection.
 */
function simulate(rate: number, seconds: number, stallAt: number, stallMs: number): LatencyRecorder {
  const schedule = new Schedule(rate, seconds, 0);
  const rec = new LatencyRecorder();
  let free = 0;
  for (let k = 0; k < schedule.planned; k++) {
    const intended = schedule.intendedAt(k);
    const sent = Math.max(intended, free);
    const done = sent + (k === stallAt ? stallMs : 0.1);
    rec.record(intended, sent, done);
    free = done;
  }
  return rec;
}

describe('LatencyRecorder: coordinated-omission correction', () => {
  it('without a stall, corrected and uncorrected agree', () => {
    const rec = simulate(1000, 10, -1, 0);
    const { latencyMs, uncorrectedMs, sendLagMs } = rec.summary();
    expect(rec.count).toBe(10_000);
    expect(latencyMs.p99).toBeCloseTo(0.1, 2);
    expect(uncorrectedMs.p99).toBeCloseTo(0.1, 2);
    expect(sendLagMs.max).toBeLessThanOrEqual(0.001);
  });

  it('a 1 s stall at 1,000 req/s: the ~1,000 requests that waited behind it count, not just the one that stalled', () => {
    const rec = simulate(1000, 10, 5000, 1000);
    const { latencyMs, uncorrectedMs, sendLagMs } = rec.summary();
    // Uncorrected (what a closed-loop tool reports): one slow sample in 10,000, invisible at p99.
    expect(uncorrectedMs.p99).toBeCloseTo(0.1, 2);
    expect(uncorrectedMs.max).toBeGreaterThanOrEqual(999);
    // Corrected: about 10% of the requests waited behind the stall, from 1 s down to nothing,
    // so p99 is near 900 ms and p90 is still above zero.
    expect(latencyMs.p99).toBeGreaterThan(850);
    expect(latencyMs.p99).toBeLessThan(1000);
    expect(latencyMs.p90).toBeGreaterThan(0.1);
    expect(latencyMs.max).toBeGreaterThanOrEqual(999);
    // The wait is visible as send lag: requests sent late because the connection was busy.
    expect(sendLagMs.p99).toBeGreaterThan(850);
  });

  it('reports NaN, not zero, for an empty histogram', () => {
    expect(new LatencyRecorder().summary().latencyMs.p99).toBeNaN();
  });
});
