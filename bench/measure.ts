/**
 * One measured run: start a peer, check the scenario's request(s) answer as expected, warm up,
 * sample CPU, load (closed loop in throughput mode, open loop at a fixed rate in latency mode,
 * with the scenario's background load beside it when the peer runs one), sample CPU, stop.
 */
import { machineBusyPercent, sampleWindow, treeCpuUs, type CpuWindow } from './cpu.js';
import { runBackground } from './load/background.js';
import { runOpenLoop } from './load/open-loop.js';
import type { LoadOptions, LoadResult, LoadTool } from './load/types.js';
import { describeProbe, probe, sleep } from './lib/net.js';
import type { BenchOptions } from './options.js';
import type { Peer, PeerContext } from './peers/types.js';
import type { Progress } from './progress.js';
import { machineInfo, type RunMode, type RunRecord } from './report.js';
import { scenarioRequests, type BenchRequest } from './scenarios/types.js';

/** The open-loop rate of a scenario: given, or measured in the first warm-up (`calibratedOn` says on which peer). */
export interface RateState {
  rate: number | null;
  source: string | null;
}

/** Calibration runs at least this long, even with --warmup 0. */
const MIN_CALIBRATION_SEC = 3;

/** The open-loop rate from a measured maximum: `fraction` of it, rounded to 2 significant digits, at least 1. */
export function rateFromMaximum(maxRps: number, fraction: number): number {
  const raw = maxRps * fraction;
  if (!(raw >= 1)) return 1;
  const step = 10 ** Math.max(0, Math.floor(Math.log10(raw)) - 1);
  return Math.max(1, Math.round(raw / step) * step);
}

/** Requests to probe before a load: the first, middle and last of a spread (a route or key that did not load shows up here). */
function preflightRequests(all: BenchRequest[]): BenchRequest[] {
  if (all.length <= 3) return all;
  return [all[0]!, all[Math.floor(all.length / 2)]!, all[all.length - 1]!];
}

export interface MeasureArgs {
  peer: Peer;
  ctx: PeerContext;
  tool: LoadTool;
  opts: BenchOptions;
  mode: RunMode;
  rate: RateState;
  round: number;
  order: number;
  progress: Progress;
  /** The Redis the bench runs for this scenario, for CPU accounting. */
  sidecarPid: number | null;
  /** Planned start-up seconds of this peer (progress accounting). */
  startupSec: number;
}

export async function measure(a: MeasureArgs): Promise<RunRecord> {
  const { peer, tool, opts, mode, progress } = a;
  const ctx: PeerContext = peer.scenario !== undefined ? { ...a.ctx, scenario: peer.scenario } : a.ctx;
  const log = (msg: string): void => progress.log(`bench:   ${peer.name}: ${msg}`);
  progress.startPhase('starting', a.startupSec);
  const running = await peer.start(ctx);
  try {
    const scenario = ctx.scenario;
    const expect = scenario.expectStatus ?? 200;
    const requests = scenarioRequests(scenario);
    let preflight = { status: 0, bodyBytes: 0 };
    for (const req of preflightRequests(requests)) {
      const r = await probe(running.port, req, 5000);
      if (!r.ok || r.status !== expect) {
        throw new Error(`preflight: ${req.method} ${req.path} got ${describeProbe(r)}; expected HTTP ${expect}`);
      }
      if (preflight.status === 0) preflight = { status: r.status, bodyBytes: r.bodyBytes };
    }
    const bgSpec = peer.background === true ? (scenario.background ?? null) : null;
    if (bgSpec !== null) {
      const bgExpect = bgSpec.expectStatus ?? 200;
      const r = await probe(running.port, bgSpec.request, 10_000);
      if (!r.ok || r.status !== bgExpect) {
        throw new Error(`preflight of the background load: ${bgSpec.request.method} ${bgSpec.request.path} got ${describeProbe(r)}; expected HTTP ${bgExpect}`);
      }
    }

    const load: LoadOptions = {
      port: running.port,
      request: scenario.request,
      ...(requests.length > 1 ? { requests } : {}),
      connections: opts.connections,
      threads: opts.threads,
      timeoutSec: opts.timeoutSec,
      expectStatus: expect,
      durationSec: opts.durationSec,
    };
    const openLoop = (durationSec: number): Promise<LoadResult> => runOpenLoop({ ...load, durationSec, rate: a.rate.rate as number });

    // The background load covers warm-up and measurement in one piece.
    let background: Promise<LoadResult> | null = null;
    if (bgSpec !== null) {
      background = runBackground(tool, {
        port: running.port,
        request: bgSpec.request,
        connections: bgSpec.connections,
        threads: 1,
        timeoutSec: opts.timeoutSec,
        expectStatus: bgSpec.expectStatus ?? 200,
        durationSec: opts.warmupSec + opts.durationSec + 3,
      });
      background.catch(() => {}); // awaited below; do not let an early failure go unhandled
      await sleep(1000); // let it reach full speed before anything is measured
    }

    if (mode === 'latency' && a.rate.rate === null) {
      const sec = Math.max(opts.warmupSec, MIN_CALIBRATION_SEC);
      progress.startPhase('calibrating (closed loop)', sec);
      log(`calibrating: closed loop ${sec} s to find the maximum`);
      const max = await tool.run({ ...load, durationSec: sec });
      a.rate.rate = rateFromMaximum(max.rps, opts.rateFraction);
      a.rate.source = `${opts.rateFraction} × ${Math.round(max.rps)} req/s, ${peer.name}'s closed-loop maximum (${tool.name}, ${opts.connections} connections, ${sec} s)`;
      log(`open-loop rate ${a.rate.rate} req/s = ${a.rate.source}`);
    } else if (opts.warmupSec > 0) {
      progress.startPhase('warm-up', opts.warmupSec);
      if (mode === 'throughput') await tool.run({ ...load, durationSec: opts.warmupSec });
      else await openLoop(opts.warmupSec);
    }
    const diedInWarmup = running.died();
    if (diedInWarmup !== null) throw new Error(`died during warm-up: ${diedInWarmup}`);

    progress.startPhase(mode === 'throughput' ? 'measuring' : `measuring at ${a.rate.rate} req/s`, opts.durationSec);
    const before: CpuWindow = sampleWindow(running.pid, ctx.upstream.pid, a.sidecarPid);
    const result = mode === 'throughput' ? await tool.run(load) : await openLoop(opts.durationSec);
    const after: CpuWindow = sampleWindow(running.pid, ctx.upstream.pid, a.sidecarPid);
    progress.endPhase();
    const bgResult = background === null ? undefined : await background;
    const died = running.died();
    if (died !== null) throw new Error(`died during the measurement: ${died}`);

    // With a background load, the peer's CPU served both loads: divide by both (the background's
    // share of the window estimated from its average rate).
    const n = result.requests + (bgResult === undefined ? 0 : bgResult.rps * result.durationSec);
    const peerUs = before.peer !== null && after.peer !== null ? treeCpuUs(before.peer, after.peer) : null;
    const originUs = treeCpuUs(before.origin, after.origin);
    const sidecarUs = before.sidecar !== null && after.sidecar !== null ? treeCpuUs(before.sidecar, after.sidecar) : null;
    const per = (us: number | null): number | null => (us === null || n === 0 ? null : us / n);
    const record: RunRecord = {
      peer: peer.name,
      round: a.round,
      order: a.order,
      mode,
      load: result,
      ...(bgResult !== undefined ? { background: bgResult } : {}),
      cpuUs: { peer: peerUs, origin: originUs, loadgen: result.loadgenCpuUs, sidecar: sidecarUs },
      perRequestUs: { peer: per(peerUs), origin: n === 0 ? Number.NaN : originUs / n, loadgen: per(result.loadgenCpuUs), sidecar: per(sidecarUs) },
      machineBusyPct: machineBusyPercent(before.machine, after.machine, machineInfo().cores),
      preflight,
    };
    log(
      `${Math.round(result.rps).toLocaleString('en-US')} req/s, p99 ${result.latencyMs.p99.toFixed(2)} ms, ` +
        `CPU ${record.perRequestUs.peer?.toFixed(1) ?? '-'} µs/req, non-2xx ${result.non2xx}, errors ${result.errors}` +
        (bgResult !== undefined ? `; background ${Math.round(bgResult.rps)} req/s, non-2xx ${bgResult.non2xx}, errors ${bgResult.errors}` : ''),
    );
    return record;
  } finally {
    progress.startPhase('stopping', 1);
    await running.stop();
    progress.endPhase();
  }
}
