/**
 * --cpu-affinity on a real gateway process: each worker's kernel thread id comes from
 * GET /status, and /proc/<pid>/task/<tid>/status (Cpus_allowed_list) is the kernel's word on
 * where that thread may run. Also: a replacement thread is pinned like the one it replaces,
 * bad values are refused at start, and without the addon the gateway starts unpinned and
 * says why.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { parseCpuList } from '../../src/shared/cpu-list.js';
import { adminGet, adminPost, freePort, launch, runCli, stopProc, waitReady, type Proc, type Status } from '../helpers/proc.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!().catch(() => undefined);
});

interface AffinityWorker {
  id: number;
  tid: number | null;
  cpu: number | null;
  state: string;
}

interface Gw {
  p: Proc;
  proxyPort: number;
  adminPort: number;
  status: Status;
  workers: AffinityWorker[];
}

async function gateway(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Gw> {
  const proxyPort = await freePort();
  const adminPort = await freePort();
  const all = ['start', '--proxy-listen', `127.0.0.1:${proxyPort}`, '--admin-listen', `127.0.0.1:${adminPort}`, ...args];
  const p = launch(all, { PORTCULLIS_LOG_LEVEL: 'info', ...env });
  cleanups.push(() => stopProc(p));
  const status = await waitReady(p, adminPort);
  const workers = (status.workers as unknown as AffinityWorker[]).slice().sort((a, b) => a.id - b.id);
  return { p, proxyPort, adminPort, status, workers };
}

function statusField(path: string, field: string): string {
  const m = new RegExp(`^${field}:\\s*(\\S+)$`, 'm').exec(readFileSync(path, 'utf8'));
  if (m === null) throw new Error(`no ${field} in ${path}`);
  return m[1]!;
}

/** Where the kernel lets this thread of the gateway run. */
const threadCpus = (pid: number, tid: number): string => statusField(`/proc/${pid}/task/${tid}/status`, 'Cpus_allowed_list');
/** Where the gateway process may run (its main thread, which is never pinned). */
const processCpus = (pid: number): string => statusField(`/proc/${pid}/status`, 'Cpus_allowed_list');

/** Cores the test process may use: the gateway inherits them. */
const allowed = parseCpuList(statusField('/proc/self/status', 'Cpus_allowed_list'));

function expectPinned(gw: Gw, expected: number[]): void {
  expect(gw.workers.map((w) => w.cpu)).toEqual(expected);
  for (const w of gw.workers) {
    expect(w.tid).toEqual(expect.any(Number));
    expect(w.tid).not.toBe(gw.status.pid);
    expect(threadCpus(gw.status.pid, w.tid!)).toBe(String(w.cpu));
  }
}

describe('--cpu-affinity', () => {
  it('auto: worker i is pinned to the i-th allowed core (kernel view), logs its core, and the other threads stay unpinned', async () => {
    const gw = await gateway(['--workers', '2', '--cpu-affinity', 'auto']);
    const expected = [0, 1].map((i) => allowed[i % allowed.length]!);
    expectPinned(gw, expected);
    for (const w of gw.workers) {
      await gw.p.waitForLog((l) => l.worker === w.id && l.msg === `worker pinned to CPU core ${w.cpu}` && l.tid === w.tid);
    }
    const pid = gw.status.pid;
    expect(processCpus(pid)).toBe(statusField('/proc/self/status', 'Cpus_allowed_list'));
    const workerTids = new Set(gw.workers.map((w) => w.tid));
    const others = readdirSync(`/proc/${pid}/task`).map(Number).filter((tid) => !workerTids.has(tid));
    expect(others.length).toBeGreaterThan(1);
    for (const tid of others) expect(threadCpus(pid, tid)).toBe(processCpus(pid));
    // It still proxies.
    const res = await fetch(`http://127.0.0.1:${gw.proxyPort}/echo`);
    expect(res.status).toBe(200);
  });

  it('LIST: worker i gets LIST[i mod length] (reversed order, and one core shared by 3 workers through the environment)', async () => {
    const reversed = [...allowed].reverse();
    const gw = await gateway(['--workers', '2', '--cpu-affinity', reversed.join(',')]);
    expectPinned(gw, [0, 1].map((i) => reversed[i % reversed.length]!));

    const last = allowed[allowed.length - 1]!;
    const viaEnv = await gateway(['--workers', '3'], { PORTCULLIS_CPU_AFFINITY: `${last}-${last}` });
    expectPinned(viaEnv, [last, last, last]);
  });

  it('a restarted worker is pinned to its slot\'s core again', async () => {
    const gw = await gateway(['--workers', '2', '--cpu-affinity', 'auto']);
    const before = gw.workers[1]!;
    const r = await adminPost(gw.adminPort, '/workers/1/restart');
    expect(r.status).toBe(200);
    const after = ((await adminGet(gw.adminPort, '/status')).body as { workers: AffinityWorker[] }).workers.find((w) => w.id === 1)!;
    expect(after.tid).not.toBe(before.tid);
    expect(after.cpu).toBe(before.cpu);
    expect(threadCpus(gw.status.pid, after.tid!)).toBe(String(before.cpu));
  });

  it('off (the default): no worker is pinned; each may run wherever the process may', async () => {
    for (const args of [['--cpu-affinity', 'off'], []]) {
      const gw = await gateway(['--workers', '2', ...args]);
      expect(gw.workers.map((w) => w.cpu)).toEqual([null, null]);
      for (const w of gw.workers) {
        expect(w.tid).toEqual(expect.any(Number));
        expect(threadCpus(gw.status.pid, w.tid!)).toBe(processCpus(gw.status.pid));
      }
      expect(gw.p.output()).not.toMatch(/pinned|CPU affinity/);
      await stopProc(gw.p);
    }
  });

  it('refuses malformed values and cores the process may not use, before starting (exit 2)', async () => {
    const bad = await runCli(['start', '--admin-listen', 'off', '--cpu-affinity', '0-x']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain(`portcullis: cpu-affinity: expected 'off', 'auto' or core ids like 0,1 or 0-3: '0-x' is not a core id or a range like 0-3`);

    const outside = await runCli(['start', '--admin-listen', 'off', '--cpu-affinity', `0,4095`]);
    expect(outside.code).toBe(2);
    expect(outside.stderr).toContain(`portcullis: cpu-affinity: core 4095 not available to this process (allowed: ${statusField('/proc/self/status', 'Cpus_allowed_list')})`);

    const fromEnv = await runCli(['start', '--admin-listen', 'off'], { env: { PORTCULLIS_CPU_AFFINITY: '2-1' } });
    expect(fromEnv.code).toBe(2);
    expect(fromEnv.stderr).toContain(`'2-1': a range goes from the lower id to the higher one`);
  });

  it('without the addon the gateway starts, serves unpinned, and says once why affinity is unavailable', async () => {
    const missing = '/nonexistent/portcullis_affinity.node';
    const gw = await gateway(['--workers', '2', '--cpu-affinity', 'auto'], { PORTCULLIS_NATIVE_BINDINGS: missing });
    const warnings = gw.p.logs().filter((l) => l.msg === 'CPU affinity is unavailable; workers run unpinned');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.reason).toMatch(new RegExp(`^cannot load ${missing}: Cannot find module`));
    expect(warnings[0]!.level).toBe(40);
    expect(gw.workers.map((w) => [w.cpu, w.tid])).toEqual([
      [null, null],
      [null, null],
    ]);
    expect(gw.p.output()).not.toMatch(/pinned to CPU core/);
    expect((await fetch(`http://127.0.0.1:${gw.proxyPort}/echo`)).status).toBe(200);

    const off = await gateway(['--workers', '1', '--cpu-affinity', '0'], { PORTCULLIS_NATIVE_BINDINGS: 'off' });
    expect(off.p.logs().filter((l) => l.msg === 'CPU affinity is unavailable; workers run unpinned').map((l) => l.reason)).toEqual([
      'native bindings turned off (PORTCULLIS_NATIVE_BINDINGS=off)',
    ]);
    expect(off.workers[0]!.cpu).toBeNull();
  });
});
