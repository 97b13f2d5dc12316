/**
 * `npm run bench`: the gateway against nginx and the bare origin, one after the other, same load.
 *
 *   origin (nginx `return 200` or node http)  <-  peer (gateway | nginx proxy_pass | none)  <-  load
 *
 * For each scenario, round and peer: start the peer, check the request(s), warm up, sample CPU,
 * load for --duration seconds (closed loop, or open loop at a fixed rate with --mode latency),
 * sample CPU, stop the peer. With --rounds N > 1 the peer order alternates and the report gives
 * medians. Results: a table on stdout and bench/results/<timestamp>/ (JSON, markdown, SVG).
 * See bench/README.md.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { selectTool } from './load/index.js';
import { findNginx, NGINX_INSTALL_HINT } from './lib/nginx.js';
import { installCleanup, setKeepTemp, wasInterrupted } from './lib/procs.js';
import { parseOptions, resolveScenarioNames, USAGE, type BenchOptions } from './options.js';
import { Progress } from './progress.js';
import { renderChartSvg } from './render/chart.js';
import { renderMarkdown } from './render/markdown.js';
import { gitCommit, machineInfo, renderText } from './report.js';
import { writeResults, type BenchResults, type ScenarioResult } from './results.js';
import { loadScenarios, suiteOrder } from './scenarios/index.js';
import type { Scenario } from './scenarios/types.js';
import { candidatePeers, linkBaselineScenarios, plannedRunSec, runScenario } from './suite.js';
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

function scenarioText(r: ScenarioResult, header: string[], cores: number): string {
  const latencyResolutionMs = r.runs[0]?.load.latencyResolutionMs ?? (r.settings.tool === 'wrk' ? 0.001 : 1);
  const lines = [
    `Portcullis bench: scenario '${r.scenario}' (${r.description})`,
    ...header,
    `mode: ${r.settings.mode}${r.settings.mode === 'latency' ? `, open loop at ${r.settings.rate ?? '?'} req/s (${r.settings.rateSource ?? '?'})` : ''}; ` +
      `load: ${r.settings.loadGenerator}, ${r.settings.connections} keep-alive connections, ` +
      `${r.settings.warmupSec} s warm-up + ${r.settings.durationSec} s measured per peer, ${r.settings.rounds} round(s)`,
    `request: ${r.settings.request.method} ${r.settings.request.path}, ${r.settings.requestBodyBytes}-byte body` +
      (r.settings.distinctRequests > 1 ? `, spread over ${r.settings.distinctRequests.toLocaleString('en-US')} distinct requests` : '') +
      (r.settings.background !== null ? `; background: ${r.settings.background.connections} connections of ${r.settings.background.label}` : ''),
    ...(r.settings.redis !== null ? [`redis: ${r.settings.redis}`] : []),
    ...r.peers.map((p) => `${p.name}: ${p.description}`),
    ...r.skipped.map((x) => `${x.peer}: skipped (${x.reason})`),
  ];
  if (r.skippedReason !== null) return [...lines, `SKIPPED: ${r.skippedReason}`].join('\n');
  let text = renderText({ summaries: r.summary, ratio: r.ratio, failures: r.failures, latencyResolutionMs, cores, header: lines });
  if (r.baseline !== null && r.baseline.ratio !== null) {
    const b = r.baseline.ratio;
    text +=
      `\ngateway '${r.scenario}' / gateway '${r.baseline.scenario}'  req/s: ${b.rps.toFixed(2)}x   ` +
      `CPU µs/req: ${b.cpu === null ? '-' : `${b.cpu.toFixed(2)}x`}` +
      (b.valid ? '' : '   WARNING: a run had errors or unexpected statuses');
  }
  return text;
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
  let names: string[];
  try {
    names = resolveScenarioNames(opts.scenario, suiteOrder(scenarios.keys()));
  } catch (err) {
    process.stderr.write(`bench: ${(err as Error).message}\n`);
    return 2;
  }
  let baseline: Scenario | null = null;
  if (opts.baseline !== null) {
    baseline = scenarios.get(opts.baseline) ?? null;
    if (baseline === null) {
      process.stderr.write(`bench: unknown --baseline scenario '${opts.baseline}'; known: ${[...scenarios.keys()].join(', ')}\n`);
      return 2;
    }
  }

  const { tool, note } = selectTool(opts.tool);
  const nginx = findNginx();
  const originKind = opts.origin ?? defaultOriginKind(nginx);
  if (originKind === 'nginx' && nginx === null) {
    process.stderr.write(`bench: --origin nginx: nginx is not installed; ${NGINX_INSTALL_HINT}\n`);
    return 2;
  }

  const selected = names.map((n) => scenarios.get(n) as Scenario);
  const plannedSec = selected.reduce(
    (a, s) => a + opts.rounds * candidatePeers(s, opts, baseline, nginx).reduce((b, p) => b + plannedRunSec(p, s, opts), 0),
    0,
  );
  const progress = new Progress(process.stderr, opts.progress, plannedSec);
  const log = (msg: string): void => progress.log(`bench: ${msg}`);
  if (note !== null) log(note);
  if (originKind === 'node' && opts.origin === null) {
    log(`nginx is not installed: the origin is a Node http server, which costs more CPU per request (${NGINX_INSTALL_HINT})`);
  }

  let upstream: Upstream | null = null;
  const results: ScenarioResult[] = [];
  try {
    upstream = await startUpstream({ kind: originKind, workers: opts.originWorkers, payloadSize: opts.payloadSize, nginx });
    log(`origin: ${upstream.description} on ${upstream.url}`);
    log(
      `${selected.length} scenario(s): ${names.join(', ')}; tool ${tool.name} ${tool.version}, ${opts.connections} connections, ` +
        `${opts.warmupSec}+${opts.durationSec} s per peer, ${opts.rounds} round(s), ${opts.workers} worker(s), mode ${opts.mode}`,
    );
    const machine = machineInfo();
    const header = [
      `machine: ${machine.cpuModel}, ${machine.cores} cores, Linux ${machine.kernel}, node ${machine.node}`,
      `origin: ${upstream.description}, ${opts.payloadSize}-byte response body`,
    ];
    for (const [i, s] of selected.entries()) {
      if (wasInterrupted()) break;
      const r = await runScenario(s, { root, opts, tool, nginx, upstream, baseline, progress }, i + 1, selected.length);
      results.push(r);
      progress.print(process.stdout, `\n${scenarioText(r, header, machine.cores)}\n`);
    }
    progress.finish();
    linkBaselineScenarios(results, scenarios);

    const single = results.length === 1 ? results[0]! : null;
    const commit = gitCommit(root);
    const bench: BenchResults = {
      schema: 'portcullis-bench/2',
      startedAt: startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
      argv: process.argv.slice(2),
      gitCommit: commit,
      machine,
      origin: { kind: upstream.kind, workers: upstream.workers, description: upstream.description },
      nginx: nginx === null ? null : { version: nginx.version, bin: nginx.bin },
      settings: {
        scenario: names.join(','),
        mode: opts.mode,
        tool: tool.name,
        toolVersion: tool.version,
        threads: tool.name === 'wrk' ? opts.threads : 1,
        connections: opts.connections,
        durationSec: opts.durationSec,
        warmupSec: opts.warmupSec,
        rounds: opts.rounds,
        workers: opts.workers,
        cores: machine.cores,
        payloadSize: opts.payloadSize,
        keepAlive: true,
        pipelining: 1,
        timeoutSec: opts.timeoutSec,
        peer: opts.peer,
        rate: opts.rate,
        rateFraction: opts.rateFraction,
        cpuAffinity: opts.cpuAffinity,
        ...(single !== null ? { request: selected[0]!.request } : {}),
      },
      scenarios: results,
      ...(single !== null
        ? {
            peers: single.peers,
            skipped: single.skipped,
            summary: single.summary,
            ratio: single.ratio,
            baseline: single.baseline,
            runs: single.runs,
            failures: single.failures,
          }
        : {}),
    };
    const markdown = renderMarkdown(bench);
    let svg: string | null = null;
    try {
      svg = await renderChartSvg(bench);
    } catch (err) {
      process.stderr.write(`bench: the chart could not be rendered (results are kept): ${(err as Error).message}\n`);
    }
    const resultsRoot = opts.resultsDir === null ? join(root, 'bench', 'results') : isAbsolute(opts.resultsDir) ? opts.resultsDir : resolve(process.cwd(), opts.resultsDir);
    const written = writeResults(resultsRoot, startedAt, bench, markdown, svg);
    if (results.length > 1) process.stdout.write(`\n${markdown}`);
    process.stdout.write(`\nresults: ${written.json}\ntable:   ${written.markdown}\n${written.svg !== null ? `chart:   ${written.svg}\n` : ''}`);

    const dirty = results.some((r) => r.failures.length > 0 || r.summary.some((s) => !s.clean)) || wasInterrupted();
    return dirty ? 1 : 0;
  } finally {
    progress.finish();
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
