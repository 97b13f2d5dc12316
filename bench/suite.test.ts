import { describe, expect, it } from 'vitest';
import type { NginxInfo } from './lib/nginx.js';
import { parseOptions } from './options.js';
import type { PeerSummary } from './report.js';
import type { ScenarioResult } from './results.js';
import consumers100k from './scenarios/consumers-100k.js';
import json64k from './scenarios/json-64k.js';
import json64kProtected from './scenarios/json-64k-protected.js';
import plain from './scenarios/plain.js';
import smallUnder64k from './scenarios/small-get-under-json-64k.js';
import { suiteOrder } from './scenarios/index.js';
import { scenarioRequests, type Scenario } from './scenarios/types.js';
import { candidatePeers, linkBaselineScenarios, scenarioMode } from './suite.js';

const NGINX: NginxInfo = { bin: '/usr/sbin/nginx', version: '1.22.1' };
const rows = (s: Scenario, argv: string[], baseline: Scenario | null = null): string[] =>
  candidatePeers(s, parseOptions(argv, false), baseline, NGINX).map((p) => p.name);

describe('the rows of a scenario', () => {
  it('--peer picks the reference rows beside the gateway', () => {
    expect(rows(plain, [])).toEqual(['gateway', 'nginx', 'origin (direct)']);
    expect(rows(plain, ['--peer', 'nginx'])).toEqual(['gateway', 'nginx']);
    expect(rows(plain, ['--peer', 'direct'])).toEqual(['gateway', 'origin (direct)']);
    expect(rows(plain, ['--peer', 'none'])).toEqual(['gateway']);
    expect(rows(plain, ['--peer', 'nginx', '--direct'])).toEqual(['gateway', 'nginx', 'origin (direct)']);
  });

  it('--baseline adds the gateway with the baseline config on the same request, except in the baseline scenario itself', () => {
    expect(rows(json64kProtected, ['--peer', 'none'], json64k)).toEqual(['gateway', 'gateway (json-64k)']);
    expect(rows(json64k, ['--peer', 'none'], json64k)).toEqual(['gateway']);
    const peers = candidatePeers(json64kProtected, parseOptions(['--peer', 'none'], false), plain, NGINX);
    const row = peers[1]!.scenario!;
    expect(row.request).toBe(json64kProtected.request);
    expect(row.gatewayConfig({ upstreamUrl: 'http://127.0.0.1:1', payloadSize: 1, redis: null })).toEqual(
      plain.gatewayConfig({ upstreamUrl: 'http://127.0.0.1:1', payloadSize: 1, redis: null }),
    );
  });

  it('a scenario with a background load runs the gateway without and with it, in latency mode, whatever --mode says', () => {
    expect(rows(smallUnder64k, ['--peer', 'both'])).toEqual(['gateway, alone', 'gateway + 64 KB validated POSTs']);
    const peers = candidatePeers(smallUnder64k, parseOptions([], false), null, NGINX);
    expect(peers.map((p) => p.background)).toEqual([false, true]);
    expect(scenarioMode(smallUnder64k, parseOptions(['--mode', 'throughput'], false))).toBe('latency');
    expect(scenarioMode(plain, parseOptions(['--mode', 'latency'], false))).toBe('latency');
    expect(scenarioMode(plain, parseOptions([], false))).toBe('throughput');
  });
});

describe('scenarioRequests', () => {
  it('spreads over the whole table, and a cap keeps the spread even', () => {
    const all = scenarioRequests(consumers100k);
    expect(all).toHaveLength(100_000);
    expect(new Set(all.map((r) => r.headers!['apikey'])).size).toBe(100_000);
    const capped = scenarioRequests(consumers100k, 1000);
    expect(capped).toHaveLength(1000);
    expect(new Set(capped.map((r) => r.headers!['apikey'])).size).toBe(1000);
    expect(scenarioRequests(plain)).toEqual([plain.request]);
  });
});

describe('linkBaselineScenarios', () => {
  const s = (peer: string, rps: number, cpu: number): PeerSummary => ({ peer, rps, cpuUsPerReq: cpu, p99Ms: 2, clean: true }) as PeerSummary;
  const result = (scenario: string, mode: 'throughput' | 'latency', summary: PeerSummary[]): ScenarioResult =>
    ({ scenario, settings: { mode }, summary, vsBaselineScenario: null }) as unknown as ScenarioResult;

  it("compares a scenario's gateway with its own baseline scenario's gateway when both ran in the same mode", () => {
    const scenarios = new Map<string, Scenario>([
      ['json-64k', json64k],
      ['json-64k-protected', json64kProtected],
      ['plain', plain],
    ]);
    const base = result('json-64k', 'throughput', [s('gateway', 10_000, 50), s('nginx', 20_000, 20)]);
    const protectedRun = result('json-64k-protected', 'throughput', [s('gateway', 7_500, 80)]);
    linkBaselineScenarios([base, protectedRun], scenarios);
    expect(protectedRun.vsBaselineScenario?.scenario).toBe('json-64k');
    expect(protectedRun.vsBaselineScenario?.ratio.rps).toBeCloseTo(0.75);
    expect(protectedRun.vsBaselineScenario?.ratio.cpu).toBeCloseTo(1.6);
    expect(base.vsBaselineScenario).toBeNull();

    const latency = result('json-64k-protected', 'latency', [s('gateway', 7_500, 80)]);
    linkBaselineScenarios([base, latency], scenarios);
    expect(latency.vsBaselineScenario).toBeNull();
  });
});

describe('suiteOrder', () => {
  it('runs the plain proxy first, the policies, bodies, tables, contention, then anything new by name', () => {
    expect(suiteOrder(['zeta', 'consumers-100k', 'json-64k', 'plain', 'alpha', 'key-auth-rate-limiting', 'small-get-under-json-64k'])).toEqual([
      'plain',
      'key-auth-rate-limiting',
      'json-64k',
      'consumers-100k',
      'small-get-under-json-64k',
      'alpha',
      'zeta',
    ]);
  });
});
