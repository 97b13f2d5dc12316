/**
 * The results: per-run records, per-peer medians over rounds, the gateway/nginx ratios, the text
 * table on stdout, and the machine description. The files (JSON, markdown, SVG) are results.ts.
 */
import { availableParallelism, cpus, release, platform, arch, totalmem, loadavg } from 'node:os';
import { spawnSync } from 'node:child_process';
import type { LoadResult } from './load/types.js';

export type RunMode = 'throughput' | 'latency';

export interface RunRecord {
  peer: string;
  round: number;
  /** Position of this peer within its round (1 = first). */
  order: number;
  mode: RunMode;
  load: LoadResult;
  /** The closed-loop load that ran beside it (a scenario's `background`), over its whole length. */
  background?: LoadResult;
  /**
   * CPU µs used during the load window. `sidecar`: the Redis the bench runs for the scenario.
   * With a background load, the per-request figures divide by the measured requests plus the
   * background's (its req/s × the window).
   */
  cpuUs: { peer: number | null; origin: number; loadgen: number | null; sidecar?: number | null };
  /** The same, divided by completed requests. */
  perRequestUs: { peer: number | null; origin: number; loadgen: number | null; sidecar?: number | null };
  /** Whole-machine busy share during the window, % of one core (cores × 100 = saturated). */
  machineBusyPct: number;
  preflight: { status: number; bodyBytes: number };
}

export interface FailureRecord {
  peer: string;
  round: number;
  error: string;
}

export interface PeerSummary {
  peer: string;
  description: string;
  rounds: number;
  /** Medians over rounds. */
  rps: number;
  p50Ms: number;
  /** Median over rounds of the run's p90, p99.9 (open loop: from intended send times). */
  p90Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
  cpuUsPerReq: number | null;
  originUsPerReq: number;
  loadgenUsPerReq: number | null;
  machineBusyPct: number;
  /** Totals over rounds. */
  requests: number;
  errors: number;
  non2xx: number;
  /** False when any round failed or saw errors / unexpected statuses: its figures are not comparable. */
  clean: boolean;
  mode: RunMode;
  /** Open loop only (else null): the offered rate, the p99 a closed-loop tool would have reported, the generator's send lag, never-sent requests (total). */
  openLoop: { offeredRate: number; uncorrectedP99Ms: number; sendLagP99Ms: number; unsent: number } | null;
  /** The Redis's CPU µs per request, when the bench ran one for the scenario. */
  sidecarUsPerReq: number | null;
  /** The background load's medians and totals, when the row had one. */
  background: { rps: number; requests: number; errors: number; non2xx: number } | null;
}

export interface Ratios {
  /** gateway req/s ÷ nginx req/s (1.0 = as fast; higher is better for the gateway). */
  rps: number;
  /** gateway CPU µs/req ÷ nginx CPU µs/req (1.0 = as cheap; lower is better for the gateway). */
  cpu: number | null;
  /** gateway p99 ÷ nginx p99. */
  p99: number | null;
  /** False when either side was not clean. */
  valid: boolean;
}

export function median(values: number[]): number {
  if (values.length === 0) return Number.NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

function medianOrNull(values: (number | null)[]): number | null {
  const v = values.filter((x): x is number => x !== null);
  return v.length === values.length && v.length > 0 ? median(v) : null;
}

export function summarize(peer: string, description: string, runs: RunRecord[], failures: FailureRecord[]): PeerSummary | null {
  const mine = runs.filter((r) => r.peer === peer);
  const failed = failures.some((f) => f.peer === peer);
  if (mine.length === 0) return null;
  const errors = mine.reduce((a, r) => a + r.load.errors, 0);
  const non2xx = mine.reduce((a, r) => a + r.load.non2xx, 0);
  const open = mine.map((r) => r.load.openLoop).filter((o) => o !== undefined);
  const bg = mine.map((r) => r.background).filter((b) => b !== undefined);
  const bgErrors = bg.reduce((a, b) => a + b.errors, 0);
  const bgNon2xx = bg.reduce((a, b) => a + b.non2xx, 0);
  return {
    peer,
    description,
    rounds: mine.length,
    rps: median(mine.map((r) => r.load.rps)),
    p50Ms: median(mine.map((r) => r.load.latencyMs.p50)),
    p90Ms: median(mine.map((r) => r.load.latencyMs.p90)),
    p99Ms: median(mine.map((r) => r.load.latencyMs.p99)),
    p999Ms: median(mine.map((r) => r.load.latencyMs.p999)),
    maxMs: Math.max(...mine.map((r) => r.load.latencyMs.max)),
    cpuUsPerReq: medianOrNull(mine.map((r) => r.perRequestUs.peer)),
    originUsPerReq: median(mine.map((r) => r.perRequestUs.origin)),
    loadgenUsPerReq: medianOrNull(mine.map((r) => r.perRequestUs.loadgen)),
    machineBusyPct: median(mine.map((r) => r.machineBusyPct)),
    requests: mine.reduce((a, r) => a + r.load.requests, 0),
    errors,
    non2xx,
    clean: !failed && errors === 0 && non2xx === 0 && bgErrors === 0 && bgNon2xx === 0,
    mode: mine[0]!.mode,
    openLoop:
      open.length === 0
        ? null
        : {
            offeredRate: median(open.map((o) => o.offeredRate)),
            uncorrectedP99Ms: median(open.map((o) => o.uncorrectedMs.p99)),
            sendLagP99Ms: median(open.map((o) => o.sendLagMs.p99)),
            unsent: open.reduce((a, o) => a + o.unsent, 0),
          },
    sidecarUsPerReq: medianOrNull(mine.map((r) => r.perRequestUs.sidecar ?? null)),
    background:
      bg.length === 0
        ? null
        : { rps: median(bg.map((b) => b.rps)), requests: bg.reduce((a, b) => a + b.requests, 0), errors: bgErrors, non2xx: bgNon2xx },
  };
}

export function ratios(gateway: PeerSummary | null, nginx: PeerSummary | null): Ratios | null {
  if (gateway === null || nginx === null || nginx.rps === 0) return null;
  return {
    rps: gateway.rps / nginx.rps,
    cpu: gateway.cpuUsPerReq !== null && nginx.cpuUsPerReq ? gateway.cpuUsPerReq / nginx.cpuUsPerReq : null,
    p99: nginx.p99Ms > 0 ? gateway.p99Ms / nginx.p99Ms : null,
    valid: gateway.clean && nginx.clean,
  };
}

// ---------------------------------------------------------------------------------------------
// Text table

export const fmtInt = (n: number): string => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '-');
export const fmtUs = (n: number | null): string => (n === null || !Number.isFinite(n) ? '-' : n.toFixed(1));
export function fmtMs(n: number, resolutionMs: number): string {
  if (!Number.isFinite(n)) return '-';
  return resolutionMs >= 1 ? String(Math.round(n)) : n < 10 ? n.toFixed(2) : n.toFixed(1);
}

function table(head: string[], rows: string[][], rightAlign: boolean[]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string =>
    cells.map((c, i) => (rightAlign[i] ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0))).join('  ').trimEnd();
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

export interface TextReportInput {
  summaries: PeerSummary[];
  ratio: Ratios | null;
  failures: FailureRecord[];
  latencyResolutionMs: number;
  cores: number;
  header: string[];
}

export function renderText(input: TextReportInput): string {
  const out: string[] = [...input.header, ''];
  const unit = input.latencyResolutionMs >= 1 ? 'ms, whole' : 'ms';
  const open = input.summaries.some((s) => s.openLoop !== null);
  const head = ['peer', 'req/s', `p50 (${unit})`, `p99 (${unit})`, `p99.9 (${unit})`];
  if (open) head.push('p99 uncorrected', 'send lag p99');
  head.push('CPU µs/req', 'origin µs/req', 'loadgen µs/req', 'machine busy', 'errors', 'non-2xx');
  out.push(
    table(
      head,
      input.summaries.map((s) => {
        const row = [
          s.clean ? s.peer : `${s.peer} (!)`,
          fmtInt(s.rps),
          fmtMs(s.p50Ms, input.latencyResolutionMs),
          fmtMs(s.p99Ms, input.latencyResolutionMs),
          fmtMs(s.p999Ms, input.latencyResolutionMs),
        ];
        if (open) row.push(s.openLoop ? fmtMs(s.openLoop.uncorrectedP99Ms, 0.001) : '-', s.openLoop ? fmtMs(s.openLoop.sendLagP99Ms, 0.001) : '-');
        row.push(
          fmtUs(s.cpuUsPerReq),
          fmtUs(s.originUsPerReq),
          fmtUs(s.loadgenUsPerReq),
          `${Math.round(s.machineBusyPct)}% of ${input.cores * 100}%`,
          fmtInt(s.errors),
          fmtInt(s.non2xx),
        );
        return row;
      }),
      head.map((_, i) => i > 0),
    ),
  );
  for (const s of input.summaries) {
    if (s.background !== null) {
      out.push(`${s.peer}: background load ${fmtInt(s.background.rps)} req/s, errors ${fmtInt(s.background.errors)}, non-2xx ${fmtInt(s.background.non2xx)}`);
    }
    if (s.openLoop !== null && s.openLoop.unsent > 0) {
      out.push(`WARNING: ${s.peer}: ${fmtInt(s.openLoop.unsent)} scheduled requests were never sent (every connection busy): the rate is above this peer's knee.`);
    }
  }
  if (input.summaries.some((s) => s.rounds > 1)) out.push('(medians over rounds; errors and non-2xx are totals)');
  if (input.ratio !== null) {
    const r = input.ratio;
    out.push('');
    out.push(
      `gateway/nginx  req/s: ${r.rps.toFixed(2)}x (higher is better)   CPU µs/req: ${r.cpu === null ? '-' : `${r.cpu.toFixed(2)}x`} (lower is better)` +
        (r.p99 === null ? '' : `   p99: ${r.p99.toFixed(2)}x`),
    );
    if (!r.valid) out.push('WARNING: a peer had errors, unexpected statuses or a failed round: this ratio does not compare like with like.');
  }
  for (const s of input.summaries) {
    if (s.non2xx > 0) {
      out.push(
        `WARNING: ${s.peer} answered ${fmtInt(s.non2xx)} of ${fmtInt(s.requests)} requests with an unexpected status: ` +
          'a proxy that fails fast is not fast; its figures are not comparable.',
      );
    }
    if (s.errors > 0) out.push(`WARNING: ${s.peer} had ${fmtInt(s.errors)} socket errors/timeouts.`);
  }
  for (const f of input.failures) out.push(`FAILED: ${f.peer} (round ${f.round}): ${f.error}`);
  return out.join('\n');
}

// ---------------------------------------------------------------------------------------------
// JSON file

export interface MachineInfo {
  node: string;
  platform: string;
  arch: string;
  kernel: string;
  cpuModel: string;
  cores: number;
  availableParallelism: number;
  totalMemMiB: number;
  loadavgAtStart: number[];
}

export function machineInfo(): MachineInfo {
  const c = cpus();
  return {
    node: process.version,
    platform: platform(),
    arch: arch(),
    kernel: release(),
    cpuModel: c[0]?.model.trim() ?? 'unknown',
    cores: c.length,
    availableParallelism: availableParallelism(),
    totalMemMiB: Math.round(totalmem() / 2 ** 20),
    loadavgAtStart: loadavg().map((x) => Math.round(x * 100) / 100),
  };
}

/** HEAD's commit, read-only; null outside a repository or before the first commit. */
export function gitCommit(root: string): string | null {
  const r = spawnSync('git', ['rev-parse', '--verify', '--quiet', 'HEAD'], { cwd: root, encoding: 'utf8', timeout: 5000 });
  const out = (r.stdout ?? '').trim();
  return r.status === 0 && /^[0-9a-f]{40}$/.test(out) ? out : null;
}
