/**
 * One scenario of a bench invocation: choose its rows (gateway, the --baseline row, nginx, the
 * origin direct; or, for a scenario with a background load, the gateway without and with it),
 * provide what it needs (Redis), run rounds × rows with the peer order alternating, and summarize.
 */
import type { LoadTool } from './load/types.js';
import { sleep } from './lib/net.js';
import type { NginxInfo } from './lib/nginx.js';
import { wasInterrupted } from './lib/procs.js';
import { redisUnavailable, startBenchRedis, type BenchRedis } from './lib/redis.js';
import { measure, type RateState } from './measure.js';
import type { BenchOptions } from './options.js';
import { directPeer } from './peers/direct.js';
import { gatewayPeer } from './peers/gateway.js';
import { nginxPeer } from './peers/nginx.js';
import type { Peer, PeerContext } from './peers/types.js';
import type { Progress } from './progress.js';
import { machineInfo, ratios, summarize, type FailureRecord, type PeerSummary, type RunMode, type RunRecord } from './report.js';
import type { ScenarioResult, ScenarioSettings } from './results.js';
import { bodyBytes, scenarioRequests, type Scenario } from './scenarios/types.js';
import type { Upstream } from './upstream.js';

/** Pause between two runs: sockets in TIME_WAIT and the scheduler settle. */
const SETTLE_SEC = 1;

export interface SuiteContext {
  root: string;
  opts: BenchOptions;
  tool: LoadTool;
  nginx: NginxInfo | null;
  upstream: Upstream;
  /** The `--baseline` scenario, if any. */
  baseline: Scenario | null;
  progress: Progress;
}

export function scenarioMode(s: Scenario, opts: BenchOptions): RunMode {
  return s.background !== undefined ? 'latency' : opts.mode;
}

/** The rows of a scenario, before availability checks. */
export function candidatePeers(s: Scenario, opts: BenchOptions, baseline: Scenario | null, nginx: NginxInfo | null): Peer[] {
  const bin = opts.gatewayBin;
  if (s.background !== undefined) {
    // Same gateway config, same small request: without, then with the background load.
    return [
      gatewayPeer({ bin, name: 'gateway, alone', background: false }),
      gatewayPeer({ bin, name: `gateway + ${s.background.label}`, background: true }),
    ];
  }
  const peers: Peer[] = [gatewayPeer({ bin })];
  if (baseline !== null && baseline.name !== s.name) {
    // The baseline runs the other scenario's gateway config on THIS scenario's request(s) (same
    // headers, same body), so the ratio isolates what the policies cost, not the request.
    const sameRequest: Scenario = { ...baseline, request: s.request, expectStatus: s.expectStatus ?? 200 };
    if (s.spread !== undefined) sameRequest.spread = s.spread;
    else delete sameRequest.spread;
    peers.push(gatewayPeer({ bin, name: baselineRowName(baseline), scenario: sameRequest }));
  }
  if (opts.peer === 'nginx' || opts.peer === 'both') peers.push(nginxPeer(nginx));
  if (opts.peer === 'direct' || opts.peer === 'both' || opts.direct) peers.push(directPeer());
  return peers;
}

export function baselineRowName(baseline: Scenario): string {
  return `gateway (${baseline.name})`;
}

/** Planned seconds of one run of `peer` (progress bar). */
export function plannedRunSec(peer: Peer, s: Scenario, opts: BenchOptions): number {
  const startup = peer.name.startsWith('gateway') ? (s.readyTimeoutSec ?? 30) / 8 : 1;
  const calibration = scenarioMode(s, opts) === 'latency' && opts.rate === null && s.defaultRate === undefined ? Math.max(0, 3 - opts.warmupSec) : 0;
  return startup + opts.warmupSec + calibration + opts.durationSec + 1 + SETTLE_SEC;
}

function peerOrder(peers: Peer[], round: number): Peer[] {
  return round % 2 === 1 ? peers : [...peers].reverse();
}

export async function runScenario(s: Scenario, sc: SuiteContext, index: number, total: number): Promise<ScenarioResult> {
  const { opts, tool, progress } = sc;
  const mode = scenarioMode(s, opts);
  const cores = machineInfo().cores;
  const requests = scenarioRequests(s);
  const settings: ScenarioSettings = {
    mode,
    tool: tool.name,
    toolVersion: tool.version,
    loadGenerator: mode === 'throughput' ? `${tool.name} ${tool.version}` : 'open loop (bench/load/open-loop.ts)',
    threads: tool.name === 'wrk' && mode === 'throughput' ? opts.threads : 1,
    connections: opts.connections,
    keepAlive: true,
    pipelining: 1,
    durationSec: opts.durationSec,
    warmupSec: opts.warmupSec,
    rounds: opts.rounds,
    workers: opts.workers,
    cores,
    cpuAffinity: opts.cpuAffinity,
    request: { method: s.request.method, path: s.request.path, headers: s.request.headers ?? {} },
    requestBodyBytes: bodyBytes(s.request),
    distinctRequests: requests.length,
    responseBodyBytes: opts.payloadSize,
    rate: null,
    rateSource: null,
    background:
      s.background === undefined
        ? null
        : { label: s.background.label, connections: s.background.connections, requestBodyBytes: bodyBytes(s.background.request), tool: tool.name },
    redis: null,
  };
  const result: ScenarioResult = {
    scenario: s.name,
    description: s.description,
    settings,
    peers: [],
    skipped: [],
    skippedReason: null,
    summary: [],
    ratio: null,
    baseline: null,
    vsBaselineScenario: null,
    runs: [],
    failures: [],
  };
  const candidates = candidatePeers(s, opts, sc.baseline, sc.nginx);
  const plannedAll = opts.rounds * candidates.reduce((a, p) => a + plannedRunSec(p, s, opts), 0);
  const label = `${index}/${total} ${s.name}`;
  progress.setLabel(label);
  progress.log(`bench: scenario ${label} (${mode} mode): ${s.description}`);

  let redis: BenchRedis | null = null;
  if (s.needs?.includes('redis')) {
    const why = redisUnavailable();
    if (why !== null) {
      result.skippedReason = why;
      progress.log(`bench: skipping scenario ${s.name}: ${why}`);
      progress.skip(plannedAll);
      return result;
    }
  }
  try {
    if (s.needs?.includes('redis')) {
      redis = await startBenchRedis();
      settings.redis = redis.description;
      progress.log(`bench:   redis: ${redis.description}`);
    }
    const ctx: PeerContext = {
      root: sc.root,
      workers: opts.workers,
      upstream: sc.upstream,
      scenario: s,
      scenarioCtx: { upstreamUrl: sc.upstream.url, payloadSize: opts.payloadSize, redis: redis === null ? null : { host: redis.host, port: redis.port } },
      cpuAffinity: opts.cpuAffinity,
    };
    const peers: Peer[] = [];
    for (const p of candidates) {
      const why = p.unavailable(ctx);
      if (why === null) peers.push(p);
      else if (p.name.startsWith('gateway')) throw new Error(`cannot run the gateway: ${why}`);
      else {
        result.skipped.push({ peer: p.name, reason: why });
        progress.log(`bench:   skipping ${p.name}: ${why}`);
        progress.skip(opts.rounds * plannedRunSec(p, s, opts));
      }
    }
    result.peers = peers.map((p) => ({ name: p.name, description: p.describe(ctx) }));

    const rate: RateState = { rate: opts.rate ?? s.defaultRate ?? null, source: null };
    if (rate.rate !== null) rate.source = opts.rate !== null ? '--rate' : `the scenario's fixed rate`;

    for (let round = 1; round <= opts.rounds && !wasInterrupted(); round++) {
      let order = 0;
      for (const peer of peerOrder(peers, round)) {
        if (wasInterrupted()) break;
        order++;
        progress.setLabel(`${label} · ${peer.name}${opts.rounds > 1 ? ` · round ${round}/${opts.rounds}` : ''}`);
        const mark = progress.mark();
        const planned = plannedRunSec(peer, s, opts);
        try {
          result.runs.push(
            await measure({ peer, ctx, tool, opts, mode, rate, round, order, progress, sidecarPid: redis?.pid ?? null, startupSec: planned - opts.warmupSec - opts.durationSec - 1 - SETTLE_SEC }),
          );
        } catch (err) {
          const msg = (err as Error).message;
          result.failures.push({ peer: peer.name, round, error: msg });
          progress.log(`bench:   ${peer.name} failed: ${msg}`);
        }
        progress.startPhase('settling', SETTLE_SEC);
        await sleep(SETTLE_SEC * 1000);
        progress.catchUp(mark, planned);
      }
    }
    settings.rate = mode === 'latency' ? rate.rate : null;
    settings.rateSource = mode === 'latency' ? rate.source : null;

    const summaries: PeerSummary[] = [];
    for (const p of peers) {
      const sum = summarize(p.name, p.describe(ctx), result.runs, result.failures);
      if (sum !== null) summaries.push(sum);
    }
    result.summary = summaries;
    const find = (name: string): PeerSummary | null => summaries.find((x) => x.peer === name) ?? null;
    result.ratio = ratios(find('gateway'), find('nginx'));
    if (sc.baseline !== null && sc.baseline.name !== s.name && s.background === undefined) {
      result.baseline = { scenario: sc.baseline.name, ratio: ratios(find('gateway'), find(baselineRowName(sc.baseline))) };
    }
    return result;
  } finally {
    if (redis !== null) await redis.stop();
  }
}

/** Fill in each scenario's comparison with its own baseline scenario, when both ran. */
export function linkBaselineScenarios(results: ScenarioResult[], scenarios: Map<string, Scenario>): void {
  for (const r of results) {
    const baseName = scenarios.get(r.scenario)?.baseline;
    if (baseName === undefined) continue;
    const base = results.find((x) => x.scenario === baseName);
    if (base === undefined || base.settings.mode !== r.settings.mode) continue;
    const ratio = ratios(
      r.summary.find((x) => x.peer === 'gateway') ?? null,
      base.summary.find((x) => x.peer === 'gateway') ?? null,
    );
    if (ratio !== null) r.vsBaselineScenario = { scenario: baseName, ratio };
  }
}
