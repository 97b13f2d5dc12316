/**
 * The bench end to end, as a user runs it (dist/bench/run.js, built by `npm test`): a real gateway,
 * the nginx origin, wrk or autocannon, the open-loop generator, the results directory. Short runs:
 * this checks that the bench works and says what it measured, not how fast anything is.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BENCH = join(ROOT, 'dist', 'bench', 'run.js');
const dir = mkdtempSync(join(tmpdir(), 'portcullis-bench-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function bench(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BENCH, ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** A --gateway-bin that records the environment it was started with, then runs the real gateway. */
function envRecordingGateway(out: string): string {
  const file = join(dir, 'gateway-with-env-record.mjs');
  writeFileSync(
    file,
    `import { writeFileSync } from 'node:fs';
writeFileSync(${JSON.stringify(out)}, JSON.stringify(process.env));
await import(${JSON.stringify(new URL('../bin/portcullis.js', import.meta.url).href)});
`,
  );
  return file;
}

describe('npm run bench', () => {
  it('throughput mode: the gateway and the direct origin, results as JSON, markdown and SVG, the gateway started with the bench environment', async () => {
    const envOut = join(dir, 'gateway-env.json');
    const results = join(dir, 'results');
    const r = await bench(
      ['--scenario', 'plain', '--peer', 'direct', '--duration', '1', '--warmup', '0', '--results-dir', results, '--cpu-affinity', 'off', '--gateway-bin', envRecordingGateway(envOut)],
      { BENCH_TEST_MARKER: 'inherited', PORTCULLIS_LOG_LEVEL: 'error' },
    );
    expect(r.code, r.stderr).toBe(0);
    // The gateway saw the caller's variables and the affinity flag.
    const env = JSON.parse(readFileSync(envOut, 'utf8')) as Record<string, string>;
    expect(env['BENCH_TEST_MARKER']).toBe('inherited');
    expect(env['PORTCULLIS_LOG_LEVEL']).toBe('error');
    expect(env['PORTCULLIS_CPU_AFFINITY']).toBe('off');

    // The line other tools read, pointing at the JSON with the single-scenario fields at the top.
    const json = /^results: (.+)$/m.exec(r.stdout)?.[1]?.trim();
    expect(json).toBeDefined();
    expect(json!.startsWith(results)).toBe(true);
    const data = JSON.parse(readFileSync(json!, 'utf8'));
    expect(data.schema).toBe('portcullis-bench/2');
    expect(data.summary.map((s: { peer: string }) => s.peer)).toEqual(['gateway', 'origin (direct)']);
    const gw = data.summary[0];
    expect(gw.rps).toBeGreaterThan(0);
    expect(gw.cpuUsPerReq).toBeGreaterThan(0);
    expect(gw.errors).toBe(0);
    expect(data.failures).toEqual([]);
    // Every result states its conditions.
    expect(data.scenarios[0].settings).toMatchObject({
      mode: 'throughput',
      connections: 64,
      keepAlive: true,
      pipelining: 1,
      workers: 2,
      cores: expect.any(Number),
      durationSec: 1,
      rounds: 1,
      requestBodyBytes: 0,
      responseBodyBytes: 128,
      cpuAffinity: 'off',
      tool: expect.stringMatching(/^(wrk|autocannon)$/),
    });
    const md = readFileSync(join(json!, '..', 'results.md'), 'utf8');
    expect(md).toMatch(/\| plain \| gateway \| closed loop \| [\d,]+ \|/);
    const svg = readFileSync(join(json!, '..', 'chart.svg'), 'utf8');
    expect(svg).toContain('requests per second');
    expect(svg).toContain('>plain<');
  });

  it('latency mode: open loop at the given rate, corrected percentiles next to uncorrected ones', async () => {
    const results = join(dir, 'results-latency');
    const r = await bench(['--scenario', 'plain', '--peer', 'none', '--mode', 'latency', '--rate', '300', '--duration', '2', '--warmup', '0', '--results-dir', results]);
    expect(r.code, r.stderr).toBe(0);
    const json = /^results: (.+)$/m.exec(r.stdout)![1]!.trim();
    const data = JSON.parse(readFileSync(json, 'utf8'));
    const s = data.scenarios[0];
    expect(s.settings).toMatchObject({ mode: 'latency', rate: 300, rateSource: '--rate', loadGenerator: expect.stringContaining('open loop') });
    const gw = s.summary[0];
    expect(gw.peer).toBe('gateway');
    expect(gw.requests).toBe(600);
    expect(gw.openLoop).toMatchObject({ offeredRate: 300, unsent: 0 });
    expect(gw.p99Ms).toBeGreaterThanOrEqual(gw.openLoop.uncorrectedP99Ms);
    expect(r.stdout).toContain('p99 uncorrected');
    expect(existsSync(join(json, '..', 'chart.svg'))).toBe(true);
  });

  it('refuses an unknown scenario before starting anything', async () => {
    const r = await bench(['--scenario', 'plain,nope', '--results-dir', join(dir, 'never')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown scenario 'nope'");
    expect(existsSync(join(dir, 'never'))).toBe(false);
  });
});
