/**
 * CPU accounting from /proc: the utime+stime of every process in a tree (a process's stat line
 * already sums all its threads, so the gateway's worker threads are included; nginx's workers are
 * child processes of its master), sampled before and after the load window. Divided by the
 * completed requests, that is the CPU cost per request, which on a 2-core machine shared by the
 * load tool, the peer and the origin is steadier than req/s.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

let ticks: number | undefined;

/** USER_HZ: the unit of utime/stime in /proc (100 on Linux almost everywhere). */
export function clockTicksPerSecond(): number {
  if (ticks === undefined) {
    const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8', timeout: 2000 });
    const n = Number.parseInt(r.stdout ?? '', 10);
    ticks = Number.isFinite(n) && n > 0 ? n : 100;
  }
  return ticks;
}

export interface ProcStat {
  pid: number;
  ppid: number;
  utime: number;
  stime: number;
  /** Start time in ticks since boot: tells a reused pid apart. */
  starttime: number;
}

/** Parse one /proc/<pid>/stat line (the command name may hold spaces and parentheses). */
export function parseProcStat(line: string): ProcStat | null {
  const open = line.indexOf('(');
  const close = line.lastIndexOf(')');
  if (open < 0 || close < open) return null;
  const pid = Number.parseInt(line.slice(0, open), 10);
  const f = line.slice(close + 2).split(' '); // f[0] is field 3 (state)
  const num = (field: number): number => Number(f[field - 3]);
  const s = { pid, ppid: num(4), utime: num(14), stime: num(15), starttime: num(22) };
  return Object.values(s).every(Number.isFinite) ? s : null;
}

function readStat(pid: number): ProcStat | null {
  try {
    return parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return null; // gone
  }
}

/** Every live process: pid → stat. */
function allProcs(): Map<number, ProcStat> {
  const out = new Map<number, ProcStat>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const s = readStat(Number(name));
    if (s !== null) out.set(s.pid, s);
  }
  return out;
}

export type TreeSample = Map<number, ProcStat>;

/** The stat of `root` and all its descendants. Empty if `root` is gone. */
export function sampleTree(root: number): TreeSample {
  const procs = allProcs();
  const children = new Map<number, number[]>();
  for (const s of procs.values()) {
    const list = children.get(s.ppid);
    if (list) list.push(s.pid);
    else children.set(s.ppid, [s.pid]);
  }
  const out: TreeSample = new Map();
  const queue = procs.has(root) ? [root] : [];
  while (queue.length > 0) {
    const pid = queue.shift() as number;
    const s = procs.get(pid);
    if (s === undefined || out.has(pid)) continue;
    out.set(pid, s);
    queue.push(...(children.get(pid) ?? []));
  }
  return out;
}

/**
 * CPU µs the tree used between two samples. A process born in between counts from zero; one
 * that died in between is lost (none should, in a bench window).
 */
export function treeCpuUs(before: TreeSample, after: TreeSample): number {
  let t = 0;
  for (const [pid, a] of after) {
    const b = before.get(pid);
    const base = b !== undefined && b.starttime === a.starttime ? b.utime + b.stime : 0;
    t += a.utime + a.stime - base;
  }
  return (t * 1e6) / clockTicksPerSecond();
}

export interface MachineSample {
  busy: number;
  total: number;
}

/** The aggregate `cpu` line of /proc/stat: busy and total ticks over all cores. */
export function sampleMachine(): MachineSample {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal (guest* are already inside user/nice)
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = v;
  const busy = user + nice + system + irq + softirq + steal;
  return { busy, total: busy + idle + iowait };
}

/** Busy share of the whole machine between two samples, in "% of one core" (200% = 2 cores busy). */
export function machineBusyPercent(before: MachineSample, after: MachineSample, cores: number): number {
  const total = after.total - before.total;
  return total > 0 ? ((after.busy - before.busy) / total) * 100 * cores : 0;
}

/** Snapshot of what one load window is measured against. */
export interface CpuWindow {
  peer: TreeSample | null;
  origin: TreeSample;
  /** A service the peer depends on (the Redis of rate-limiting-redis), when the bench runs it. */
  sidecar: TreeSample | null;
  machine: MachineSample;
}

export function sampleWindow(peerPid: number | null, originPid: number, sidecarPid: number | null = null): CpuWindow {
  return {
    peer: peerPid === null ? null : sampleTree(peerPid),
    origin: sampleTree(originPid),
    sidecar: sidecarPid === null ? null : sampleTree(sidecarPid),
    machine: sampleMachine(),
  };
}
