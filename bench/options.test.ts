import { describe, expect, it } from 'vitest';
import { parseCpuAffinity, parseOptions, resolveScenarioNames } from './options.js';

describe('parseOptions', () => {
  it('defaults: throughput mode, nginx and the direct origin beside the gateway, 2 workers, no affinity set', () => {
    const o = parseOptions([], false);
    expect(o).toMatchObject({
      workers: 2,
      durationSec: 10,
      warmupSec: 2,
      connections: 64,
      peer: 'both',
      mode: 'throughput',
      rate: null,
      rateFraction: 0.5,
      cpuAffinity: null,
      scenario: 'plain',
      baseline: null,
      rounds: 1,
      resultsDir: null,
      progress: false,
    });
  });

  it('keeps the flags other tools call it with', () => {
    const o = parseOptions(
      ['--rounds', '3', '--duration', '20', '--scenario', 'key-auth', '--baseline', 'plain', '--peer', 'none', '--workers', '1', '--gateway-bin', '/opt/other/bin/portcullis.js'],
      false,
    );
    expect(o).toMatchObject({ rounds: 3, durationSec: 20, scenario: 'key-auth', baseline: 'plain', peer: 'none', workers: 1, gatewayBin: '/opt/other/bin/portcullis.js' });
    expect(parseOptions(['--peer', 'nginx'], false).peer).toBe('nginx');
  });

  it('--peer selects nginx, direct, both or none, and nothing else', () => {
    for (const p of ['nginx', 'direct', 'both', 'none'] as const) expect(parseOptions(['--peer', p], false).peer).toBe(p);
    expect(() => parseOptions(['--peer', 'envoy'], false)).toThrow(/--peer must be one of nginx\|direct\|both\|none/);
  });

  it('--mode latency with --rate or --rate-fraction', () => {
    expect(parseOptions(['--mode', 'latency', '--rate', '12000'], false)).toMatchObject({ mode: 'latency', rate: 12000 });
    expect(parseOptions(['--mode', 'latency', '--rate-fraction', '0.3'], false)).toMatchObject({ mode: 'latency', rate: null, rateFraction: 0.3 });
    expect(() => parseOptions(['--mode', 'open'], false)).toThrow(/--mode must be one of throughput\|latency/);
    expect(() => parseOptions(['--rate', '0'], false)).toThrow(/--rate must be between 1/);
    expect(() => parseOptions(['--rate', '1.5k'], false)).toThrow(/whole number/);
    for (const bad of ['0', '1.5', '-0.2', 'half', '']) expect(() => parseOptions(['--rate-fraction', bad], false)).toThrow(/--rate-fraction/);
  });

  it('--cpu-affinity accepts auto, off and core lists, and rejects anything else before a peer starts', () => {
    expect(parseOptions(['--cpu-affinity', 'auto'], false).cpuAffinity).toBe('auto');
    expect(parseCpuAffinity('off')).toBe('off');
    expect(parseCpuAffinity('0,1')).toBe('0,1');
    expect(parseCpuAffinity('0-3,6')).toBe('0-3,6');
    expect(parseCpuAffinity(undefined)).toBeNull();
    for (const bad of ['yes', '1-0', '0,,1', '0;1', '-1', 'a-b', '']) expect(() => parseCpuAffinity(bad)).toThrow(/--cpu-affinity/);
  });

  it('draws the progress bar only on a terminal, and never with --no-progress', () => {
    expect(parseOptions([], true).progress).toBe(true);
    expect(parseOptions([], false).progress).toBe(false);
    expect(parseOptions(['--no-progress'], true).progress).toBe(false);
  });

  it('rejects unknown flags and out-of-range numbers', () => {
    expect(() => parseOptions(['--bogus'], false)).toThrow();
    expect(() => parseOptions(['--workers', '0'], false)).toThrow(/--workers must be between 1 and 256/);
    expect(() => parseOptions(['--duration', '2.5'], false)).toThrow(/whole number/);
  });
});

describe('resolveScenarioNames', () => {
  const known = ['plain', 'key-auth', 'json-64k'];

  it("'all' is every scenario, in the suite's order", () => {
    expect(resolveScenarioNames('all', known)).toEqual(['plain', 'key-auth', 'json-64k']);
  });

  it('a list keeps its order and drops repeats', () => {
    expect(resolveScenarioNames('plain,json-64k, plain', known)).toEqual(['plain', 'json-64k']);
  });

  it('names every unknown scenario and the known ones', () => {
    expect(() => resolveScenarioNames('plain,nope,nada', known)).toThrow("unknown scenario 'nope', 'nada'; known: plain, key-auth, json-64k, or all");
    expect(() => resolveScenarioNames(',', known)).toThrow(/no scenario named/);
  });
});
