/**
 * `npm run perf:profile` end to end: a real gateway with 2 worker threads under --cpu-prof, the
 * bench's origin and load tool, a short load. Proves that each worker thread writes a profile
 * when SIGTERM drains the gateway, and that the outputs hold the profiled window only.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseCpuProfile } from './cpuprofile.js';
import type { SpeedscopeFile } from './speedscope.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DURATION_S = 2;
const INTERVAL_US = 1000;

describe('perf:profile', () => {
  const out = join(mkdtempSync(join(tmpdir(), 'perf-profile-')), 'results');
  let run: ReturnType<typeof spawnSync>;

  beforeAll(() => {
    run = spawnSync(
      process.execPath,
      [join(ROOT, 'dist', 'perf', 'profile.js'), '--scenario', 'plain', '--duration', String(DURATION_S), '--warmup', '1', '--workers', '2', '--connections', '16', '--out', out],
      { encoding: 'utf8', timeout: 90_000 },
    );
  }, 100_000);

  it('exits 0 and prints the tables', () => {
    expect(run.status, String(run.stderr)).toBe(0);
    expect(run.stdout).toContain("# Portcullis CPU profile: scenario 'plain', 2 worker thread(s)");
    expect(run.stdout).toContain('## Self time by category');
    expect(run.stdout).toContain('## Top 15 functions by self time');
  });

  it('keeps the raw profile of each worker thread, written when the gateway drained', () => {
    const raw = readdirSync(out).filter((f) => f.endsWith('.cpuprofile'));
    const workers = raw.filter((f) => /^worker-thread\d+\.cpuprofile$/.test(f));
    expect(workers).toHaveLength(2);
    expect(raw).toContain('supervisor-thread0.cpuprofile');
    for (const f of workers) {
      const p = parseCpuProfile(readFileSync(join(out, f), 'utf8'), f);
      // A worker thread's profile: it ran the uWS listener's request handler.
      expect(p.nodes.some((n) => n.callFrame.functionName === 'onRequest' && /workers\/http\/uws-listener\.js$/.test(n.callFrame.url))).toBe(true);
    }
  });

  it('writes a speedscope file with one profile per worker, cut to the profiled window', () => {
    const file = JSON.parse(readFileSync(join(out, 'profile.speedscope.json'), 'utf8')) as SpeedscopeFile;
    expect(file.$schema).toBe('https://www.speedscope.app/file-format-schema.json');
    expect(file.profiles).toHaveLength(2);
    const raw = readdirSync(out).filter((f) => /^worker-thread\d+\.cpuprofile$/.test(f)).sort();
    file.profiles.forEach((p, i) => {
      expect(p.name).toMatch(/^worker thread \d+$/);
      expect(p.weights.reduce((a, b) => a + b, 0)).toBe(p.samples.length);
      // At most one sample per interval over the window (the sampler can only fall behind)…
      expect(p.samples.length).toBeGreaterThan(0);
      expect(p.samples.length).toBeLessThanOrEqual((DURATION_S * 1e6) / INTERVAL_US + 300);
      // …while the raw profile also holds start-up, warm-up and the drain.
      const whole = parseCpuProfile(readFileSync(join(out, raw[i]!), 'utf8'), raw[i]!);
      expect(whole.samples.length).toBeGreaterThan(p.samples.length);
    });
    const names = new Set(file.shared.frames.map((f) => f.name));
    expect(names.has('onRequest')).toBe(true);
  });

  it('writes an SVG flame graph and the markdown tables, naming our TypeScript sources', () => {
    const svg = readFileSync(join(out, 'flamegraph.svg'), 'utf8');
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg).toMatch(/onRequest workers\/http\/uws-listener\.ts:\d+/);
    const md = readFileSync(join(out, 'top.md'), 'utf8');
    expect(md).toMatch(/\| our code \| \d+\.\d \|/);
    expect(md).toMatch(/\| uWS \| \d+\.\d \|/);
    expect(md).toMatch(/\| node internals \| \d+\.\d \|/);
    expect(existsSync(join(out, 'run.json'))).toBe(true);
  });
});
