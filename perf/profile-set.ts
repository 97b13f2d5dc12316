/**
 * The one model every output is drawn from: the profiles of several threads as stacks of shared
 * frames. A frame is the same object in every thread (same function, script and position), so
 * the table, the flame graph and the speedscope file can merge or compare threads freely.
 *
 * Each sample becomes a stack of frame indices, root first, without V8's "(root)" node. A
 * sample whose JavaScript frame was on a line that calls a uWS method (see uws-call-sites.ts)
 * gets that method as an extra leaf frame, so uWS's native time is not mistaken for ours.
 */
import type { CpuProfile, ProfileNode } from './cpuprofile.js';
import { classifyFrame, UWS_PACKAGE, type Frame, type SourceResolver } from './frames.js';
import type { NativeCallFinder } from './uws-call-sites.js';

export interface ThreadInput {
  /** e.g. "worker thread 1". */
  name: string;
  profile: CpuProfile;
}

export interface ThreadSamples {
  name: string;
  /** Distinct stacks, each a list of indices into `ProfileSet.frames`, root first. */
  stacks: number[][];
  /** For every sample, in time order: its index into `stacks`. */
  samples: number[];
}

export interface ProfileSet {
  frames: Frame[];
  threads: ThreadSamples[];
}

export interface BuildOptions {
  /** Repository root: decides which frames are "our code" and shortens paths. */
  root: string;
  /** Maps built JavaScript back to TypeScript positions (source-maps.ts). */
  resolveSource?: SourceResolver;
  /** Finds uWS calls on a line of a script (uws-call-sites.ts); without it no uWS frames are added. */
  nativeCallAt?: NativeCallFinder;
}

/** Frames shared by all threads of one build, deduplicated by key. */
class FrameTable {
  readonly frames: Frame[] = [];
  private readonly byKey = new Map<string, number>();

  add(f: Frame): number {
    const known = this.byKey.get(f.key);
    if (known !== undefined) return known;
    this.frames.push(f);
    this.byKey.set(f.key, this.frames.length - 1);
    return this.frames.length - 1;
  }
}

function uwsFrame(method: string): Frame {
  return { key: `uws-native\u0000${method}`, name: method, file: '(uWS native)', line: 0, col: 0, category: 'package', pkg: UWS_PACKAGE };
}

/**
 * How a node's in-window samples split between the node itself (option 0) and the uWS methods
 * called on its lines: integer targets in proportion to its position ticks (largest remainder).
 */
interface Split {
  /** uWS frame index per option ≥ 1. */
  frames: number[];
  targets: number[];
  assigned: number[];
  seen: number;
  total: number;
}

function splitTargets(weights: number[], n: number): number[] {
  const sum = weights.reduce((a, b) => a + b, 0);
  const ideal = weights.map((w) => (sum === 0 ? 0 : (w * n) / sum));
  const targets = ideal.map(Math.floor);
  let left = n - targets.reduce((a, b) => a + b, 0);
  const order = ideal.map((v, i) => ({ i, r: v - Math.floor(v) })).sort((a, b) => b.r - a.r || a.i - b.i);
  for (const { i } of order) {
    if (left <= 0) break;
    targets[i]!++;
    left--;
  }
  return targets;
}

/**
 * The next option for a node's sample: the one furthest behind its share so far. Spreads the
 * uWS samples evenly over time and hits every target exactly.
 */
function nextOption(s: Split): number {
  const j = s.seen++;
  let best = 0;
  let bestLag = -Infinity;
  for (let k = 0; k < s.targets.length; k++) {
    if (s.assigned[k]! >= s.targets[k]!) continue;
    const lag = (s.targets[k]! * (j + 1)) / s.total - s.assigned[k]!;
    if (lag > bestLag) {
      bestLag = lag;
      best = k;
    }
  }
  s.assigned[best]!++;
  return best;
}

function buildThread(input: ThreadInput, table: FrameTable, opts: BuildOptions): ThreadSamples {
  const p = input.profile;
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const n of p.nodes) byId.set(n.id, n);
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

  const frameOfNode = new Map<number, number>();
  const pathOfNode = new Map<number, number[]>();
  const framesOf = (id: number): number[] => {
    const cached = pathOfNode.get(id);
    if (cached !== undefined) return cached;
    const chain: number[] = [];
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) chain.push(cur);
    const out: number[] = [];
    for (let i = chain.length - 1; i >= 0; i--) {
      const node = byId.get(chain[i]!)!;
      if (i === chain.length - 1 && node.callFrame.functionName === '(root)') continue;
      let f = frameOfNode.get(node.id);
      if (f === undefined) {
        f = table.add(classifyFrame(node.callFrame, opts.root, opts.resolveSource));
        frameOfNode.set(node.id, f);
      }
      out.push(f);
    }
    pathOfNode.set(id, out);
    return out;
  };

  const inWindow = new Map<number, number>();
  for (const id of p.samples) inWindow.set(id, (inWindow.get(id) ?? 0) + 1);

  const splits = new Map<number, Split>();
  if (opts.nativeCallAt !== undefined) {
    for (const [id, n] of inWindow) {
      const node = byId.get(id)!;
      const ticks = node.positionTicks;
      if (ticks === undefined || ticks.length === 0) continue;
      const path = framesOf(id);
      if (table.frames[path[path.length - 1]!]!.category !== 'ours') continue;
      const byMethod = new Map<string, number>();
      let own = 0;
      for (const t of ticks) {
        const m = opts.nativeCallAt(node.callFrame.url, t.line);
        if (m === null) own += t.ticks;
        else byMethod.set(m, (byMethod.get(m) ?? 0) + t.ticks);
      }
      if (byMethod.size === 0) continue;
      const methods = [...byMethod.keys()].sort();
      const targets = splitTargets([own, ...methods.map((m) => byMethod.get(m)!)], n);
      splits.set(id, {
        frames: methods.map((m) => table.add(uwsFrame(m))),
        targets,
        assigned: targets.map(() => 0),
        seen: 0,
        total: n,
      });
    }
  }

  const stacks: number[][] = [];
  const stackIndex = new Map<string, number>();
  const stackOf = (id: number, option: number): number => {
    const k = `${id}:${option}`;
    let idx = stackIndex.get(k);
    if (idx === undefined) {
      const base = framesOf(id);
      const split = splits.get(id);
      stacks.push(option === 0 || split === undefined ? base : [...base, split.frames[option - 1]!]);
      idx = stacks.length - 1;
      stackIndex.set(k, idx);
    }
    return idx;
  };

  const samples = new Array<number>(p.samples.length);
  for (let i = 0; i < p.samples.length; i++) {
    const id = p.samples[i]!;
    const split = splits.get(id);
    samples[i] = stackOf(id, split === undefined ? 0 : nextOption(split));
  }
  return { name: input.name, stacks, samples };
}

export function buildProfileSet(inputs: ThreadInput[], opts: BuildOptions): ProfileSet {
  const table = new FrameTable();
  const threads = inputs.map((input) => buildThread(input, table, opts));
  return { frames: table.frames, threads };
}

/** Sample count of every stack of a thread. */
export function stackCounts(t: ThreadSamples): number[] {
  const counts = new Array<number>(t.stacks.length).fill(0);
  for (const s of t.samples) counts[s]!++;
  return counts;
}
