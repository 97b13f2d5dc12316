/**
 * `npm run bench`: the gateway against nginx on the same origin, one after the other, same load.
 *
 *   origin (nginx `return 200` or node http)  <-  peer (gateway | nginx proxy_pass)  <-  load tool
 *
 * For each round and each peer: start the peer, check one request, warm up, sample CPU, load for
 * --duration seconds, sample CPU, stop the peer. With --rounds N > 1 the peer order alternates
 * and the report gives medians. See bench/README.md.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { machineBusyPercent, sampleWindow, treeCpuUs, type CpuWindow } from './cpu.js';
import { selectTool } from './load/index.js';
import type { LoadTool } from './load/types.js';
import { describeProbe, probe, sleep } from './lib/net.js';
import { findNginx, NGINX_INSTALL_HINT } from './lib/nginx.js';
import { installCleanup, setKeepTemp, wasInterrupted } from './lib/procs.js';
import { parseOptions, USAGE, type BenchOptions } from './options.js';
import { directPeer } from './peers/direct.js';
import { gatewayPeer } from './peers/gateway.js';
import { nginxPeer } from './peers/nginx.js';
import type { Peer, PeerContext } from './peers/types.js';
import {
  gitCommit,
  machineInfo,
  ratios,
  renderText,
  summarize,
  writeJson,
  type FailureRecord,
  type PeerSummary,
  type RunRecord,
} from './report.js';
import { loadScenarios } from './scenarios/index.js';
import type { Scenario } from './scenarios/types.js';
import { defaultOriginKind, startUpstream, type Upstream } from './upstream.js';

/** The repository root: the nearest ancestor of this file with Portcullis's package.json. */
export function findRepoRoot(from = dirname(fileURLToPath(import.meta.url))): string {
  let dir = from;
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'portcullis') return dir;
      } catch {
        /* keep looking */
      }
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no portcullis package.json above ${from}`);
    dir = parent;
  }
}

const log = (msg: string): void => {
  process.stderr.write(`bench: ${msg}\n`);
};

function peerOrder(peers: Peer[], round: number): Peer[] {
  return round % 2 === 1 ? peers : [...peers].reverse();
}

async function measure(peer: Peer, benchCtx: PeerContext, tool: LoadTool, opts: BenchOptions, round: number, order: number): Promise<RunRecord> {
  const ctx: PeerContext = peer.scenario !== undefined ? { ...benchCtx, scenario: peer.scenario } : benchCtx;
  const running = await peer.start(ctx);
  try {
    const req = ctx.scenario.request;
    const expect = ctx.scenario.expectStatus ?? 200;
    const first = await probe(running.port, req, 5000);
    if (!first.ok || first.status !== expect) {
      throw new Error(`preflight: ${req.method} ${req.path} got ${describeProbe(first)}; expected HTTP ${expect}`);
    }
    const load = { port: running.port, request: req, connections: opts.connections, threads: opts.threads, timeoutSec: opts.timeoutSec, expectStatus: expect };
    if (opts.warmupSec > 0) {
      log(`  ${peer.name}: warm-up ${opts.warmupSec} s`);
      await tool.run({ ...load, durationSec: opts.warmupSec });
    }
    const diedInWarmup = running.died();
    if (diedInWarmup !== null) throw new Error(`died during warm-up: ${diedInWarmup}`);
    log(`  ${peer.name}: measuring ${opts.durationSec} s`);
    const before: CpuWindow = sampleWindow(running.pid, ctx.upstream.pid);
    const result = await tool.run({ ...load, durationSec: opts.durationSec });
    const after: CpuWindow = sampleWindow(running.pid, ctx.upstream.pid);
    const died = running.died();
    if (died !== null) throw new Error(`died during the measurement: ${died}`);
    const n = result.requests;
    const peerUs = before.peer !== null && after.peer !== null ? treeCpuUs(before.peer, after.peer) : null;
    const originUs = treeCpuUs(before.origin, after.origin);
    const per = (us: number | null): number | null => (us === null || n === 0 ? null : us / n);
    const cores = machineInfo().cores;
    const record: RunRecord = {
      peer: peer.name,
      round,
      order,
      load: result,
      cpuUs: { peer: peerUs, origin: originUs, loadgen: result.loadgenCpuUs },
      perRequestUs: { peer: per(peerUs), origin: n === 0 ? Number.NaN : originUs / n, loadgen: per(result.loadgenCpuUs) },
      machineBusyPct: machineBusyPercent(before.machine, after.machine, cores),
      preflight: { status: first.status, bodyBytes: first.bodyBytes },
    };
    log(
      `  ${peer.name}: ${Math.round(result.rps).toLocaleString('en-US')} req/s, ` +
        `CPU ${record.perRequestUs.peer?.toFixed(1) ?? '-'} µs/req, non-2xx ${result.non2xx}, errors ${result.errors}`,
    );
    return record;
  } finally {
    await running.stop();
  }
}

async function main(): Promise<number> {
  let opts: BenchOptions;
  try {
    opts = parseOptions(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`bench: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (opts.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  installCleanup();
  setKeepTemp(opts.keepTemp);
  const startedAt = new Date();
  const root = findRepoRoot();

  const scenarios = await loadScenarios();
  const scenario = scenarios.get(opts.scenario);
  if (scenario === undefined) {
    process.stderr.write(`bench: unknown scenario '${opts.scenario}'; known: ${[...scenarios.keys()].join(', ')}\n`);
    return 2;
  }

  const { tool, note } = selectTool(opts.tool);
  if (note !== null) log(note);

  const nginx = findNginx();
  const originKind = opts.origin ?? defaultOriginKind(nginx);
  if (originKind === 'nginx' && nginx === null) {
    process.stderr.write(`bench: --origin nginx: nginx is not installed; ${NGINX_INSTALL_HINT}\n`);
    return 2;
  }
  if (originKind === 'node' && opts.origin === null) {
    log(`nginx is not installed: the origin is a Node http server, which costs more CPU per request (${NGINX_INSTALL_HINT})`);
  }

  let baseline: Scenario | null = null;
  if (opts.baseline !== null) {
    baseline = scenarios.get(opts.baseline) ?? null;
    if (baseline === null) {
      process.stderr.write(`bench: unknown --baseline scenario '${opts.baseline}'; known: ${[...scenarios.keys()].join(', ')}\n`);
      return 2;
    }
  }
  const baselineName = baseline === null ? '' : `gateway (${baseline.name})`;
  const candidates: Peer[] = [gatewayPeer({ bin: opts.gatewayBin })];
  // The baseline runs the other scenario's gateway config on THIS scenario's request (same
  // headers, same body), so the ratio isolates what the policies cost, not the request size.
  if (baseline !== null) {
    const sameRequest: Scenario = { ...baseline, request: scenario.request, expectStatus: scenario.expectStatus ?? 200 };
    candidates.push(gatewayPeer({ bin: opts.gatewayBin, name: baselineName, scenario: sameRequest }));
  }
  if (opts.peer === 'nginx') candidates.push(nginxPeer(nginx));
  if (opts.direct) candidates.push(directPeer());

  let upstream: Upstream | null = null;
  const runs: RunRecord[] = [];
  const failures: FailureRecord[] = [];
  const skipped: { peer: string; reason: string }[] = [];
  try {
    upstream = await startUpstream({ kind: originKind, workers: opts.originWorkers, payloadSize: opts.payloadSize, nginx });
    log(`origin: ${upstream.description} on ${upstream.url}`);
    const scenarioCtx = { upstreamUrl: upstream.url, payloadSize: opts.payloadSize };
    const ctx: PeerContext = { root, workers: opts.workers, upstream, scenario, scenarioCtx };

    const peers: Peer[] = [];
    for (const p of candidates) {
      const why = p.unavailable(ctx);
      if (why === null) peers.push(p);
      else if (p.name === 'gateway') throw new Error(`cannot run the gateway: ${why}`);
      else {
        skipped.push({ peer: p.name, reason: why });
        log(`skipping ${p.name}: ${why}`);
      }
    }

    log(
      `scenario ${scenario.name}, tool ${tool.name} ${tool.version}, ${opts.connections} connections, ` +
        `${opts.warmupSec}+${opts.durationSec} s per peer, ${opts.rounds} round(s), ${opts.workers} worker(s)`,
    );
    for (let round = 1; round <= opts.rounds && !wasInterrupted(); round++) {
      if (opts.rounds > 1) log(`round ${round}/${opts.rounds}`);
      let order = 0;
      for (const peer of peerOrder(peers, round)) {
        if (wasInterrupted()) break;
        order++;
        try {
          runs.push(await measure(peer, ctx, tool, opts, round, order));
        } catch (err) {
          const msg = (err as Error).message;
          failures.push({ peer: peer.name, round, error: msg });
          log(`  ${peer.name} failed: ${msg}`);
        }
        await sleep(1000); // let sockets in TIME_WAIT and the scheduler settle between peers
      }
    }

    const summaries: PeerSummary[] = [];
    for (const p of peers) {
      const s = summarize(p.name, p.describe(ctx), runs, failures);
      if (s !== null) summaries.push(s);
    }
    const gatewaySummary = summaries.find((s) => s.peer === 'gateway') ?? null;
    const ratio = ratios(gatewaySummary, summaries.find((s) => s.peer === 'nginx') ?? null);
    const baselineRatio = baseline === null ? null : ratios(gatewaySummary, summaries.find((s) => s.peer === baselineName) ?? null);
    const machine = machineInfo();
    const latencyResolutionMs = runs[0]?.load.latencyResolutionMs ?? (tool.name === 'wrk' ? 0.001 : 1);

    const header = [
      `Portcullis bench: scenario '${scenario.name}' (${scenario.description})`,
      `machine: ${machine.cpuModel}, ${machine.cores} cores, Linux ${machine.kernel}, node ${machine.node}`,
      `load: ${tool.name} ${tool.version}${tool.name === 'wrk' ? ` -t${opts.threads}` : ''}, ${opts.connections} keep-alive connections, ` +
        `${opts.warmupSec} s warm-up + ${opts.durationSec} s measured per peer, ${opts.rounds} round(s)`,
      `origin: ${upstream.description}, ${opts.payloadSize}-byte body`,
      ...peers.map((p) => `${p.name}: ${p.describe(ctx)}`),
      ...skipped.map((s) => `${s.peer}: skipped (${s.reason})`),
    ];
    process.stdout.write(`\n${renderText({ summaries, ratio, failures, latencyResolutionMs, cores: machine.cores, header })}\n`);
    if (baselineRatio !== null) {
      process.stdout.write(
        `gateway '${scenario.name}' / gateway '${baseline!.name}'  req/s: ${baselineRatio.rps.toFixed(2)}x   ` +
          `CPU µs/req: ${baselineRatio.cpu === null ? '-' : `${baselineRatio.cpu.toFixed(2)}x`}` +
          (baselineRatio.valid ? '' : '   WARNING: a run had errors or unexpected statuses') +
          '\n',
      );
    }

    const file = writeJson(root, startedAt, {
      schema: 'portcullis-bench/1',
      startedAt: startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
      argv: process.argv.slice(2),
      gitCommit: gitCommit(root),
      machine,
      settings: {
        scenario: scenario.name,
        tool: tool.name,
        toolVersion: tool.version,
        threads: tool.name === 'wrk' ? opts.threads : 1,
        connections: opts.connections,
        durationSec: opts.durationSec,
        warmupSec: opts.warmupSec,
        rounds: opts.rounds,
        workers: opts.workers,
        payloadSize: opts.payloadSize,
        keepAlive: true,
        pipelining: 1,
        timeoutSec: opts.timeoutSec,
        request: scenario.request,
      },
      origin: { kind: upstream.kind, workers: upstream.workers, description: upstream.description },
      nginx: nginx === null ? null : { version: nginx.version, bin: nginx.bin },
      peers: peers.map((p) => ({ name: p.name, description: p.describe(ctx) })),
      skipped,
      summary: summaries,
      ratio,
      baseline: baseline === null ? null : { scenario: baseline.name, ratio: baselineRatio },
      runs,
      failures,
    });
    process.stdout.write(`\nresults: ${file}\n`);

    const dirty = failures.length > 0 || summaries.some((s) => !s.clean) || wasInterrupted();
    return dirty ? 1 : 0;
  } finally {
    if (upstream !== null) await upstream.stop();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
