/**
 * Top-N table of a V8 .cpuprofile (from `node --cpu-prof`): self and total time per
 * function, so a profile can be read in a terminal and compared before/after a change.
 *
 *   node dist/perf/cpuprofile-top.js FILE.cpuprofile [N]
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface TopRow {
  name: string;
  selfPct: number;
  totalPct: number;
}

function label(n: ProfileNode): string {
  const f = n.callFrame;
  const file = f.url.replace(/^.*\/(node_modules\/|dist\/)?/, (_m, d: string | undefined) => d ?? '');
  const short = f.url === '' ? '' : ` ${f.url.split('/').slice(-2).join('/')}:${f.lineNumber + 1}`;
  void file;
  return `${f.functionName || '(anonymous)'}${short}`;
}

export function topFunctions(profile: Profile, n: number): TopRow[] {
  const byId = new Map<number, ProfileNode>();
  for (const node of profile.nodes) byId.set(node.id, node);
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const c of node.children ?? []) parent.set(c, node.id);
  const selfSamples = new Map<number, number>();
  for (const s of profile.samples) selfSamples.set(s, (selfSamples.get(s) ?? 0) + 1);
  const total = profile.samples.length;
  const self = new Map<string, number>();
  const incl = new Map<string, number>();
  for (const [id, count] of selfSamples) {
    const node = byId.get(id)!;
    const name = label(node);
    self.set(name, (self.get(name) ?? 0) + count);
    // Inclusive: each distinct label on the stack once.
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const l = label(byId.get(cur)!);
      if (seen.has(l)) continue;
      seen.add(l);
      incl.set(l, (incl.get(l) ?? 0) + count);
    }
  }
  return [...self.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([name, c]) => ({ name, selfPct: (100 * c) / total, totalPct: (100 * (incl.get(name) ?? c)) / total }));
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  const file = process.argv[2];
  if (!file) {
    console.error('usage: cpuprofile-top FILE.cpuprofile [N]');
    process.exit(2);
  }
  const n = Number(process.argv[3] ?? 30);
  const rows = topFunctions(JSON.parse(readFileSync(file, 'utf8')) as Profile, n);
  console.log('  self%  total%  function');
  for (const r of rows) console.log(`${r.selfPct.toFixed(1).padStart(7)} ${r.totalPct.toFixed(1).padStart(7)}  ${r.name}`);
}
