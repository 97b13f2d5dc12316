/**
 * results.md: one table with a row per scenario and peer (the figures), one with a row per
 * scenario (the conditions: mode, load generator, rate, connections, keep-alive, payload sizes,
 * workers, cores, duration, rounds), then the warnings. Pure: a BenchResults in, text out.
 */
import { fmtInt, fmtMs, fmtUs, type PeerSummary, type Ratios } from '../report.js';
import type { BenchResults, ScenarioResult } from '../results.js';

/** `|` would end a table cell. */
const cell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

function row(cells: string[]): string {
  return `| ${cells.map(cell).join(' | ')} |`;
}

function tableMd(head: string[], align: ('l' | 'r')[], rows: string[][]): string {
  return [row(head), `|${align.map((a) => (a === 'r' ? '---:' : '---')).join('|')}|`, ...rows.map(row)].join('\n');
}

export function formatBytes(n: number): string {
  if (n >= 1024 * 1024 && n % (1024 * 1024) === 0) return `${n / (1024 * 1024)} MiB`;
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024} KiB`;
  return `${n.toLocaleString('en-US')} B`;
}

const x = (n: number | null): string => (n === null || !Number.isFinite(n) ? '-' : `${n.toFixed(2)}x`);

function ratioCell(r: Ratios | null, mode: string): string {
  if (r === null) return '';
  // In latency mode every peer runs at the same rate: the req/s ratio says nothing, the p99 one does.
  const text = mode === 'latency' ? `p99 ${x(r.p99)} · CPU ${x(r.cpu)}` : `${x(r.rps)} · CPU ${x(r.cpu)}`;
  return r.valid ? text : `${text} (!)`;
}

function latencyOf(s: PeerSummary, resolutionMs: number): [string, string, string] {
  return [fmtMs(s.p50Ms, resolutionMs), fmtMs(s.p99Ms, resolutionMs), fmtMs(s.p999Ms, resolutionMs)];
}

function resolutionOf(r: ScenarioResult): number {
  return r.runs[0]?.load.latencyResolutionMs ?? (r.settings.mode === 'latency' || r.settings.tool === 'wrk' ? 0.001 : 1);
}

export function shortCommit(c: string | null): string {
  return c === null ? 'no commit' : c.slice(0, 10);
}

export function renderMarkdown(b: BenchResults): string {
  const out: string[] = [];
  const when = b.startedAt.replace('T', ' ').replace(/\.\d+Z$/, ' UTC').replace(/Z$/, ' UTC');
  out.push(`# Portcullis bench, ${when}`, '');
  const m = b.machine;
  out.push(
    `**Machine:** ${m.cpuModel}, ${m.cores} cores, Linux ${m.kernel}, node ${m.node} · **commit** \`${shortCommit(b.gitCommit)}\`  `,
    `**Origin:** ${b.origin.description}${b.nginx !== null ? ` · **nginx** ${b.nginx.version}` : ''}  `,
    `**Command:** \`npm run bench -- ${b.argv.join(' ')}\``,
    '',
  );

  const anyOpen = b.scenarios.some((r) => r.summary.some((s) => s.openLoop !== null));
  const head = ['scenario', 'peer', 'mode', 'req/s', 'p50 ms', 'p99 ms', 'p99.9 ms'];
  const align: ('l' | 'r')[] = ['l', 'l', 'l', 'r', 'r', 'r', 'r'];
  if (anyOpen) {
    head.push('p99 uncorrected ms');
    align.push('r');
  }
  head.push('CPU µs/req', 'origin µs/req', 'vs nginx', 'vs own baseline', 'errors', 'non-2xx');
  align.push('r', 'r', 'l', 'l', 'r', 'r');
  const rows: string[][] = [];
  for (const r of b.scenarios) {
    if (r.skippedReason !== null) {
      rows.push([r.scenario, `skipped: ${r.skippedReason}`, r.settings.mode, ...Array<string>(head.length - 3).fill('')]);
      continue;
    }
    const res = resolutionOf(r);
    for (const s of r.summary) {
      const isGateway = s.peer === 'gateway';
      const cells = [r.scenario, s.clean ? s.peer : `${s.peer} (!)`, s.mode === 'latency' ? `open loop @ ${fmtInt(s.openLoop?.offeredRate ?? Number.NaN)}/s` : 'closed loop', fmtInt(s.rps), ...latencyOf(s, res)];
      if (anyOpen) cells.push(s.openLoop === null ? '' : fmtMs(s.openLoop.uncorrectedP99Ms, 0.001));
      const own = isGateway && r.vsBaselineScenario !== null ? `${ratioCell(r.vsBaselineScenario.ratio, r.settings.mode)} of ${r.vsBaselineScenario.scenario}` : '';
      cells.push(fmtUs(s.cpuUsPerReq), fmtUs(s.originUsPerReq), isGateway ? ratioCell(r.ratio, r.settings.mode) : '', own, fmtInt(s.errors), fmtInt(s.non2xx));
      rows.push(cells);
    }
    for (const f of r.failures) {
      if (!r.summary.some((s) => s.peer === f.peer)) rows.push([r.scenario, `${f.peer} (FAILED)`, r.settings.mode, ...Array<string>(head.length - 3).fill('')]);
    }
  }
  out.push('## Results', '', tableMd(head, align, rows), '');
  out.push(
    '`vs nginx`: gateway req/s ÷ nginx req/s (higher is better; in open loop: p99 ÷ nginx p99, lower is better) · CPU: gateway CPU µs/req ÷ nginx\'s (lower is better). ' +
      '`vs own baseline`: the same against the gateway in the scenario named (e.g. key-auth-rate-limiting against plain). ' +
      (anyOpen ? 'Open-loop percentiles count from each request\'s intended send time; "uncorrected" counts from the actual send, as a closed-loop tool would. ' : '') +
      '(!) marks a row with errors, unexpected statuses or a failed round: its figures do not compare. How to read all of this: bench/README.md.',
    '',
  );

  const sHead = ['scenario', 'mode', 'load generator', 'rate', 'connections', 'keep-alive', 'request', 'distinct requests', 'response body', 'workers', 'cores', 'warm-up + measured', 'rounds'];
  const sRows = b.scenarios.map((r) => {
    const st = r.settings;
    return [
      r.scenario,
      st.mode,
      st.mode === 'throughput' && st.tool === 'wrk' ? `${st.loadGenerator} -t${st.threads}` : st.loadGenerator,
      st.rate === null ? '-' : `${fmtInt(st.rate)} req/s${st.rateSource !== null ? ` (${st.rateSource})` : ''}`,
      String(st.connections) + (st.background !== null ? ` + ${st.background.connections} background` : ''),
      `${st.keepAlive ? 'yes' : 'no'}, pipelining ${st.pipelining}`,
      `${st.request.method} ${st.request.path}, ${formatBytes(st.requestBodyBytes)} body` +
        (st.background !== null ? `; background ${st.background.label} (${formatBytes(st.background.requestBodyBytes)})` : ''),
      fmtInt(st.distinctRequests),
      formatBytes(st.responseBodyBytes),
      String(st.workers) + (st.cpuAffinity !== null ? ` (affinity ${st.cpuAffinity})` : ''),
      String(st.cores),
      `${st.warmupSec} + ${st.durationSec} s`,
      String(st.rounds),
    ];
  });
  out.push('## Conditions', '', tableMd(sHead, ['l', 'l', 'l', 'l', 'r', 'l', 'l', 'r', 'r', 'r', 'r', 'r', 'r'], sRows), '');

  const notes: string[] = [];
  for (const r of b.scenarios) {
    for (const p of r.peers) notes.push(`${r.scenario} · ${p.name}: ${p.description}`);
    for (const s of r.skipped) notes.push(`${r.scenario} · ${s.peer}: skipped (${s.reason})`);
    if (r.settings.redis !== null) notes.push(`${r.scenario}: ${r.settings.redis}; its CPU: ${r.summary.map((s) => `${s.peer} ${fmtUs(s.sidecarUsPerReq)} µs/req`).join(', ')}`);
    for (const s of r.summary) {
      if (s.background !== null) {
        notes.push(`${r.scenario} · ${s.peer}: background load ${fmtInt(s.background.rps)} req/s, errors ${fmtInt(s.background.errors)}, non-2xx ${fmtInt(s.background.non2xx)} (CPU µs/req counts both loads)`);
      }
      if (s.openLoop !== null && s.openLoop.unsent > 0) {
        notes.push(`${r.scenario} · ${s.peer}: WARNING ${fmtInt(s.openLoop.unsent)} scheduled requests were never sent: the rate is above this peer's knee`);
      }
      if (s.openLoop !== null) notes.push(`${r.scenario} · ${s.peer}: the generator's own send lag p99 ${fmtMs(s.openLoop.sendLagP99Ms, 0.001)} ms`);
      if (s.non2xx > 0) notes.push(`${r.scenario} · ${s.peer}: WARNING ${fmtInt(s.non2xx)} of ${fmtInt(s.requests)} responses had an unexpected status`);
      if (s.errors > 0) notes.push(`${r.scenario} · ${s.peer}: WARNING ${fmtInt(s.errors)} socket errors/timeouts`);
    }
    if (r.baseline !== null) notes.push(`${r.scenario}: gateway ÷ gateway with ${r.baseline.scenario}'s config on the same request: ${ratioCell(r.baseline.ratio, r.settings.mode) || '-'}`);
    for (const f of r.failures) notes.push(`${r.scenario} · ${f.peer} round ${f.round} FAILED: ${f.error.split('\n')[0]}`);
  }
  if (notes.length > 0) out.push('## Notes', '', ...notes.map((n) => `- ${n.replace(/\n/g, ' ')}`), '');
  return `${out.join('\n')}`;
}
