/**
 * chart.svg: three panels side by side over the same rows (one row per scenario, one bar per peer
 * within it, the same colour per peer in every panel), so a reader follows a row across and sees
 * everything about one scenario, with names that never need tilting:
 *
 *   1. throughput, req/s (bars, labelled)
 *   2. latency, p50 / p99 / p99.9 in ms on a log scale (a line from p50 to p99.9, a mark per
 *      percentile, the p99 written after the line)
 *   3. CPU µs per request of the peer's own processes (bars, labelled)
 *
 * The title says what ran where: machine, cores, workers, load, commit. Rendered headless with
 * vega-lite -> vega -> SVG (no canvas needed: text is measured with vega's estimates).
 */
import * as vega from 'vega';
import * as vl from 'vega-lite';
import type { BenchResults } from '../results.js';
import { shortCommit } from './markdown.js';

export interface ChartRow {
  scenario: string;
  peer: string;
  rps: number | null;
  p50: number | null;
  p99: number | null;
  p999: number | null;
  cpu: number | null;
  /** "(!)" when the row had errors: drawn hatched-free but labelled. */
  flag: string;
}

/** Fixed colours for the usual rows (gateway blue, nginx green, origin grey); others take the rest in order. */
const KNOWN_COLOURS: [RegExp, string][] = [
  [/^gateway$/, '#2f6db5'],
  [/^nginx$/, '#3a9a48'],
  [/^origin \(direct\)$/, '#9d9d9d'],
  [/^gateway, alone$/, '#6aa6e0'],
  [/^gateway \+ /, '#d9533b'],
  [/^gateway \(/, '#e39b2d'],
];
const SPARE_COLOURS = ['#8e5fb8', '#c2577f', '#3bb0a8', '#b5a33a', '#6b6b6b'];

export function peerColours(peers: string[]): string[] {
  let spare = 0;
  const taken = new Set<string>();
  return peers.map((p) => {
    // A known colour goes to the first peer that matches it; a second "gateway + ..." row gets a spare one.
    const known = KNOWN_COLOURS.find(([re]) => re.test(p))?.[1];
    if (known !== undefined && !taken.has(known)) {
      taken.add(known);
      return known;
    }
    return SPARE_COLOURS[spare++ % SPARE_COLOURS.length]!;
  });
}

const finite = (n: number | null | undefined): number | null => (n === null || n === undefined || !Number.isFinite(n) ? null : n);

/** Smallest latency drawn on the log axis; anything below (a whole-ms tool's "0") is drawn here. */
const MIN_MS = 0.01;

export function chartRows(b: BenchResults): ChartRow[] {
  const rows: ChartRow[] = [];
  // Scenario labels say "open loop" only when the chart mixes modes (the title says it otherwise).
  const mixed = new Set(b.scenarios.map((r) => r.settings.mode)).size > 1;
  for (const r of b.scenarios) {
    const scenario = mixed && r.settings.mode === 'latency' ? `${r.scenario} (open loop)` : r.scenario;
    for (const s of r.summary) {
      const ms = (v: number): number | null => {
        const f = finite(v);
        return f === null ? null : Math.max(MIN_MS, f);
      };
      rows.push({ scenario, peer: s.peer, rps: finite(s.rps), p50: ms(s.p50Ms), p99: ms(s.p99Ms), p999: ms(s.p999Ms), cpu: finite(s.cpuUsPerReq), flag: s.clean ? '' : ' (!)' });
    }
  }
  return rows;
}

export function chartTitle(b: BenchResults): { text: string; subtitle: string[] } {
  const st = b.settings as { tool?: string; toolVersion?: string; connections?: number; workers?: number; durationSec?: number; warmupSec?: number; rounds?: number; cpuAffinity?: string | null };
  const modes = new Set(b.scenarios.map((r) => r.settings.mode));
  const rates = [...new Set(b.scenarios.filter((r) => r.settings.mode === 'latency' && r.settings.rate !== null).map((r) => r.settings.rate as number))];
  const openLoop = `open loop at ${rates.length === 1 ? `${rates[0]!.toLocaleString('en-US')} req/s` : 'a fixed rate per scenario'}`;
  const closedLoop = `${st.tool ?? '?'} ${st.toolVersion ?? ''} closed loop`.replace('  ', ' ');
  const text =
    modes.size > 1 ? 'Portcullis bench: throughput (closed loop) and latency (open loop)' : modes.has('latency') ? 'Portcullis bench: latency at a fixed rate (open loop)' : 'Portcullis bench: maximum throughput (closed loop)';
  const load = [...(modes.has('throughput') ? [closedLoop] : []), ...(modes.has('latency') ? [openLoop] : [])].join(' + ');
  const rounds = st.rounds ?? 1;
  return {
    text,
    subtitle: [
      `${b.machine.cpuModel}, ${b.machine.cores} cores, node ${b.machine.node} · ${st.workers ?? '?'} workers (gateway threads = nginx processes)` +
        (st.cpuAffinity ? ` · CPU affinity ${st.cpuAffinity}` : ''),
      `${load}, ${st.connections ?? '?'} keep-alive connections, no pipelining · ${st.warmupSec ?? '?'} s warm-up + ${st.durationSec ?? '?'} s per peer · ${rounds} round${rounds > 1 ? 's, medians' : ''}`,
      `origin: ${b.origin.description} · commit ${shortCommit(b.gitCommit)} · ${b.startedAt.slice(0, 16).replace('T', ' ')} UTC`,
    ],
  };
}

export function chartSpec(b: BenchResults): vl.TopLevelSpec {
  const rows = chartRows(b);
  const scenarios = [...new Set(rows.map((r) => r.scenario))];
  const peers = [...new Set(rows.map((r) => r.peer))];
  const colour = {
    field: 'peer',
    type: 'nominal',
    scale: { domain: peers, range: peerColours(peers) },
    legend: { title: null, orient: 'top', direction: 'horizontal', labelFontSize: 12, labelLimit: 400, symbolType: 'square' },
  } as const;
  // One row per scenario, one bar per peer within it; every panel uses the same explicit domains,
  // so a scenario's bars line up across the three panels even where a panel has no value.
  const height = Math.max(120, scenarios.length * (peers.length * 15 + 12));
  const y = (labels: boolean) =>
    ({
      field: 'scenario',
      type: 'nominal',
      sort: scenarios,
      scale: { domain: scenarios, paddingInner: 0.25 },
      axis: labels ? { title: null, labelFontSize: 12, labelLimit: 400, labelPadding: 6 } : { title: null, labels: false, ticks: false, domain: false },
    }) as const;
  const yOffset = { field: 'peer', sort: peers, scale: { domain: peers } } as const;
  const tooltip = [
    { field: 'scenario' },
    { field: 'peer' },
    { field: 'rps', title: 'req/s', format: ',.0f' },
    { field: 'p50', title: 'p50 ms', format: '.3f' },
    { field: 'p99', title: 'p99 ms', format: '.3f' },
    { field: 'p999', title: 'p99.9 ms', format: '.3f' },
    { field: 'cpu', title: 'CPU µs/req', format: '.1f' },
  ];
  const valueLabel = (field: string, format: string) =>
    ({
      transform: [{ filter: `isValid(datum.${field})` }],
      mark: { type: 'text', align: 'left', baseline: 'middle', dx: 4, fontSize: 10 },
      encoding: { x: { field, type: 'quantitative' }, text: { field, type: 'quantitative', format } },
    }) as const;
  const panelTitle = (text: string) => ({ text, anchor: 'start', fontSize: 14 }) as const;
  const allLatency = rows.length > 0 && b.scenarios.every((r) => r.settings.mode === 'latency');

  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { ...chartTitle(b), anchor: 'start', fontSize: 18, subtitleFontSize: 12, subtitleColor: '#555', offset: 14 },
    background: 'white',
    padding: 16,
    config: { view: { stroke: null }, axis: { labelFontSize: 11, titleFontSize: 12, gridColor: '#e6e6e6' } },
    data: { values: rows as unknown as Record<string, unknown>[] },
    spacing: 36,
    resolve: { scale: { color: 'shared' } },
    hconcat: [
      {
        title: panelTitle(allLatency ? 'Throughput at the offered rate' : 'Throughput (higher is better)'),
        width: 300,
        height,
        encoding: { y: y(true), yOffset, color: colour, tooltip },
        layer: [
          {
            transform: [{ filter: 'isValid(datum.rps)' }],
            mark: { type: 'bar', cornerRadiusEnd: 2 },
            encoding: { x: { field: 'rps', type: 'quantitative', title: 'requests per second', axis: { format: '~s' }, scale: { zero: true, nice: true } } },
          },
          valueLabel('rps', '.3~s'),
        ],
      },
      {
        title: panelTitle('Latency p50 · p99 · p99.9 (lower is better)'),
        width: 300,
        height,
        encoding: { y: y(false), yOffset, color: colour },
        layer: [
          {
            transform: [{ filter: 'isValid(datum.p50) && isValid(datum.p999)' }],
            mark: { type: 'rule', strokeWidth: 2, opacity: 0.6 },
            encoding: { x: { field: 'p50', type: 'quantitative', scale: { type: 'log' }, title: 'milliseconds (log scale)' }, x2: { field: 'p999' }, tooltip },
          },
          {
            transform: [
              { fold: ['p50', 'p99', 'p999'], as: ['key', 'ms'] },
              { filter: 'isValid(datum.ms)' },
              { calculate: "datum.key === 'p999' ? 'p99.9' : datum.key", as: 'percentile' },
            ],
            mark: { type: 'point', filled: true, size: 60, opacity: 1 },
            encoding: {
              x: { field: 'ms', type: 'quantitative', scale: { type: 'log' } },
              shape: {
                field: 'percentile',
                type: 'nominal',
                sort: ['p50', 'p99', 'p99.9'],
                scale: { domain: ['p50', 'p99', 'p99.9'], range: ['circle', 'square', 'triangle-right'] },
                legend: { title: null, orient: 'top', direction: 'horizontal', labelFontSize: 12 },
              },
              tooltip: [{ field: 'scenario' }, { field: 'peer' }, { field: 'percentile' }, { field: 'ms', title: 'ms', format: '.3f' }],
            },
          },
          {
            // The p99 written after the line: the figure people quote.
            transform: [{ filter: 'isValid(datum.p999) && isValid(datum.p99)' }, { calculate: "'p99 ' + format(datum.p99, '.3~r') + ' ms'", as: 'p99Label' }],
            mark: { type: 'text', align: 'left', baseline: 'middle', dx: 8, fontSize: 10 },
            encoding: { x: { field: 'p999', type: 'quantitative', scale: { type: 'log' } }, text: { field: 'p99Label', type: 'nominal' } },
          },
        ],
      },
      {
        title: panelTitle("CPU per request, the peer's processes (lower is better)"),
        width: 260,
        height,
        encoding: { y: y(false), yOffset, color: colour, tooltip },
        layer: [
          {
            transform: [{ filter: 'isValid(datum.cpu)' }],
            mark: { type: 'bar', cornerRadiusEnd: 2 },
            encoding: { x: { field: 'cpu', type: 'quantitative', title: 'CPU µs per request', scale: { zero: true, nice: true } } },
          },
          valueLabel('cpu', '.1f'),
        ],
      },
    ],
  } as unknown as vl.TopLevelSpec;
}

export async function renderChartSvg(b: BenchResults): Promise<string> {
  const compiled = vl.compile(chartSpec(b)).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none', logLevel: vega.Warn });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
