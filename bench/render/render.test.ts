import { describe, expect, it } from 'vitest';
import type { LoadResult } from '../load/types.js';
import type { PeerSummary, RunRecord } from '../report.js';
import type { BenchResults, ScenarioResult, ScenarioSettings } from '../results.js';
import { chartRows, chartSpec, peerColours, renderChartSvg } from './chart.js';
import { formatBytes, renderMarkdown } from './markdown.js';

function summary(peer: string, over: Partial<PeerSummary> = {}): PeerSummary {
  return {
    peer,
    description: `${peer} description`,
    rounds: 1,
    rps: 30_000,
    p50Ms: 1.5,
    p90Ms: 3,
    p99Ms: 9.5,
    p999Ms: 21,
    maxMs: 40,
    cpuUsPerReq: 36.3,
    originUsPerReq: 11.5,
    loadgenUsPerReq: 12,
    machineBusyPct: 190,
    requests: 150_000,
    errors: 0,
    non2xx: 0,
    clean: true,
    mode: 'throughput',
    openLoop: null,
    sidecarUsPerReq: null,
    background: null,
    ...over,
  };
}

function settings(over: Partial<ScenarioSettings> = {}): ScenarioSettings {
  return {
    mode: 'throughput',
    tool: 'wrk',
    toolVersion: '4.1.0',
    loadGenerator: 'wrk 4.1.0',
    threads: 1,
    connections: 64,
    keepAlive: true,
    pipelining: 1,
    durationSec: 5,
    warmupSec: 2,
    rounds: 1,
    workers: 2,
    cores: 2,
    cpuAffinity: null,
    request: { method: 'GET', path: '/', headers: {} },
    requestBodyBytes: 0,
    distinctRequests: 1,
    responseBodyBytes: 128,
    rate: null,
    rateSource: null,
    background: null,
    redis: null,
    ...over,
  };
}

const LOAD: LoadResult = {
  tool: 'wrk',
  durationSec: 5,
  requests: 150_000,
  rps: 30_000,
  latencyMs: { p50: 1.5, p90: 3, p99: 9.5, p999: 21, max: 40, mean: 2 },
  latencyResolutionMs: 0.001,
  non2xx: 0,
  errors: 0,
  timeouts: 0,
  statusCodes: null,
  loadgenCpuUs: 1,
};
const run = (peer: string): RunRecord => ({
  peer,
  round: 1,
  order: 1,
  mode: 'throughput',
  load: LOAD,
  cpuUs: { peer: 1, origin: 1, loadgen: 1 },
  perRequestUs: { peer: 1, origin: 1, loadgen: 1 },
  machineBusyPct: 190,
  preflight: { status: 200, bodyBytes: 128 },
});

function scenario(name: string, over: Partial<ScenarioResult> = {}): ScenarioResult {
  return {
    scenario: name,
    description: `${name} description`,
    settings: settings(),
    peers: [],
    skipped: [],
    skippedReason: null,
    summary: [],
    ratio: null,
    baseline: null,
    vsBaselineScenario: null,
    runs: [],
    failures: [],
    ...over,
  };
}

/** A fixed invocation: plain and key-auth-rate-limiting in throughput mode, one open-loop contention scenario, one skipped. */
function fixture(): BenchResults {
  const plain = scenario('plain', {
    summary: [summary('gateway', { rps: 28_744, cpuUsPerReq: 36.3 }), summary('nginx', { rps: 52_456, p99Ms: 3.39, p999Ms: 5.64, cpuUsPerReq: 16.8 }), summary('origin (direct)', { rps: 64_208, cpuUsPerReq: null })],
    ratio: { rps: 28_744 / 52_456, cpu: 36.3 / 16.8, p99: 9.5 / 3.39, valid: true },
    runs: [run('gateway'), run('nginx'), run('origin (direct)')],
  });
  const karl = scenario('key-auth-rate-limiting', {
    settings: settings({ request: { method: 'GET', path: '/', headers: { apikey: 'k' } } }),
    summary: [summary('gateway', { rps: 26_000, cpuUsPerReq: 40.1, non2xx: 12, clean: false }), summary('nginx', { rps: 50_000, cpuUsPerReq: 17.2 })],
    ratio: { rps: 0.52, cpu: 2.33, p99: 2.8, valid: false },
    vsBaselineScenario: { scenario: 'plain', ratio: { rps: 0.905, cpu: 1.105, p99: 1, valid: false } },
    runs: [run('gateway'), run('nginx')],
  });
  const contention = scenario('small-get-under-json-64k', {
    settings: settings({
      mode: 'latency',
      loadGenerator: 'open loop (bench/load/open-loop.ts)',
      rate: 1000,
      rateSource: "the scenario's fixed rate",
      request: { method: 'GET', path: '/small', headers: {} },
      background: { label: '64 KB validated POSTs', connections: 8, requestBodyBytes: 65_536, tool: 'wrk' },
    }),
    summary: [
      summary('gateway, alone', { mode: 'latency', rps: 1000, p50Ms: 0.4, p99Ms: 1.2, p999Ms: 3.1, openLoop: { offeredRate: 1000, uncorrectedP99Ms: 1.1, sendLagP99Ms: 0.2, unsent: 0 } }),
      summary('gateway + 64 KB validated POSTs', {
        mode: 'latency',
        rps: 1000,
        p50Ms: 2.2,
        p99Ms: 14.7,
        p999Ms: 30.2,
        openLoop: { offeredRate: 1000, uncorrectedP99Ms: 9.9, sendLagP99Ms: 0.3, unsent: 0 },
        background: { rps: 3100, requests: 21_700, errors: 0, non2xx: 0 },
      }),
    ],
    runs: [{ ...run('gateway, alone'), mode: 'latency' }],
  });
  const redis = scenario('rate-limiting-redis', { skippedReason: 'redis-server is not installed' });
  return {
    schema: 'portcullis-bench/2',
    startedAt: '2026-11-23T14:52:23.000Z',
    finishedAt: '2026-11-23T14:59:00.000Z',
    argv: ['--scenario', 'all', '--rounds', '1'],
    gitCommit: 'c0b9c684e8aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa',
    machine: { node: 'v20.20.2', platform: 'linux', arch: 'x64', kernel: '6.18', cpuModel: 'AMD EPYC', cores: 2, availableParallelism: 2, totalMemMiB: 24_000, loadavgAtStart: [0.5] },
    origin: { kind: 'nginx', workers: 1, description: 'nginx 1.22.1 `return 200`, 1 worker(s)' },
    nginx: { version: '1.22.1', bin: '/usr/sbin/nginx' },
    settings: { mode: 'throughput', tool: 'wrk', toolVersion: '4.1.0', connections: 64, workers: 2, durationSec: 5, warmupSec: 2, rounds: 1, cpuAffinity: '0,1' },
    scenarios: [plain, karl, contention, redis],
  };
}

describe('renderMarkdown', () => {
  const md = renderMarkdown(fixture());

  it('has a row per scenario and peer with the figures, the ratios and the flags', () => {
    expect(md).toContain('| scenario | peer | mode | req/s | p50 ms | p99 ms | p99.9 ms | p99 uncorrected ms | CPU µs/req | origin µs/req | vs nginx | vs own baseline | errors | non-2xx |');
    expect(md).toContain('| plain | gateway | closed loop | 28,744 | 1.50 | 9.50 | 21.0 |  | 36.3 | 11.5 | 0.55x · CPU 2.16x |  | 0 | 0 |');
    expect(md).toContain('| plain | nginx | closed loop | 52,456 | 1.50 | 3.39 | 5.64 |  | 16.8 | 11.5 |  |  | 0 | 0 |');
    expect(md).toContain('| plain | origin (direct) | closed loop | 64,208 |');
    // A row with unexpected statuses is flagged, and so are its ratios.
    expect(md).toContain('| key-auth-rate-limiting | gateway (!) | closed loop | 26,000 |');
    expect(md).toContain('0.52x · CPU 2.33x (!) | 0.91x · CPU 1.10x (!) of plain | 0 | 12 |');
    // Open loop: the rate, both percentile views.
    expect(md).toContain('| small-get-under-json-64k | gateway + 64 KB validated POSTs | open loop @ 1,000/s | 1,000 | 2.20 | 14.7 | 30.2 | 9.90 |');
    expect(md).toContain('| rate-limiting-redis | skipped: redis-server is not installed | throughput |');
  });

  it('states the conditions of every scenario: load, connections, keep-alive, payloads, workers, cores, duration, rounds', () => {
    expect(md).toContain(
      '| scenario | mode | load generator | rate | connections | keep-alive | request | distinct requests | response body | workers | cores | warm-up + measured | rounds |',
    );
    expect(md).toContain('| plain | throughput | wrk 4.1.0 -t1 | - | 64 | yes, pipelining 1 | GET /, 0 B body | 1 | 128 B | 2 | 2 | 2 + 5 s | 1 |');
    expect(md).toContain(
      "| small-get-under-json-64k | latency | open loop (bench/load/open-loop.ts) | 1,000 req/s (the scenario's fixed rate) | 64 + 8 background | yes, pipelining 1 | GET /small, 0 B body; background 64 KB validated POSTs (64 KiB) |",
    );
    expect(md).toContain('**Machine:** AMD EPYC, 2 cores, Linux 6.18, node v20.20.2 · **commit** `c0b9c684e8`');
  });

  it('notes the background load and warnings', () => {
    expect(md).toContain('- small-get-under-json-64k · gateway + 64 KB validated POSTs: background load 3,100 req/s, errors 0, non-2xx 0');
    expect(md).toContain('- key-auth-rate-limiting · gateway: WARNING 12 of 150,000 responses had an unexpected status');
  });

  it('leaves the open-loop column out when nothing ran open loop', () => {
    const b = fixture();
    b.scenarios = b.scenarios.slice(0, 1);
    expect(renderMarkdown(b)).not.toContain('uncorrected');
  });

  it('formats sizes', () => {
    expect(formatBytes(65_536)).toBe('64 KiB');
    expect(formatBytes(1_048_576)).toBe('1 MiB');
    expect(formatBytes(128)).toBe('128 B');
    expect(formatBytes(1500)).toBe('1,500 B');
  });
});

describe('the SVG chart', () => {
  it('gives every peer its own colour, the usual ones always the same', () => {
    expect(peerColours(['gateway', 'nginx', 'origin (direct)'])).toEqual(['#2f6db5', '#3a9a48', '#9d9d9d']);
    const c = peerColours(['gateway, alone', 'gateway + 1 MB validated POSTs', 'gateway + 64 KB validated POSTs', 'gateway (plain)', 'other']);
    expect(new Set(c).size).toBe(5);
  });

  it('has one data row per scenario and peer that ran, open-loop scenarios labelled when modes are mixed', () => {
    const rows = chartRows(fixture());
    expect(rows.map((r) => `${r.scenario}/${r.peer}`)).toEqual([
      'plain/gateway',
      'plain/nginx',
      'plain/origin (direct)',
      'key-auth-rate-limiting/gateway',
      'key-auth-rate-limiting/nginx',
      'small-get-under-json-64k (open loop)/gateway, alone',
      'small-get-under-json-64k (open loop)/gateway + 64 KB validated POSTs',
    ]);
    expect(rows[2]!.cpu).toBeNull();
    expect(rows[3]!.flag).toBe(' (!)');
  });

  it('draws throughput bars, latency percentiles and CPU bars, with labelled axes, a legend and a title saying where it ran', async () => {
    const svg = await renderChartSvg(fixture());
    expect(svg.startsWith('<svg')).toBe(true);
    const texts = [...svg.matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]!);
    // Title and subtitle: machine, cores, workers, affinity, commit.
    expect(texts).toContain('Portcullis bench: throughput (closed loop) and latency (open loop)');
    expect(svg).toMatch(/AMD EPYC, 2 cores, node v20\.20\.2 · 2 workers \(gateway threads = nginx processes\) · CPU affinity 0,1/);
    expect(svg).toContain('commit c0b9c684e8');
    // Panels and axes, with units.
    for (const t of ['Throughput (higher is better)', 'requests per second', 'Latency p50 · p99 · p99.9 (lower is better)', 'milliseconds (log scale)', 'CPU µs per request']) {
      expect(texts).toContain(t);
    }
    // Every scenario on the x axis, every peer in the legend, every percentile in the shape legend.
    for (const t of ['plain', 'key-auth-rate-limiting', 'small-get-under-json-64k (open loop)']) expect(texts).toContain(t);
    for (const t of ['gateway', 'nginx', 'origin (direct)', 'gateway, alone', 'gateway + 64 KB validated POSTs', 'p50', 'p99', 'p99.9']) expect(texts).toContain(t);
    // The series: 7 throughput bars + 6 CPU bars (the direct origin has no CPU figure), 7 × 3 percentile points.
    expect(svg.match(/aria-roledescription="bar"/g)?.length).toBe(13);
    expect(svg.match(/aria-roledescription="point"/g)?.length).toBe(21);
    // Bar labels: req/s in SI units, CPU µs; the p99 after each latency line.
    for (const t of ['28.7k', '52.5k', '64.2k', '36.3', '16.8', 'p99 14.7 ms', 'p99 3.39 ms', 'p99 1.2 ms']) expect(texts).toContain(t);
    // The skipped scenario draws nothing.
    expect(texts).not.toContain('rate-limiting-redis');
  });

  it('gives each peer one colour in every panel', () => {
    const spec = chartSpec(fixture()) as unknown as { hconcat: { encoding: { color: { scale: { domain: string[]; range: string[] } } } }[] };
    const scales = spec.hconcat.map((p) => p.encoding.color.scale);
    for (const s of scales) expect(s).toEqual(scales[0]);
    expect(scales[0]!.domain.slice(0, 2)).toEqual(['gateway', 'nginx']);
    expect(new Set(scales[0]!.range).size).toBe(scales[0]!.range.length);
  });
});
