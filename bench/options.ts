/** `npm run bench -- [flags]`: parsing and validation. */
import { parseArgs } from 'node:util';
import type { ToolName } from './load/types.js';
import type { OriginKind } from './upstream.js';
import { oneOf, wholeNumber } from './lib/cli-options.js';

export type PeerChoice = 'nginx' | 'direct' | 'both' | 'none';
export type BenchMode = 'throughput' | 'latency';

export interface BenchOptions {
  workers: number;
  durationSec: number;
  warmupSec: number;
  connections: number;
  /** Which reference peers run beside the gateway: nginx proxy_pass, the origin direct, both, none. */
  peer: PeerChoice;
  /** throughput: closed loop, as fast as the peer answers. latency: open loop at a fixed rate. */
  mode: BenchMode;
  /** Open-loop rate, req/s; null: the scenario's default rate, else `rateFraction` × the gateway's measured maximum. */
  rate: number | null;
  /** Share of the gateway's closed-loop req/s used as the open-loop rate when --rate is not given. */
  rateFraction: number;
  /** Passed to the gateway as PORTCULLIS_CPU_AFFINITY; null: whatever the environment says. */
  cpuAffinity: string | null;
  /** Where results/<timestamp>/ goes; default <repo>/bench/results. */
  resultsDir: string | null;
  /** Draw the progress bar: true when stderr is a terminal, unless --no-progress. */
  progress: boolean;
  /** null: wrk when it is on PATH, else autocannon. */
  tool: ToolName | null;
  /** A scenario name, a comma-separated list, or 'all' (see resolveScenarioNames). */
  scenario: string;
  /** Also run the gateway on this scenario and report the ratio to it (e.g. plain). */
  baseline: string | null;
  rounds: number;
  threads: number;
  payloadSize: number;
  /** null: nginx when installed, else node. */
  origin: OriginKind | null;
  originWorkers: number;
  direct: boolean;
  timeoutSec: number;
  gatewayBin: string | undefined;
  keepTemp: boolean;
  help: boolean;
}

export const USAGE = `npm run bench -- [flags]      (or: node dist/bench/run.js [flags])

Runs the gateway, nginx proxy_pass and the origin alone one after the other against the same
origin, with the same load, and prints req/s, latency, CPU µs per request and errors for each,
with the gateway/nginx ratio. Writes bench/results/<timestamp>/ (JSON, markdown, SVG chart).

  --scenario NAME      what the gateway does per request (default plain; see bench/scenarios/);
                       a comma-separated list, or 'all' for every scenario
  --mode throughput|latency
                       throughput: closed loop, maximum req/s (default). latency: open loop at a
                       fixed rate, percentiles from each request's intended send time
  --rate N             open-loop rate in req/s (latency mode; default: --rate-fraction of the
                       gateway's closed-loop req/s, measured in its first warm-up)
  --rate-fraction F    share of the measured maximum used as the rate (default 0.5)
  --workers N          gateway worker threads = nginx worker processes (default 2)
  --duration S         measured seconds per peer and round (default 10)
  --warmup S           unmeasured seconds of the same load before each measurement (default 2)
  --connections C      concurrent keep-alive connections (default 64)
  --peer nginx|direct|both|none
                       the reference rows beside the gateway: nginx proxy_pass, the origin
                       without a proxy, both (default), or the gateway alone
  --tool autocannon|wrk  closed-loop load generator (default: wrk when on PATH, else autocannon)
  --threads N          wrk threads (default 1: one core for the load, one for the peer)
  --baseline NAME      also run the gateway with scenario NAME's config, on the same request, in the
                       same run, and print the ratio (e.g. --scenario key-auth --baseline plain)
  --rounds N           repeat, alternating the peer order, and report medians (default 1)
  --payload-size B     bytes in the origin's response body (default 128)
  --origin nginx|node  the origin both peers proxy to (default nginx when installed, else node)
  --origin-workers N   origin worker processes (default 1)
  --direct             also load the origin directly (same as adding 'direct' to --peer)
  --timeout S          per-request timeout of the load tool (default 5)
  --gateway-bin PATH   benchmark another gateway build with the same CLI (default bin/portcullis.js)
  --cpu-affinity auto|off|LIST
                       passed to the gateway as PORTCULLIS_CPU_AFFINITY (default: not set by the
                       bench; the gateway inherits the bench's environment either way)
  --results-dir DIR    where <timestamp>/ is written (default bench/results)
  --no-progress        no progress bar on stderr (it is drawn only when stderr is a terminal)
  --keep-temp          keep the generated configs and logs (printed at exit)
  --help

Results: a table on stdout; bench/results/<timestamp>/results.json, results.md and chart.svg.
`;

/** auto, off, or cores like 0,1 or 0-3,6 (checked here so a typo fails before any peer starts). */
export function parseCpuAffinity(raw: string | undefined): string | null {
  if (raw === undefined) return null;
  if (raw === 'auto' || raw === 'off') return raw;
  const ok = raw.split(',').every((part) => {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    return m !== null && (m[2] === undefined || Number(m[2]) >= Number(m[1]));
  });
  if (!ok) throw new Error(`--cpu-affinity must be auto, off or a list of cores like 0,1 or 0-3, got '${raw}'`);
  return raw;
}

function fraction(name: string, raw: string | undefined, def: number): number {
  if (raw === undefined) return def;
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n) || n <= 0 || n > 1) throw new Error(`--${name} must be a number in (0, 1], got '${raw}'`);
  return n;
}

/**
 * The scenario names `--scenario` asks for, in the order given ('all': every known one, in the
 * order of `known`), without duplicates. Throws on an unknown name.
 */
export function resolveScenarioNames(raw: string, known: string[]): string[] {
  if (raw === 'all') return [...known];
  const names = [...new Set(raw.split(',').map((n) => n.trim()).filter((n) => n !== ''))];
  if (names.length === 0) throw new Error(`--scenario: no scenario named in '${raw}'`);
  const unknown = names.filter((n) => !known.includes(n));
  if (unknown.length > 0) throw new Error(`unknown scenario '${unknown.join("', '")}'; known: ${known.join(', ')}, or all`);
  return names;
}

/** `stderrIsTTY` decides the progress bar's default (a parameter so that tests do not depend on the terminal). */
export function parseOptions(argv: string[], stderrIsTTY = process.stderr.isTTY === true): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      workers: { type: 'string' },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      connections: { type: 'string' },
      peer: { type: 'string' },
      mode: { type: 'string' },
      rate: { type: 'string' },
      'rate-fraction': { type: 'string' },
      'cpu-affinity': { type: 'string' },
      'results-dir': { type: 'string' },
      'no-progress': { type: 'boolean' },
      tool: { type: 'string' },
      threads: { type: 'string' },
      scenario: { type: 'string' },
      baseline: { type: 'string' },
      rounds: { type: 'string' },
      'payload-size': { type: 'string' },
      origin: { type: 'string' },
      'origin-workers': { type: 'string' },
      direct: { type: 'boolean' },
      timeout: { type: 'string' },
      'gateway-bin': { type: 'string' },
      'keep-temp': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  const connections = wholeNumber('connections', values.connections, 64, 1, 10_000);
  return {
    workers: wholeNumber('workers', values.workers, 2, 1, 256),
    durationSec: wholeNumber('duration', values.duration, 10, 1, 3600),
    warmupSec: wholeNumber('warmup', values.warmup, 2, 0, 600),
    connections,
    peer: oneOf('peer', values.peer, ['nginx', 'direct', 'both', 'none'] as const) ?? 'both',
    mode: oneOf('mode', values.mode, ['throughput', 'latency'] as const) ?? 'throughput',
    rate: values.rate === undefined ? null : wholeNumber('rate', values.rate, 0, 1, 10_000_000),
    rateFraction: fraction('rate-fraction', values['rate-fraction'], 0.5),
    cpuAffinity: parseCpuAffinity(values['cpu-affinity']),
    resultsDir: values['results-dir'] ?? null,
    progress: !(values['no-progress'] ?? false) && stderrIsTTY,
    tool: oneOf('tool', values.tool, ['autocannon', 'wrk'] as const),
    threads: Math.min(wholeNumber('threads', values.threads, 1, 1, 64), connections),
    scenario: values.scenario ?? 'plain',
    baseline: values.baseline ?? null,
    rounds: wholeNumber('rounds', values.rounds, 1, 1, 100),
    payloadSize: wholeNumber('payload-size', values['payload-size'], 128, 0, 1_000_000),
    origin: oneOf('origin', values.origin, ['nginx', 'node'] as const),
    originWorkers: wholeNumber('origin-workers', values['origin-workers'], 1, 1, 256),
    direct: values.direct ?? false,
    timeoutSec: wholeNumber('timeout', values.timeout, 5, 1, 600),
    gatewayBin: values['gateway-bin'],
    keepTemp: values['keep-temp'] ?? false,
    help: values.help ?? false,
  };
}
