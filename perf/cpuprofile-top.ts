/**
 * Top-N tables of V8 CPU profiles: self and total time per function, and self time per category
 * (our code, uWS, undici, other packages, node internals, GC, program), as percentages of the
 * non-idle samples, so a profile can be read in a terminal and compared before/after a change.
 *
 *   node dist/perf/cpuprofile-top.js FILE.cpuprofile [FILE.cpuprofile…] [N]
 *
 * Several files are merged (e.g. one per worker thread). `npm run perf:profile` prints the same
 * tables for the workers of a bench run.
 */
import { readFileSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseCpuProfile, type CpuProfile } from './cpuprofile.js';
import { frameLabel, groupOf, type Frame } from './frames.js';
import { buildProfileSet, stackCounts, type ProfileSet } from './profile-set.js';
import { sourceMapResolver } from './source-maps.js';
import { uwsCallFinder } from './uws-call-sites.js';

export interface FunctionRow {
  frame: Frame;
  /** Samples with this function on top of the stack. */
  self: number;
  /** Samples with this function anywhere on the stack (once per sample, even when recursive). */
  total: number;
}

export interface GroupRow {
  /** "our code", "uWS", "undici", "node internals", "GC", "(program)"…; see frames.ts groupOf. */
  group: string;
  self: number;
}

export interface Summary {
  samples: number;
  idle: number;
  /** The denominator of every percentage: samples − idle. */
  nonIdle: number;
  /** Every function except (idle), by self samples, most first. */
  functions: FunctionRow[];
  /** Self samples per category, most first; (idle) is not among them. */
  groups: GroupRow[];
  threads: { name: string; samples: number; idle: number }[];
}

/**
 * The category a sample is counted in: its top frame's, except that native code (C++ bindings,
 * builtins, RegExp, WebAssembly) counts for the JavaScript that called it: writeLatin1String
 * under a socket write is node internals, llhttp's wasm under undici is undici.
 */
function sampleGroup(stack: number[], frames: Frame[]): string {
  for (let i = stack.length - 1; i >= 0; i--) {
    const f = frames[stack[i]!]!;
    if (f.category !== 'native') return groupOf(f);
  }
  const leaf = stack.length === 0 ? undefined : frames[stack[stack.length - 1]!];
  return leaf === undefined ? '(program)' : groupOf(leaf);
}

export function summarize(set: ProfileSet): Summary {
  const self = new Array<number>(set.frames.length).fill(0);
  const total = new Array<number>(set.frames.length).fill(0);
  const groups = new Map<string, number>();
  let samples = 0;
  let idle = 0;
  const threads: Summary['threads'] = [];
  for (const t of set.threads) {
    const counts = stackCounts(t);
    let tIdle = 0;
    for (let s = 0; s < t.stacks.length; s++) {
      const n = counts[s]!;
      if (n === 0) continue;
      const stack = t.stacks[s]!;
      const leaf = stack[stack.length - 1];
      if (leaf !== undefined && set.frames[leaf]!.category === 'idle') {
        tIdle += n;
        continue;
      }
      if (leaf !== undefined) self[leaf]! += n;
      const seen = new Set<number>();
      for (const f of stack) {
        if (seen.has(f)) continue;
        seen.add(f);
        total[f]! += n;
      }
      const g = sampleGroup(stack, set.frames);
      groups.set(g, (groups.get(g) ?? 0) + n);
    }
    threads.push({ name: t.name, samples: t.samples.length, idle: tIdle });
    samples += t.samples.length;
    idle += tIdle;
  }
  const functions: FunctionRow[] = [];
  for (let i = 0; i < set.frames.length; i++) {
    if (total[i]! > 0) functions.push({ frame: set.frames[i]!, self: self[i]!, total: total[i]! });
  }
  functions.sort((a, b) => b.self - a.self || b.total - a.total || frameLabel(a.frame).localeCompare(frameLabel(b.frame)));
  return {
    samples,
    idle,
    nonIdle: samples - idle,
    functions,
    groups: [...groups.entries()].map(([group, n]) => ({ group, self: n })).sort((a, b) => b.self - a.self || a.group.localeCompare(b.group)),
    threads,
  };
}

const pct = (n: number, of: number): string => (of === 0 ? '-' : ((100 * n) / of).toFixed(1));
const cell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
const where = (f: Frame): string => (f.file === '' ? '' : f.line > 0 ? `${f.file}:${f.line}` : f.file);
const category = (f: Frame): string => (f.category === 'native' ? 'native' : groupOf(f));

/** Markdown: the category table, then the top `n` functions by self time and by total time. */
export function renderMarkdown(summary: Summary, n: number, title = 'CPU profile', notes: string[] = []): string {
  const out: string[] = [`# ${title}`, ''];
  for (const note of notes) out.push(note);
  if (notes.length > 0) out.push('');
  const threads = summary.threads.map((t) => `${t.name}: ${t.samples.toLocaleString('en-US')} samples, ${pct(t.idle, t.samples)}% idle`);
  out.push(
    `${summary.samples.toLocaleString('en-US')} samples (${threads.join('; ')}). ` +
      `Percentages are of the ${summary.nonIdle.toLocaleString('en-US')} non-idle samples; ` +
      `idle was ${pct(summary.idle, summary.samples)}% of all samples.`,
    '',
    '## Self time by category',
    '',
    '| category | self % | samples |',
    '|---|---:|---:|',
  );
  for (const g of summary.groups) out.push(`| ${cell(g.group)} | ${pct(g.self, summary.nonIdle)} | ${g.self} |`);

  const fnTable = (rows: FunctionRow[], first: 'self' | 'total'): void => {
    out.push(`| # | ${first} % | ${first === 'self' ? 'total' : 'self'} % | function | where | category |`, '|---:|---:|---:|---|---|---|');
    rows.forEach((r, i) => {
      const [a, b] = first === 'self' ? [r.self, r.total] : [r.total, r.self];
      out.push(`| ${i + 1} | ${pct(a, summary.nonIdle)} | ${pct(b, summary.nonIdle)} | ${cell(r.frame.name)} | ${cell(where(r.frame))} | ${cell(category(r.frame))} |`);
    });
  };
  out.push('', `## Top ${n} functions by self time`, '');
  fnTable(summary.functions.slice(0, n), 'self');
  const byTotal = [...summary.functions].sort((a, b) => b.total - a.total || b.self - a.self);
  out.push('', `## Top ${n} functions by total time (self + callees)`, '');
  fnTable(byTotal.slice(0, n), 'total');
  out.push('');
  return out.join('\n');
}

/** The repository root as seen from this file (dist/perf/ or perf/). */
export function repoRoot(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  return basename(dirname(here)) === 'dist' ? dirname(dirname(here)) : dirname(here);
}

export interface TopRow {
  name: string;
  selfPct: number;
  totalPct: number;
}

/** The top `n` functions of one profile by self time, as percentages of its non-idle samples. */
export function topFunctions(profile: CpuProfile, n: number, root = repoRoot()): TopRow[] {
  const s = summarize(buildProfileSet([{ name: 'profile', profile }], { root }));
  return s.functions.slice(0, n).map((r) => ({
    name: frameLabel(r.frame),
    selfPct: (100 * r.self) / s.nonIdle,
    totalPct: (100 * r.total) / s.nonIdle,
  }));
}

function main(argv: string[]): number {
  const files = argv.filter((a) => !/^\d+$/.test(a));
  const nArg = argv.find((a) => /^\d+$/.test(a));
  if (files.length === 0 || files.some((f) => f.startsWith('-'))) {
    process.stderr.write('usage: cpuprofile-top FILE.cpuprofile [FILE.cpuprofile…] [N]\n');
    return 2;
  }
  const inputs = files.map((file) => ({ name: basename(file), profile: parseCpuProfile(readFileSync(file, 'utf8'), file) }));
  const root = repoRoot();
  const set = buildProfileSet(inputs, { root, resolveSource: sourceMapResolver(), nativeCallAt: uwsCallFinder() });
  const title = files.length === 1 ? `CPU profile ${basename(files[0]!)}` : `CPU profiles (${files.length} merged)`;
  process.stdout.write(renderMarkdown(summarize(set), Number(nArg ?? 30), title));
  return 0;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  process.exitCode = main(process.argv.slice(2));
}
