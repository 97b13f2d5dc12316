/**
 * `npm run perf:sweep -- [flags]`: the bench (dist/bench/run.js) over worker counts × CPU
 * affinity settings, then one markdown table. Every bench run compares the gateway with nginx
 * at the same worker count, so each ratio comes from the same minute.
 *
 * With --rounds N the whole grid runs N times, one bench round per cell each time, and the
 * table shows medians: on a machine shared with other work, a burst of outside load then
 * hits one round of several cells rather than every round of one cell.
 *
 * The bench passes its environment to the gateway process, so each run sets
 * PORTCULLIS_CPU_AFFINITY. While a run is going, the sweep reads the gateway's threads in
 * /proc (Cpus_allowed_list) and reports which cores were really pinned: a setting that did
 * not take effect (addon missing) shows up as "none" rather than as a measurement of it.
 *
 *   node dist/perf/sweep.js [--workers 1-4] [--affinity off --affinity auto] [--duration 5]
 *     [--warmup 2] [--rounds 1] [--peer nginx|none] [--scenario plain]
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { formatCpuList, parseCpuList } from '../src/shared/cpu-list.js';

/** The repository root: the nearest ancestor of this file with Portcullis's package.json. */
function repoRoot(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    try {
      if ((JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string }).name === 'portcullis') return dir;
    } catch {
      // no package.json here
    }
    if (dirname(dir) === dir) throw new Error('no portcullis package.json above this script');
  }
}

const ROOT = repoRoot();
const BENCH = join(ROOT, 'dist', 'bench', 'run.js');

const USAGE = `npm run perf:sweep -- [flags]      (or: node dist/perf/sweep.js [flags])

Runs the bench once per (worker count, affinity) and round, and prints a markdown table.

  --workers LIST      worker counts, e.g. 1-4 or 1,2,4 (default 1-4)
  --affinity VALUE    a --cpu-affinity value; repeat for several (default: off and auto)
  --duration S        measured seconds per peer and run (default 5)
  --warmup S          warm-up seconds per peer and run (default 2)
  --rounds N          run the whole grid N times (cells interleaved); the table shows medians (default 1)
  --peer nginx|none   compare with nginx in every run (default nginx)
  --max-other-load P  repeat a run (up to --attempts times in all, 20 s apart) while the machine spent
                      more than P% of one core outside the bench during it; keep the quietest attempt
  --attempts N        most attempts per run with --max-other-load (default 3)
  --scenario NAME     bench scenario (default plain)
  --help

Results: the table on stdout, and perf/out/sweep-<timestamp>.json with every run.
`;

interface SweepOptions {
  workers: number[];
  affinities: string[];
  duration: string;
  warmup: string;
  rounds: number;
  peer: string;
  scenario: string;
  /** null: keep every run whatever else the machine was doing. */
  maxOtherLoadPct: number | null;
  attempts: number;
}

/** The fields of a bench results file (its top-level `summary`) the sweep reads. */
interface BenchSummary {
  peer: string;
  rps: number;
  p99Ms: number;
  cpuUsPerReq: number | null;
  originUsPerReq: number;
  loadgenUsPerReq: number | null;
  machineBusyPct: number;
  clean: boolean;
}
interface BenchResults {
  summary: BenchSummary[];
  failures: Array<{ peer: string; error: string }>;
}

/** One bench run: one cell of the grid in one round. */
export interface SweepRun {
  round: number;
  workers: number;
  affinity: string;
  /** Cores the gateway's threads were seen pinned to during the run; [] = none pinned. */
  pinnedCores: number[];
  /** How many of the gateway's threads were pinned. */
  pinnedThreads: number;
  gateway: BenchSummary | null;
  nginx: BenchSummary | null;
  benchExit: number | null;
  resultsFile: string | null;
  error: string | null;
  /** Attempts made for this run (more than 1 with --max-other-load on a busy machine). */
  attempts: number;
}

function parseOptions(argv: string[]): SweepOptions | null {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      workers: { type: 'string' },
      affinity: { type: 'string', multiple: true },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      rounds: { type: 'string' },
      peer: { type: 'string' },
      scenario: { type: 'string' },
      'max-other-load': { type: 'string' },
      attempts: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help === true) return null;
  // Worker counts use the CPU-list syntax (1-4, 1,2,4); 0 workers is not a gateway.
  const workers = parseCpuList(values.workers ?? '1-4');
  if (workers.includes(0)) throw new Error('--workers: counts start at 1');
  const rounds = Number(values.rounds ?? '1');
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds: expected a whole number >= 1, got '${values.rounds}'`);
  const maxOther = values['max-other-load'] === undefined ? null : Number(values['max-other-load']);
  if (maxOther !== null && !(maxOther >= 0)) throw new Error(`--max-other-load: expected a percentage, got '${values['max-other-load']}'`);
  const attempts = Number(values.attempts ?? '3');
  if (!Number.isInteger(attempts) || attempts < 1) throw new Error(`--attempts: expected a whole number >= 1, got '${values.attempts}'`);
  return {
    maxOtherLoadPct: maxOther,
    attempts,
    workers,
    affinities: values.affinity ?? ['off', 'auto'],
    duration: values.duration ?? '5',
    warmup: values.warmup ?? '2',
    rounds,
    peer: values.peer ?? 'nginx',
    scenario: values.scenario ?? 'plain',
  };
}

function cpusAllowed(statusPath: string): string | null {
  try {
    return /^Cpus_allowed_list:\s*(\S+)$/m.exec(readFileSync(statusPath, 'utf8'))?.[1] ?? null;
  } catch {
    return null; // the thread or process is gone
  }
}

/** The gateway processes the bench (pid `benchPid`) started: its children running portcullis. */
function gatewayPids(benchPid: number): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // ppid is the 4th field after the parenthesised command name.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid !== benchPid) continue;
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes('portcullis')) pids.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return pids;
}

/** Threads of `pid` whose allowed cores differ from the process's: the pinned workers. */
function pinnedThreads(pid: number): Map<number, string> {
  const pinned = new Map<number, string>();
  const processCpus = cpusAllowed(`/proc/${pid}/status`);
  if (processCpus === null) return pinned;
  let tasks: string[];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return pinned;
  }
  for (const tid of tasks) {
    const cpus = cpusAllowed(`/proc/${pid}/task/${tid}/status`);
    if (cpus !== null && cpus !== processCpus) pinned.set(Number(tid), cpus);
  }
  return pinned;
}

function runBench(opts: SweepOptions, round: number, workers: number, affinity: string): Promise<SweepRun> {
  const args = [BENCH, '--workers', String(workers), '--duration', opts.duration, '--warmup', opts.warmup, '--rounds', '1', '--peer', opts.peer, '--scenario', opts.scenario];
  const run: SweepRun = { round, workers, affinity, pinnedCores: [], pinnedThreads: 0, gateway: null, nginx: null, benchExit: null, resultsFile: null, error: null, attempts: 1 };
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, {
      cwd: ROOT,
      env: { ...process.env, PORTCULLIS_CPU_AFFINITY: affinity },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    const seen = new Map<number, string>();
    const watch = setInterval(() => {
      for (const pid of gatewayPids(child.pid ?? -1)) for (const [tid, cpus] of pinnedThreads(pid)) seen.set(tid, cpus);
    }, 500);
    child.once('exit', (code) => {
      clearInterval(watch);
      run.benchExit = code;
      run.pinnedThreads = seen.size;
      run.pinnedCores = [...new Set([...seen.values()].flatMap((l) => parseCpuList(l)))].sort((a, b) => a - b);
      const file = /^results: (.+)$/m.exec(stdout)?.[1]?.trim() ?? null;
      run.resultsFile = file;
      if (file === null) {
        run.error = `the bench wrote no results (exit ${code}): ${stderr.trim().split('\n').slice(-3).join(' | ')}`;
      } else {
        try {
          const results = JSON.parse(readFileSync(file, 'utf8')) as BenchResults;
          run.gateway = results.summary.find((s) => s.peer === 'gateway') ?? null;
          run.nginx = results.summary.find((s) => s.peer === 'nginx') ?? null;
          if (results.failures.length > 0) run.error = results.failures.map((f) => `${f.peer}: ${f.error.split('\n')[0]}`).join('; ');
        } catch (err) {
          run.error = `cannot read ${file}: ${(err as Error).message}`;
        }
      }
      resolve(run);
    });
  });
}

/**
 * CPU the machine spent outside the bench's processes during the gateway's window, in % of
 * one core: machine busy minus (gateway + origin + load tool) per request × req/s. On a shared
 * machine this says whether a cell was measured next to someone else's work.
 */
function otherLoadPct(s: BenchSummary | null): number | null {
  if (s === null || s.cpuUsPerReq === null || s.loadgenUsPerReq === null) return null;
  return Math.max(0, s.machineBusyPct - ((s.cpuUsPerReq + s.originUsPerReq + s.loadgenUsPerReq) * s.rps) / 1e4);
}

function median(values: Array<number | null | undefined>): number | null {
  const v = values.filter((x): x is number => x !== null && x !== undefined && Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return null;
  const mid = v.length >> 1;
  return v.length % 2 === 1 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
}

const div = (a: number | null | undefined, b: number | null | undefined): number | null =>
  a === null || a === undefined || b === null || b === undefined || b === 0 ? null : a / b;

/** One row of the table: the medians of a cell's runs. */
export interface SweepCell {
  workers: number;
  affinity: string;
  runs: number;
  /** Runs that failed or had errors / unexpected statuses. */
  dirty: number;
  pinnedCores: number[];
  /** Most gateway threads seen pinned in one run. */
  pinnedThreads: number;
  rps: number | null;
  p99Ms: number | null;
  cpuUsPerReq: number | null;
  machineBusyPct: number | null;
  otherLoadPct: number | null;
  nginxRps: number | null;
  nginxCpuUsPerReq: number | null;
  /** Medians of each run's gateway ÷ nginx (both measured in the same bench run). */
  rpsRatio: number | null;
  cpuRatio: number | null;
}

export function summarizeCells(runs: SweepRun[], opts: Pick<SweepOptions, 'workers' | 'affinities'>): SweepCell[] {
  const cells: SweepCell[] = [];
  for (const workers of opts.workers) {
    for (const affinity of opts.affinities) {
      const mine = runs.filter((r) => r.workers === workers && r.affinity === affinity);
      if (mine.length === 0) continue;
      cells.push({
        workers,
        affinity,
        runs: mine.length,
        dirty: mine.filter((r) => r.error !== null || r.gateway === null || !r.gateway.clean || (r.nginx !== null && !r.nginx.clean)).length,
        pinnedCores: [...new Set(mine.flatMap((r) => r.pinnedCores))].sort((a, b) => a - b),
        pinnedThreads: Math.max(...mine.map((r) => r.pinnedThreads)),
        rps: median(mine.map((r) => r.gateway?.rps)),
        p99Ms: median(mine.map((r) => r.gateway?.p99Ms)),
        cpuUsPerReq: median(mine.map((r) => r.gateway?.cpuUsPerReq)),
        machineBusyPct: median(mine.map((r) => r.gateway?.machineBusyPct)),
        otherLoadPct: median(mine.map((r) => otherLoadPct(r.gateway))),
        nginxRps: median(mine.map((r) => r.nginx?.rps)),
        nginxCpuUsPerReq: median(mine.map((r) => r.nginx?.cpuUsPerReq)),
        rpsRatio: median(mine.map((r) => div(r.gateway?.rps, r.nginx?.rps))),
        cpuRatio: median(mine.map((r) => div(r.gateway?.cpuUsPerReq, r.nginx?.cpuUsPerReq))),
      });
    }
  }
  return cells;
}

const num = (n: number | null, digits = 0): string =>
  n === null || !Number.isFinite(n) ? '-' : n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
const pct = (n: number | null): string => (n === null ? '-' : `${Math.round(n)}%`);
const times = (n: number | null): string => (n === null ? '-' : `${n.toFixed(2)}x`);

/** The sweep as a markdown table; a cell with a failed or unclean run is marked (!). */
export function renderTable(cells: SweepCell[]): string {
  const head = ['workers', 'affinity', 'pinned to', 'req/s', 'p99 ms', 'CPU µs/req', 'machine busy', 'other load', 'nginx req/s', 'nginx CPU µs/req', 'req/s vs nginx', 'CPU vs nginx'];
  const rows = cells.map((c) => [
    String(c.workers),
    c.affinity + (c.dirty > 0 ? ` (!${c.dirty})` : ''),
    c.pinnedThreads === 0 ? 'none' : `${formatCpuList(c.pinnedCores)} (${c.pinnedThreads} thr)`,
    num(c.rps),
    num(c.p99Ms, 1),
    num(c.cpuUsPerReq, 1),
    pct(c.machineBusyPct),
    pct(c.otherLoadPct),
    num(c.nginxRps),
    num(c.nginxCpuUsPerReq, 1),
    times(c.rpsRatio),
    times(c.cpuRatio),
  ]);
  const line = (cells: string[]): string => `| ${cells.join(' | ')} |`;
  return [line(head), line(head.map((_, i) => (i < 3 ? '---' : '---:'))), ...rows.map(line)].join('\n');
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * One cell in one round. A run without results (the checkout's dist/ may be mid-rebuild) is
 * tried once more; with --max-other-load, a run next to too much outside work is tried again
 * up to --attempts in all, and the one with the least outside load is kept.
 */
async function measuredRun(opts: SweepOptions, round: number, workers: number, affinity: string): Promise<SweepRun> {
  let run = await runBench(opts, round, workers, affinity);
  if (run.resultsFile === null) {
    process.stderr.write(`no results (${run.error}); retrying in 10 s ... `);
    await sleep(10_000);
    run = await runBench(opts, round, workers, affinity);
  }
  if (opts.maxOtherLoadPct === null) return run;
  let best = run;
  let attempts = 1;
  for (; attempts < opts.attempts; attempts++) {
    const other = otherLoadPct(best.gateway);
    if (other !== null && other <= opts.maxOtherLoadPct) break;
    process.stderr.write(`other load ${pct(other)}, again in 20 s ... `);
    await sleep(20_000);
    const next = await runBench(opts, round, workers, affinity);
    const nextOther = otherLoadPct(next.gateway);
    if (nextOther !== null && (other === null || nextOther < other)) best = next;
  }
  best.attempts = attempts;
  return best;
}

async function main(): Promise<number> {
  const opts = parseOptions(process.argv.slice(2));
  if (opts === null) {
    process.stdout.write(USAGE);
    return 0;
  }
  const runs: SweepRun[] = [];
  const startedAt = new Date();
  let flip = false;
  for (let round = 1; round <= opts.rounds; round++) {
    for (const workers of opts.workers) {
      // Alternate which affinity runs first, so neither always gets the warmer or quieter slot.
      const order = flip ? [...opts.affinities].reverse() : opts.affinities;
      flip = !flip;
      for (const affinity of order) {
        process.stderr.write(`sweep: round ${round}/${opts.rounds}, ${workers} worker(s), --cpu-affinity ${affinity} ... `);
        const run = await measuredRun(opts, round, workers, affinity);
        runs.push(run);
        process.stderr.write(
          `${num(run.gateway?.rps ?? null)} req/s, nginx ${num(run.nginx?.rps ?? null)}, other load ${pct(otherLoadPct(run.gateway))}, ` +
            `pinned: ${run.pinnedThreads === 0 ? 'none' : formatCpuList(run.pinnedCores)}${run.error ? ` (${run.error})` : ''}\n`,
        );
      }
    }
  }
  const cells = summarizeCells(runs, opts);
  const outDir = join(ROOT, 'perf', 'out');
  mkdirSync(outDir, { recursive: true });
  const file = join(outDir, `sweep-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, `${JSON.stringify({ startedAt: startedAt.toISOString(), finishedAt: new Date().toISOString(), options: opts, cells, runs }, null, 2)}\n`);
  process.stdout.write(
    `\nscenario ${opts.scenario}, ${opts.warmup}+${opts.duration} s per peer and run, ${opts.rounds} round(s) (medians), peer ${opts.peer}\n\n` +
      `${renderTable(cells)}\n\nresults: ${file}\n`,
  );
  return cells.some((c) => c.dirty > 0) ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`sweep: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(2);
  },
);
