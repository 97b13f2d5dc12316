/**
 * `npm run perf:profile -- --scenario NAME [--duration S] [--workers N]`: CPU profiles of the
 * gateway's worker threads under a bench scenario's load, as a flame graph, a speedscope file
 * and top-N tables.
 *
 *   origin (bench/upstream.ts)  <-  gateway under `node --cpu-prof`  <-  load tool (wrk | autocannon)
 *
 * `--cpu-prof` is inherited by worker threads: every thread writes its own .cpuprofile when it
 * exits, so the gateway is stopped with SIGTERM (it drains and exits 0) before the files are read.
 * Samples outside the measured window (start-up, warm-up, drain) are cut away using the
 * monotonic clock both processes share (see cpuprofile.ts). See perf/README.md.
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { describeProbe, probe } from '../bench/lib/net.js';
import { findNginx, NGINX_INSTALL_HINT } from '../bench/lib/nginx.js';
import { installCleanup, makeTempDir, setKeepTemp } from '../bench/lib/procs.js';
import { selectTool } from '../bench/load/index.js';
import type { LoadResult, ToolName } from '../bench/load/types.js';
import { gatewayPeer } from '../bench/peers/gateway.js';
import type { PeerContext } from '../bench/peers/types.js';
import { gitCommit, machineInfo } from '../bench/report.js';
import { loadScenarios } from '../bench/scenarios/index.js';
import { scenarioRequests } from '../bench/scenarios/types.js';
import { redisUnavailable, startBenchRedis, type BenchRedis } from '../bench/lib/redis.js';
import { defaultOriginKind, startUpstream, type OriginKind, type Upstream } from '../bench/upstream.js';
import { parseCpuProfile, sliceToWindow, windowOverlaps, type CpuProfile } from './cpuprofile.js';
import { renderMarkdown, repoRoot, summarize } from './cpuprofile-top.js';
import { renderFlameGraph } from './flamegraph.js';
import { buildProfileSet, type ThreadInput } from './profile-set.js';
import { sourceMapResolver } from './source-maps.js';
import { toSpeedscope } from './speedscope.js';
import { uwsCallFinder } from './uws-call-sites.js';
import { oneOf, wholeNumber } from '../bench/lib/cli-options.js';
import { resultsStamp } from '../bench/results.js';

export const USAGE = `npm run perf:profile -- --scenario NAME [flags]     (or: node dist/perf/profile.js …)

Runs the gateway under \`node --cpu-prof\` behind a bench scenario's load, stops it, and writes
into perf/results/<timestamp>/ the .cpuprofile of every thread, a speedscope file of the worker
threads, an SVG flame graph and top-N tables (printed at the end).

  --scenario NAME      bench scenario (default plain; see bench/scenarios/)
  --duration S         profiled seconds of load (default 10)
  --warmup S           seconds of the same load before profiling starts, for the JIT (default 2)
  --workers N          gateway worker threads (default 2)
  --connections C      keep-alive connections of the load tool (default 64)
  --tool autocannon|wrk  load generator (default: wrk when on PATH, else autocannon)
  --origin nginx|node  the origin (default nginx when installed, else node)
  --payload-size B     bytes in the origin's response body (default 128)
  --cpu-affinity V     set PORTCULLIS_CPU_AFFINITY=V for the gateway (auto|off|LIST; default: unset)
  --interval US        sampling interval, microseconds (default 1000; smaller costs the gateway more)
  --top N              rows of the function tables (default 15)
  --hide-idle          leave (idle) out of the flame graph: its width is then the busy time only
  --whole              keep every sample (start-up, warm-up, drain), not just the profiled window
  --out DIR            results folder (default perf/results/<timestamp>)
  --keep-temp          keep the generated gateway config and logs
  --help
`;

export interface ProfileOptions {
  scenario: string;
  durationSec: number;
  warmupSec: number;
  workers: number;
  connections: number;
  tool: ToolName | null;
  origin: OriginKind | null;
  payloadSize: number;
  /** PORTCULLIS_CPU_AFFINITY for the gateway; null leaves it unset. */
  cpuAffinity: string | null;
  intervalUs: number;
  top: number;
  hideIdle: boolean;
  whole: boolean;
  out: string | null;
  keepTemp: boolean;
  help: boolean;
}

export function parseProfileOptions(argv: string[]): ProfileOptions {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      scenario: { type: 'string' },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      workers: { type: 'string' },
      connections: { type: 'string' },
      tool: { type: 'string' },
      origin: { type: 'string' },
      'payload-size': { type: 'string' },
      'cpu-affinity': { type: 'string' },
      interval: { type: 'string' },
      top: { type: 'string' },
      'hide-idle': { type: 'boolean' },
      whole: { type: 'boolean' },
      out: { type: 'string' },
      'keep-temp': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  return {
    scenario: values.scenario ?? 'plain',
    durationSec: wholeNumber('duration', values.duration, 10, 1, 3600),
    warmupSec: wholeNumber('warmup', values.warmup, 2, 0, 600),
    workers: wholeNumber('workers', values.workers, 2, 1, 256),
    connections: wholeNumber('connections', values.connections, 64, 1, 10_000),
    tool: oneOf('tool', values.tool, ['autocannon', 'wrk'] as const),
    origin: oneOf('origin', values.origin, ['nginx', 'node'] as const),
    payloadSize: wholeNumber('payload-size', values['payload-size'], 128, 0, 1_000_000),
    cpuAffinity: values['cpu-affinity'] ?? null,
    intervalUs: wholeNumber('interval', values.interval, 1000, 50, 100_000),
    top: wholeNumber('top', values.top, 15, 1, 1000),
    hideIdle: values['hide-idle'] ?? false,
    whole: values.whole ?? false,
    out: values.out ?? null,
    keepTemp: values['keep-temp'] ?? false,
    help: values.help ?? false,
  };
}

const log = (msg: string): void => {
  process.stderr.write(`perf: ${msg}\n`);
};

/** Now on the monotonic clock V8 stamps samples with, in µs. */
const monotonicUs = (): number => Number(process.hrtime.bigint() / 1000n);

const shellQuote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * The gateway's entry point under `node --cpu-prof`, as an executable the bench's gateway peer
 * can start in place of bin/portcullis.js (it runs non-.js entry points as they are). `exec`
 * keeps the pid, so the peer's SIGTERM reaches node itself.
 */
function profilingEntryPoint(root: string, profileDir: string, intervalUs: number): string {
  const file = join(makeTempDir('profile-entry'), 'portcullis-cpu-prof');
  const argv = [process.execPath, '--cpu-prof', `--cpu-prof-dir=${profileDir}`, `--cpu-prof-interval=${intervalUs}`, join(root, 'bin', 'portcullis.js')];
  writeFileSync(file, `#!/bin/sh\nexec ${argv.map(shellQuote).join(' ')} "$@"\n`);
  chmodSync(file, 0o755);
  return file;
}

/** node names them CPU.<date>.<time>.<pid>.<threadId>.<seq>.cpuprofile. */
const PROFILE_NAME = /^CPU\.\d+\.\d+\.(\d+)\.(\d+)\.(\d+)\.cpuprofile$/;

export interface ThreadProfile {
  threadId: number;
  kind: 'worker' | 'supervisor' | 'other';
  file: string;
  text: string;
  profile: CpuProfile;
}

/** Reads the profiles node wrote and tells the gateway's worker threads from the others. */
export function readThreadProfiles(dir: string): ThreadProfile[] {
  const out: ThreadProfile[] = [];
  for (const name of readdirSync(dir).sort()) {
    const m = PROFILE_NAME.exec(name);
    if (m === null) continue;
    const file = join(dir, name);
    const text = readFileSync(file, 'utf8');
    const profile = parseCpuProfile(text, file);
    const threadId = Number(m[2]);
    // A gateway worker thread runs workers/worker.js; thread 0 is the supervisor (main thread).
    const isWorker = profile.nodes.some((n) => /\/workers\/worker\.(js|ts)$/.test(n.callFrame.url));
    out.push({ threadId, kind: isWorker ? 'worker' : threadId === 0 ? 'supervisor' : 'other', file, text, profile });
  }
  return out.sort((a, b) => a.threadId - b.threadId);
}

async function main(): Promise<number> {
  let opts: ProfileOptions;
  try {
    opts = parseProfileOptions(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`perf: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (opts.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  installCleanup();
  setKeepTemp(opts.keepTemp);
  const startedAt = new Date();
  const root = repoRoot();
  const scenarios = await loadScenarios();
  const scenario = scenarios.get(opts.scenario);
  if (scenario === undefined) {
    process.stderr.write(`perf: unknown scenario '${opts.scenario}'; known: ${[...scenarios.keys()].join(', ')}\n`);
    return 2;
  }
  const { tool, note } = selectTool(opts.tool);
  if (note !== null) log(note);
  const nginx = findNginx();
  const originKind = opts.origin ?? defaultOriginKind(nginx);
  if (originKind === 'nginx' && nginx === null) {
    process.stderr.write(`perf: --origin nginx: nginx is not installed; ${NGINX_INSTALL_HINT}\n`);
    return 2;
  }
  const needsRedis = scenario.needs?.includes('redis') === true;
  if (needsRedis) {
    const why = redisUnavailable();
    if (why !== null) {
      process.stderr.write(`perf: scenario '${scenario.name}' needs Redis: ${why}\n`);
      return 2;
    }
  }
  const outDir = opts.out ?? join(root, 'perf', 'results', resultsStamp(startedAt));
  const profileDir = makeTempDir('cpuprofiles');
  const entry = profilingEntryPoint(root, profileDir, opts.intervalUs);

  let upstream: Upstream | null = null;
  let benchRedis: BenchRedis | null = null;
  let load: LoadResult | null = null;
  let window = { fromUs: 0, toUs: 0 };
  let origin = '';
  try {
    if (needsRedis) {
      benchRedis = await startBenchRedis();
      log(`redis: ${benchRedis.description}`);
    }
    const redis = benchRedis === null ? null : { host: benchRedis.host, port: benchRedis.port };
    upstream = await startUpstream({ kind: originKind, workers: 1, payloadSize: opts.payloadSize, nginx });
    origin = upstream.description;
    log(`origin: ${origin} on ${upstream.url}`);
    const ctx: PeerContext = {
      root,
      workers: opts.workers,
      upstream,
      scenario,
      scenarioCtx: { upstreamUrl: upstream.url, payloadSize: opts.payloadSize, redis },
      cpuAffinity: opts.cpuAffinity,
    };
    const peer = gatewayPeer({ bin: entry, name: 'gateway (profiled)' });
    const why = peer.unavailable(ctx);
    if (why !== null) throw new Error(`cannot run the gateway: ${why}`);
    log(`gateway: ${opts.workers} worker thread(s) under --cpu-prof (every ${opts.intervalUs} µs)`);
    const running = await peer.start(ctx);
    try {
      const req = scenario.request;
      const expect = scenario.expectStatus ?? 200;
      const first = await probe(running.port, req, 5000);
      if (!first.ok || first.status !== expect) {
        throw new Error(`preflight: ${req.method} ${req.path} got ${describeProbe(first)}; expected HTTP ${expect}`);
      }
      const loadOpts = {
        port: running.port,
        request: req,
        ...(scenario.spread !== undefined ? { requests: scenarioRequests(scenario) } : {}),
        connections: opts.connections, threads: 1, timeoutSec: 5, expectStatus: expect };
      if (opts.warmupSec > 0) {
        log(`warm-up ${opts.warmupSec} s (not profiled)`);
        await tool.run({ ...loadOpts, durationSec: opts.warmupSec });
      }
      log(`profiling ${opts.durationSec} s of ${tool.name} load, ${opts.connections} connections, scenario ${scenario.name}`);
      const fromUs = monotonicUs();
      const result = await tool.run({ ...loadOpts, durationSec: opts.durationSec });
      window = { fromUs, toUs: monotonicUs() };
      load = result;
      const died = running.died();
      if (died !== null) throw new Error(`the gateway died under load: ${died}`);
      log(`${Math.round(result.rps).toLocaleString('en-US')} req/s under the profiler, non-2xx ${result.non2xx}, errors ${result.errors}`);
    } finally {
      log('stopping the gateway (SIGTERM: it drains, its threads write their profiles)');
      await running.stop();
    }
  } finally {
    if (upstream !== null) await upstream.stop();
    if (benchRedis !== null) await benchRedis.stop();
  }
  if (load === null) throw new Error('no load result');

  const threads = readThreadProfiles(profileDir);
  const workers = threads.filter((t) => t.kind === 'worker');
  if (workers.length === 0) {
    process.stderr.write(
      `perf: no worker-thread profile in ${profileDir} (found: ${threads.map((t) => `thread ${t.threadId} (${t.kind})`).join(', ') || 'none'}). ` +
        'Did the gateway exit cleanly on SIGTERM? A thread that is killed writes no profile.\n',
    );
    return 1;
  }
  if (workers.length < opts.workers) log(`only ${workers.length} of ${opts.workers} worker threads wrote a profile`);

  mkdirSync(outDir, { recursive: true });
  const rawFiles: string[] = [];
  for (const t of threads) {
    const name = `${t.kind}-thread${t.threadId}.cpuprofile`;
    writeFileSync(join(outDir, name), t.text);
    rawFiles.push(name);
  }

  let trimmed = !opts.whole;
  if (trimmed && !workers.every((w) => windowOverlaps(w.profile, window.fromUs, window.toUs))) {
    log('the profiles and this process do not share a clock here: keeping every sample (as with --whole)');
    trimmed = false;
  }
  const inputs: ThreadInput[] = workers.map((w) => ({
    name: `worker thread ${w.threadId}`,
    profile: trimmed ? sliceToWindow(w.profile, window.fromUs, window.toUs) : w.profile,
  }));
  const set = buildProfileSet(inputs, { root, resolveSource: sourceMapResolver(), nativeCallAt: uwsCallFinder() });
  const summary = summarize(set);

  const machine = machineInfo();
  const title = `Portcullis CPU profile: scenario '${scenario.name}', ${workers.length} worker thread(s)`;
  const what =
    `${scenario.description}. Load: ${tool.name} ${tool.version}, ${opts.connections} keep-alive connections, ` +
    `${opts.durationSec} s profiled after ${opts.warmupSec} s warm-up; ${Math.round(load.rps).toLocaleString('en-US')} req/s under the profiler ` +
    `(non-2xx ${load.non2xx}, errors ${load.errors}).`;
  const how =
    `Origin: ${origin}, ${opts.payloadSize}-byte body. Sampling every ${opts.intervalUs} µs; ` +
    `${trimmed ? 'samples of the profiled window only' : 'every sample from start-up to exit'}. ` +
    `${machine.cpuModel}, ${machine.cores} cores, node ${machine.node}, commit ${gitCommit(root) ?? 'unknown'}.`;
  const markdown = renderMarkdown(summary, opts.top, title, [what, how]);
  writeFileSync(join(outDir, 'top.md'), markdown);
  writeFileSync(join(outDir, 'profile.speedscope.json'), JSON.stringify(toSpeedscope(set, title)));
  const idlePct = summary.samples === 0 ? 0 : (100 * summary.idle) / summary.samples;
  writeFileSync(
    join(outDir, 'flamegraph.svg'),
    renderFlameGraph(set, {
      title,
      subtitle: [
        `${scenario.description}; ${tool.name}, ${opts.connections} connections, ${Math.round(load.rps).toLocaleString('en-US')} req/s under the profiler`,
        `${summary.samples.toLocaleString('en-US')} samples of ${opts.intervalUs} µs, ${idlePct.toFixed(1)}% idle${opts.hideIdle ? ' (not drawn)' : ''}; ` +
          'width = samples of a function and its callees',
      ],
      hideIdle: opts.hideIdle,
    }),
  );
  writeFileSync(
    join(outDir, 'run.json'),
    `${JSON.stringify(
      {
        schema: 'portcullis-perf-profile/1',
        startedAt: startedAt.toISOString(),
        argv: process.argv.slice(2),
        gitCommit: gitCommit(root),
        machine,
        settings: { ...opts, out: outDir, tool: tool.name, toolVersion: tool.version, origin },
        window: trimmed ? { ...window, seconds: (window.toUs - window.fromUs) / 1e6 } : null,
        load,
        threads: threads.map((t) => ({ threadId: t.threadId, kind: t.kind, samples: t.profile.samples.length })),
        files: { raw: rawFiles, speedscope: 'profile.speedscope.json', flamegraph: 'flamegraph.svg', top: 'top.md' },
      },
      null,
      2,
    )}\n`,
  );

  process.stdout.write(`\n${markdown}\n`);
  const rel = relative(process.cwd(), outDir) || '.';
  process.stdout.write(
    `results: ${rel}/\n  flamegraph.svg           open in a browser\n  profile.speedscope.json  drag into https://www.speedscope.app\n` +
      `  top.md                   the tables above\n  ${rawFiles.join(', ')}  raw V8 profiles (Chrome DevTools, speedscope)\n`,
  );
  return 0;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`perf: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
