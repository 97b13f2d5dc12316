/**
 * `npm run perf:native`: the gateway under Linux `perf record -g` behind a bench scenario's
 * load, every user-space sample charged to its nearest JavaScript frame (native-attribution.ts
 * says why this view exists next to perf:profile's V8 profile).
 */
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { describeProbe, probe } from '../bench/lib/net.js';
import { findNginx } from '../bench/lib/nginx.js';
import { installCleanup, makeTempDir, setKeepTemp } from '../bench/lib/procs.js';
import { selectTool } from '../bench/load/index.js';
import type { LoadResult } from '../bench/load/types.js';
import { gatewayPeer } from '../bench/peers/gateway.js';
import type { PeerContext } from '../bench/peers/types.js';
import { gitCommit, machineInfo } from '../bench/report.js';
import { loadScenarios } from '../bench/scenarios/index.js';
import { scenarioRequests } from '../bench/scenarios/types.js';
import { defaultOriginKind, startUpstream, type Upstream } from '../bench/upstream.js';
import { repoRoot } from './cpuprofile-top.js';
import { attribute, parsePerfScript, renderAttribution } from './native-attribution.js';
import { wholeNumber } from '../bench/lib/cli-options.js';
import { resultsStamp } from '../bench/results.js';

export const USAGE = `npm run perf:native -- --scenario NAME [flags]     (or: node dist/perf/native.js …)

Runs the gateway (node --perf-basic-prof) behind a bench scenario's load, records its process with
\`perf record -g\`, and prints where the CPU went: kernel against user space, and each user-space
sample charged to its nearest JavaScript function with the builtins it was in. Writes native.md
and run.json into perf/results/<timestamp>-native/. Needs Linux perf (Debian: linux-perf).

  --scenario NAME      bench scenario (default plain; see bench/scenarios/)
  --duration S         recorded seconds of load (default 5)
  --warmup S           seconds of the same load before recording, for the JIT (default 3)
  --workers N          gateway worker threads (default 2)
  --connections C      keep-alive connections of the load tool (default 64)
  --frequency HZ       perf sampling frequency (default 2999)
  --top N              rows of the tables (default 30)
  --out DIR            results folder (default perf/results/<timestamp>-native)
  --keep-temp          keep the generated gateway config, logs and perf.data
  --help
`;

interface NativeOptions {
  scenario: string;
  durationSec: number;
  warmupSec: number;
  workers: number;
  connections: number;
  frequency: number;
  top: number;
  out: string | null;
  keepTemp: boolean;
  help: boolean;
}

export function parseNativeOptions(argv: string[]): NativeOptions {
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
      frequency: { type: 'string' },
      top: { type: 'string' },
      out: { type: 'string' },
      'keep-temp': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  return {
    scenario: values.scenario ?? 'plain',
    durationSec: wholeNumber('duration', values.duration, 5, 1, 600),
    warmupSec: wholeNumber('warmup', values.warmup, 3, 0, 600),
    workers: wholeNumber('workers', values.workers, 2, 1, 256),
    connections: wholeNumber('connections', values.connections, 64, 1, 10_000),
    frequency: wholeNumber('frequency', values.frequency, 2999, 100, 20_000),
    top: wholeNumber('top', values.top, 30, 1, 1000),
    out: values.out ?? null,
    keepTemp: values['keep-temp'] ?? false,
    help: values.help ?? false,
  };
}

const log = (msg: string): void => {
  process.stderr.write(`perf: ${msg}\n`);
};

const shellQuote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/** The gateway's entry point with JIT symbols for perf (exec keeps the pid perf follows). */
function perfEntryPoint(root: string, tmp: string): string {
  const file = join(tmp, 'portcullis-perf-map');
  const argv = [
    process.execPath,
    '--perf-basic-prof',
    '--interpreted-frames-native-stack',
    '--no-logfile-per-isolate',
    `--logfile=${join(tmp, 'v8.log')}`,
    join(root, 'bin', 'portcullis.js'),
  ];
  writeFileSync(file, `#!/bin/sh\nexec ${argv.map(shellQuote).join(' ')} "$@"\n`);
  chmodSync(file, 0o755);
  return file;
}

function perfVersion(): string | null {
  const r = spawnSync('perf', ['--version'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

async function main(): Promise<number> {
  let opts: NativeOptions;
  try {
    opts = parseNativeOptions(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`perf: ${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (opts.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const perf = perfVersion();
  if (perf === null) {
    process.stderr.write('perf: Linux perf is not installed (Debian: apt-get install -y linux-perf)\n');
    return 2;
  }
  installCleanup();
  setKeepTemp(opts.keepTemp);
  const startedAt = new Date();
  const root = repoRoot();
  const scenario = (await loadScenarios()).get(opts.scenario);
  if (scenario === undefined) {
    process.stderr.write(`perf: unknown scenario '${opts.scenario}'\n`);
    return 2;
  }
  if (scenario.needs?.includes('redis') === true) {
    process.stderr.write(`perf: scenario '${scenario.name}' needs Redis; use perf:profile for it\n`);
    return 2;
  }
  const { tool, note } = selectTool(null);
  if (note !== null) log(note);
  const nginx = findNginx();
  const tmp = makeTempDir('perf-native');
  const dataFile = join(tmp, 'perf.data');
  const outDir = opts.out ?? join(root, 'perf', 'results', `${resultsStamp(startedAt)}-native`);

  let upstream: Upstream | null = null;
  let load: LoadResult | null = null;
  let pid = 0;
  try {
    upstream = await startUpstream({ kind: defaultOriginKind(nginx), workers: 1, payloadSize: 128, nginx });
    log(`origin: ${upstream.description} on ${upstream.url}`);
    const ctx: PeerContext = {
      root,
      workers: opts.workers,
      upstream,
      scenario,
      scenarioCtx: { upstreamUrl: upstream.url, payloadSize: 128, redis: null },
      cpuAffinity: null,
    };
    const peer = gatewayPeer({ bin: perfEntryPoint(root, tmp), name: 'gateway (perf)' });
    const why = peer.unavailable(ctx);
    if (why !== null) throw new Error(`cannot run the gateway: ${why}`);
    const running = await peer.start(ctx);
    try {
      if (running.pid === null) throw new Error('the gateway has no process id to record');
      pid = running.pid;
      const req = scenario.request;
      const expect = scenario.expectStatus ?? 200;
      const first = await probe(running.port, req, 5000);
      if (!first.ok || first.status !== expect) throw new Error(`preflight: ${req.method} ${req.path} got ${describeProbe(first)}; expected HTTP ${expect}`);
      const loadOpts = {
        port: running.port,
        request: req,
        ...(scenario.spread !== undefined ? { requests: scenarioRequests(scenario) } : {}),
        connections: opts.connections,
        threads: 1,
        timeoutSec: 5,
        expectStatus: expect,
      };
      if (opts.warmupSec > 0) {
        log(`warm-up ${opts.warmupSec} s (not recorded)`);
        await tool.run({ ...loadOpts, durationSec: opts.warmupSec });
      }
      log(`recording ${opts.durationSec} s of ${tool.name} load (perf record -g -F ${opts.frequency} -p ${pid})`);
      // perf starts first and stops on its own; the load runs a little longer than it.
      const recorder = spawn('perf', ['record', '-g', '-F', String(opts.frequency), '-p', String(pid), '-o', dataFile, '--', 'sleep', String(opts.durationSec)], {
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let recordErr = '';
      recorder.stderr.on('data', (d: Buffer) => (recordErr += d.toString()));
      const recorded = new Promise<number>((res) => recorder.on('close', (code) => res(code ?? 1)));
      await new Promise((r) => setTimeout(r, 300));
      load = await tool.run({ ...loadOpts, durationSec: opts.durationSec + 1 });
      if ((await recorded) !== 0) throw new Error(`perf record failed: ${recordErr.trim().split('\n').slice(-3).join(' ')}`);
      const died = running.died();
      if (died !== null) throw new Error(`the gateway died under load: ${died}`);
      log(`${Math.round(load.rps).toLocaleString('en-US')} req/s under perf, non-2xx ${load.non2xx}, errors ${load.errors}`);
    } finally {
      await running.stop();
    }
  } finally {
    if (upstream !== null) await upstream.stop();
  }
  if (load === null) throw new Error('no load result');

  // The JIT symbol map stays readable after the process is gone; perf script needs it.
  const script = spawnSync('perf', ['script', '-i', dataFile, '-F', 'ip,sym'], { encoding: 'utf8', maxBuffer: 2 * 1024 * 1024 * 1024 });
  rmSync(`/tmp/perf-${pid}.map`, { force: true });
  if (script.status !== 0) throw new Error(`perf script failed: ${script.stderr.trim().split('\n').slice(-3).join(' ')}`);
  const attribution = attribute(parsePerfScript(script.stdout), `${root}/dist/`);

  const machine = machineInfo();
  const title = `Portcullis native profile: scenario '${scenario.name}', ${opts.workers} worker thread(s)`;
  const lines = [
    `${scenario.description}. Load: ${tool.name} ${tool.version}, ${opts.connections} keep-alive connections, ${opts.durationSec} s recorded after ` +
      `${opts.warmupSec} s warm-up; ${Math.round(load.rps).toLocaleString('en-US')} req/s under perf (non-2xx ${load.non2xx}, errors ${load.errors}).`,
    `${perf}, ${opts.frequency} Hz, every thread of the gateway process. ${machine.cpuModel}, ${machine.cores} cores, node ${machine.node}, ` +
      `commit ${gitCommit(root) ?? 'unknown'}.`,
  ];
  const markdown = renderAttribution(attribution, opts.top, title, lines);
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, 'native.md'), markdown);
  writeFileSync(
    join(outDir, 'run.json'),
    `${JSON.stringify({ schema: 'portcullis-perf-native/1', startedAt: startedAt.toISOString(), argv: process.argv.slice(2), gitCommit: gitCommit(root), machine, settings: { ...opts, out: outDir }, load, attribution: { ...attribution, javascript: attribution.javascript.slice(0, 200), native: attribution.native.slice(0, 200) } }, null, 2)}\n`,
  );
  process.stdout.write(`\n${markdown}\nresults: ${relative(process.cwd(), outDir) || '.'}/native.md\n`);
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
