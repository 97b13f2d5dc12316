import type { Upstream } from '../upstream.js';
import type { Scenario, ScenarioContext } from '../scenarios/types.js';

export interface PeerContext {
  /** Repository root (where package.json and bin/ live). */
  root: string;
  /** Worker threads (gateway) / worker processes (nginx). */
  workers: number;
  upstream: Upstream;
  scenario: Scenario;
  scenarioCtx: ScenarioContext;
  /** `--cpu-affinity`: set as PORTCULLIS_CPU_AFFINITY for the gateway; null leaves the environment as it is. */
  cpuAffinity: string | null;
}

export interface RunningPeer {
  /** The port the load tool targets on 127.0.0.1. */
  port: number;
  /** Root of the peer's process tree for CPU accounting; null when it has no process of its own. */
  pid: number | null;
  /** Why the peer is no longer running, when it died on its own; null while it runs. */
  died(): string | null;
  stop(): Promise<void>;
}

export interface Peer {
  /** Row name in the report: "gateway", "nginx", "origin (direct)". */
  name: string;
  /** Runs this scenario instead of the bench's own (the `--baseline` row). */
  scenario?: Scenario;
  /** Runs the scenario's background load beside the measured one. */
  background?: boolean;
  /** One line for the report, e.g. "nginx 1.22.1 proxy_pass, 2 workers". */
  describe(ctx: PeerContext): string;
  /** Why this peer cannot run here (not installed, no equivalent for the scenario…), or null. */
  unavailable(ctx: PeerContext): string | null;
  start(ctx: PeerContext): Promise<RunningPeer>;
}
