/** `npm run bench -- [flags]`: parsing and validation. */
import { parseArgs } from 'node:util';
import type { ToolName } from './load/types.js';
import type { OriginKind } from './upstream.js';

export interface BenchOptions {
  workers: number;
  durationSec: number;
  warmupSec: number;
  connections: number;
  peer: 'nginx' | 'none';
  /** null: wrk when it is on PATH, else autocannon. */
  tool: ToolName | null;
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

Runs the gateway and nginx one after the other against the same origin, with the same load,
and prints req/s, latency, CPU µs per request and errors for each, with the gateway/nginx ratio.

  --workers N          gateway worker threads = nginx worker processes (default 2)
  --duration S         measured seconds per peer and round (default 10)
  --warmup S           unmeasured seconds of the same load before each measurement (default 2)
  --connections C      concurrent keep-alive connections (default 64)
  --peer nginx|none    compare against nginx, or run the gateway alone (default nginx)
  --tool autocannon|wrk  load generator (default: wrk when on PATH, else autocannon)
  --threads N          wrk threads (default 1: one core for the load, one for the peer)
  --scenario NAME      what the gateway does per request (default plain; see bench/scenarios/)
  --baseline NAME      also run the gateway with scenario NAME's config, on the same request, in the
                       same run, and print the ratio (e.g. --scenario key-auth --baseline plain)
  --rounds N           repeat, alternating the peer order, and report medians (default 1)
  --payload-size B     bytes in the origin's response body (default 128)
  --origin nginx|node  the origin both peers proxy to (default nginx when installed, else node)
  --origin-workers N   origin worker processes (default 1)
  --direct             also load the origin directly (no proxy): the ceiling of this machine
  --timeout S          per-request timeout of the load tool (default 5)
  --gateway-bin PATH   benchmark another gateway build with the same CLI (default bin/portcullis.js)
  --keep-temp          keep the generated configs and logs (printed at exit)
  --help

Results: a table on stdout and bench/results/<timestamp>.json.
`;

function int(name: string, raw: string | undefined, def: number, min: number, max: number): number {
  if (raw === undefined) return def;
  if (!/^\d+$/.test(raw)) throw new Error(`--${name} must be a whole number, got '${raw}'`);
  const n = Number(raw);
  if (n < min || n > max) throw new Error(`--${name} must be between ${min} and ${max}, got ${n}`);
  return n;
}

function oneOf<T extends string>(name: string, raw: string | undefined, allowed: readonly T[]): T | null {
  if (raw === undefined) return null;
  if (!(allowed as readonly string[]).includes(raw)) throw new Error(`--${name} must be one of ${allowed.join('|')}, got '${raw}'`);
  return raw as T;
}

export function parseOptions(argv: string[]): BenchOptions {
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
  const connections = int('connections', values.connections, 64, 1, 10_000);
  return {
    workers: int('workers', values.workers, 2, 1, 256),
    durationSec: int('duration', values.duration, 10, 1, 3600),
    warmupSec: int('warmup', values.warmup, 2, 0, 600),
    connections,
    peer: oneOf('peer', values.peer, ['nginx', 'none'] as const) ?? 'nginx',
    tool: oneOf('tool', values.tool, ['autocannon', 'wrk'] as const),
    threads: Math.min(int('threads', values.threads, 1, 1, 64), connections),
    scenario: values.scenario ?? 'plain',
    baseline: values.baseline ?? null,
    rounds: int('rounds', values.rounds, 1, 1, 100),
    payloadSize: int('payload-size', values['payload-size'], 128, 0, 1_000_000),
    origin: oneOf('origin', values.origin, ['nginx', 'node'] as const),
    originWorkers: int('origin-workers', values['origin-workers'], 1, 1, 256),
    direct: values.direct ?? false,
    timeoutSec: int('timeout', values.timeout, 5, 1, 600),
    gatewayBin: values['gateway-bin'],
    keepTemp: values['keep-temp'] ?? false,
    help: values.help ?? false,
  };
}
