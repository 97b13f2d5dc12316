/**
 * What one bench invocation produces, and where it goes: bench/results/<UTC timestamp>/ with
 *   results.json  everything (schema portcullis-bench/2, below)
 *   results.md    the table a person reads (render/markdown.ts)
 *   chart.svg     throughput, latency percentiles and CPU per request per scenario and peer (render/chart.ts)
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { MachineInfo, PeerSummary, Ratios, RunMode, RunRecord, FailureRecord } from './report.js';

export interface ScenarioSettings {
  mode: RunMode;
  /** The closed-loop tool (throughput mode, calibration, background load). */
  tool: string;
  toolVersion: string;
  /** What sent the measured load: the closed-loop tool, or the open-loop generator. */
  loadGenerator: string;
  threads: number;
  connections: number;
  keepAlive: true;
  pipelining: 1;
  durationSec: number;
  warmupSec: number;
  rounds: number;
  workers: number;
  cores: number;
  cpuAffinity: string | null;
  /** The request (one of the spread's, when it has one), its body left out. */
  request: { method: string; path: string; headers: Record<string, string> };
  requestBodyBytes: number;
  /** How many distinct requests the load cycles through (1 without a spread). */
  distinctRequests: number;
  responseBodyBytes: number;
  /** Open loop: the rate in req/s and where it came from. */
  rate: number | null;
  rateSource: string | null;
  background: { label: string; connections: number; requestBodyBytes: number; tool: string } | null;
  redis: string | null;
}

export interface ScenarioResult {
  scenario: string;
  description: string;
  settings: ScenarioSettings;
  peers: { name: string; description: string }[];
  skipped: { peer: string; reason: string }[];
  /** Set when the whole scenario could not run here (e.g. no Redis): no rows. */
  skippedReason: string | null;
  summary: PeerSummary[];
  /** gateway ÷ nginx. */
  ratio: Ratios | null;
  /** `--baseline`: the extra gateway row with the baseline's config on this scenario's request. */
  baseline: { scenario: string; ratio: Ratios | null } | null;
  /**
   * The scenario's own baseline (e.g. plain for key-auth-rate-limiting), when it ran in the same
   * invocation: this scenario's gateway ÷ that scenario's gateway (the issues' targets).
   */
  vsBaselineScenario: { scenario: string; ratio: Ratios } | null;
  runs: RunRecord[];
  failures: FailureRecord[];
}

export interface BenchResults {
  schema: 'portcullis-bench/2';
  startedAt: string;
  finishedAt: string;
  argv: string[];
  gitCommit: string | null;
  machine: MachineInfo;
  origin: { kind: string; workers: number; description: string };
  nginx: { version: string; bin: string } | null;
  settings: Record<string, unknown>;
  scenarios: ScenarioResult[];
  /**
   * portcullis-bench/1 compatibility: with exactly one scenario, its peers, skipped, summary,
   * ratio, baseline, runs and failures are repeated at the top level, as the single-scenario
   * bench wrote them before.
   */
  [legacy: string]: unknown;
}

/** "2026-11-23T14-50-00Z": a directory name that sorts by time. */
export function resultsStamp(at: Date): string {
  return at.toISOString().replace(/[:]/g, '-').replace(/\.\d+Z$/, 'Z');
}

export interface WrittenResults {
  dir: string;
  json: string;
  markdown: string;
  svg: string | null;
}

/** Writes <root>/<stamp>/ and returns the paths. The SVG is optional (its renderer may fail; the rest must not be lost). */
export function writeResults(root: string, startedAt: Date, results: BenchResults, markdown: string, svg: string | null): WrittenResults {
  const dir = join(root, resultsStamp(startedAt));
  mkdirSync(dir, { recursive: true });
  const json = join(dir, 'results.json');
  const md = join(dir, 'results.md');
  writeFileSync(json, `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(md, markdown);
  let svgPath: string | null = null;
  if (svg !== null) {
    svgPath = join(dir, 'chart.svg');
    writeFileSync(svgPath, svg);
  }
  return { dir, json, markdown: md, svg: svgPath };
}
