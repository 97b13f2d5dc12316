/**
 * V8's .cpuprofile format (what `node --cpu-prof` writes, and Chrome DevTools' Profiler.Profile):
 * a call tree of nodes plus the sampled node of every tick, in time order.
 *
 * Timestamps are microseconds on the monotonic clock: `startTime`, then each sample at
 * `startTime + timeDeltas[0] + … + timeDeltas[i]`. On Linux that is CLOCK_MONOTONIC, the same
 * clock as `process.hrtime()` in any process, which is what lets `sliceToWindow` cut a
 * gateway's profile down to the seconds another process (the harness) measured.
 */

export interface CallFrame {
  functionName: string;
  scriptId?: string | number;
  url: string;
  /** 0-based; -1 for frames without a script. */
  lineNumber: number;
  columnNumber?: number;
}

export interface PositionTick {
  /** 1-based line in the script. */
  line: number;
  ticks: number;
}

export interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  hitCount?: number;
  children?: number[];
  /** Self ticks of this node by source line (written by --cpu-prof and DevTools). */
  positionTicks?: PositionTick[];
}

export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  /** Node id sampled at each tick. */
  samples: number[];
  /** Microseconds since the previous sample (the first: since startTime). */
  timeDeltas: number[];
}

/** Parses and checks a .cpuprofile; `source` names it in errors. */
export function parseCpuProfile(text: string, source: string): CpuProfile {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new Error(`${source}: not JSON (${(err as Error).message})`);
  }
  const p = raw as Partial<CpuProfile>;
  if (typeof p !== 'object' || p === null || !Array.isArray(p.nodes) || !Array.isArray(p.samples)) {
    throw new Error(`${source}: not a V8 CPU profile (no nodes/samples arrays)`);
  }
  const timeDeltas = Array.isArray(p.timeDeltas) ? p.timeDeltas : [];
  if (timeDeltas.length !== p.samples.length) {
    throw new Error(`${source}: ${p.samples.length} samples but ${timeDeltas.length} time deltas`);
  }
  const ids = new Set<number>();
  for (const n of p.nodes) {
    if (typeof n?.id !== 'number' || typeof n.callFrame?.functionName !== 'string' || typeof n.callFrame.url !== 'string') {
      throw new Error(`${source}: a node without id or callFrame`);
    }
    ids.add(n.id);
  }
  for (const s of p.samples) if (!ids.has(s)) throw new Error(`${source}: a sample refers to node ${s}, which does not exist`);
  return {
    nodes: p.nodes,
    startTime: typeof p.startTime === 'number' ? p.startTime : 0,
    endTime: typeof p.endTime === 'number' ? p.endTime : 0,
    samples: p.samples,
    timeDeltas,
  };
}

/** The monotonic-clock time (µs) of every sample. */
export function sampleTimes(p: CpuProfile): number[] {
  const out = new Array<number>(p.samples.length);
  let t = p.startTime;
  for (let i = 0; i < p.samples.length; i++) {
    t += p.timeDeltas[i]!;
    out[i] = t;
  }
  return out;
}

/**
 * The same profile with only the samples taken in [fromUs, toUs] (monotonic µs). The call tree
 * is kept whole; nodes without samples in the window simply have none.
 */
export function sliceToWindow(p: CpuProfile, fromUs: number, toUs: number): CpuProfile {
  const times = sampleTimes(p);
  const samples: number[] = [];
  const timeDeltas: number[] = [];
  let prev = fromUs;
  for (let i = 0; i < times.length; i++) {
    const t = times[i]!;
    if (t < fromUs || t > toUs) continue;
    samples.push(p.samples[i]!);
    timeDeltas.push(t - prev);
    prev = t;
  }
  return { nodes: p.nodes, startTime: fromUs, endTime: toUs, samples, timeDeltas };
}

/** True when [fromUs, toUs] overlaps the profile's own span (i.e. the clocks agree). */
export function windowOverlaps(p: CpuProfile, fromUs: number, toUs: number): boolean {
  return fromUs < p.endTime && toUs > p.startTime;
}
