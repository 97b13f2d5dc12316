/**
 * Resident memory of a process (the gateway: its worker threads live in the same process),
 * read from /proc/<pid>/status and sampled on an interval while a transfer runs.
 *
 * Sampling runs on its own thread: the test thread is busy generating and hashing the
 * bodies (and often hosts the upstream too), and a timer there would fire late and miss
 * the peak.
 */
import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';

export function readRssKb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  if (m === null) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(m[1]);
}

export interface RssReport {
  baselineKb: number;
  peakKb: number;
  /** peak - baseline, in MB. */
  growthMb: number;
  samples: number;
}

export interface RssSampler {
  /** Stops sampling (after one last sample) and reports. */
  stop(): Promise<RssReport>;
}

// shared[0] = peak kB, shared[1] = samples taken, shared[2] = stop flag
const SAMPLER = `
const { workerData } = require('node:worker_threads');
const { readFileSync } = require('node:fs');
const { pid, intervalMs, shared } = workerData;
const sleeper = new Int32Array(new SharedArrayBuffer(4));
for (;;) {
  try {
    const m = /^VmRSS:\\s+(\\d+)\\s+kB/m.exec(readFileSync('/proc/' + pid + '/status', 'utf8'));
    if (m) {
      const kb = Number(m[1]);
      if (kb > Atomics.load(shared, 0)) Atomics.store(shared, 0, kb);
      Atomics.add(shared, 1, 1);
    }
  } catch {
    // the process is gone; the test notices elsewhere
  }
  if (Atomics.load(shared, 2) === 1) break;
  Atomics.wait(sleeper, 0, 0, intervalMs);
}
`;

/**
 * Takes the baseline (the highest of a few samples over ~250 ms, so a transient dip does
 * not inflate the growth), then samples every `intervalMs` on a separate thread until stop().
 */
export async function startRssSampler(pid: number, intervalMs = 50): Promise<RssSampler> {
  let baseline = 0;
  for (let i = 0; i < 5; i++) {
    baseline = Math.max(baseline, readRssKb(pid));
    await new Promise((r) => setTimeout(r, 50));
  }
  const shared = new Int32Array(new SharedArrayBuffer(12));
  Atomics.store(shared, 0, baseline);
  const worker = new Worker(SAMPLER, { eval: true, workerData: { pid, intervalMs, shared } });
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  worker.on('error', () => undefined);
  return {
    async stop() {
      Atomics.store(shared, 2, 1);
      await exited;
      const peak = Math.max(Atomics.load(shared, 0), baseline);
      return { baselineKb: baseline, peakKb: peak, growthMb: (peak - baseline) / 1024, samples: Atomics.load(shared, 1) };
    },
  };
}
