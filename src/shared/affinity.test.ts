/**
 * The affinity addon on real threads: a worker_thread pins itself and only itself (the
 * kernel's view in /proc agrees), errors come back as exceptions, and a missing or
 * disabled addon is reported, never thrown.
 */
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { loadAffinity, NATIVE_BINDINGS_ENV, pinCurrentThread, planCpuAffinity, type AffinitySupport } from './affinity.js';
import { parseCpuList } from './cpu-list.js';

/** Cpus_allowed_list of a thread of this process, as the kernel reports it. */
function allowedList(tid: number | 'self'): string {
  const path = tid === 'self' ? '/proc/thread-self/status' : `/proc/self/task/${tid}/status`;
  const m = /^Cpus_allowed_list:\s*(\S+)$/m.exec(readFileSync(path, 'utf8'));
  if (m === null) throw new Error(`no Cpus_allowed_list in ${path}`);
  return m[1]!;
}

function addon(): AffinitySupport & { available: true } {
  const support = loadAffinity({});
  if (!support.available) throw new Error(`the addon must be built for this test (npm run build:native): ${support.reason}`);
  return support;
}

interface WorkerReport {
  before: number[];
  after: number[];
  tid: number;
  errors: Array<{ name: string; message: string; errno?: number }>;
}

/**
 * Runs the addon in a worker thread: pins the thread to `cpu`, reports its mask before and
 * after and its tid, then keeps the thread alive until told to exit (so its /proc entry
 * can be read).
 */
function inWorker(addonPath: string, cpu: number, badCalls: unknown[][] = []): Promise<{ report: WorkerReport; release: () => Promise<number> }> {
  const code = `
    const { parentPort, workerData } = require('node:worker_threads');
    const a = require(workerData.addonPath);
    const before = a.getAffinity();
    a.setAffinity([workerData.cpu]);
    const errors = [];
    for (const args of workerData.badCalls) {
      try { a.setAffinity(...args); } catch (e) { errors.push({ name: e.name, message: e.message, errno: e.errno }); }
    }
    parentPort.postMessage({ before, after: a.getAffinity(), tid: a.threadId(), errors });
    parentPort.once('message', () => process.exit(0));
  `;
  const w = new Worker(code, { eval: true, workerData: { addonPath, cpu, badCalls } });
  const exited = new Promise<number>((resolve) => w.once('exit', resolve));
  return new Promise((resolve, reject) => {
    w.once('error', reject);
    w.once('message', (report: WorkerReport) =>
      resolve({
        report,
        release: () => {
          w.postMessage('exit');
          return exited;
        },
      }),
    );
  });
}

describe('the affinity addon', () => {
  it('pins the calling worker thread only: its mask changes, the main thread keeps the process mask', async () => {
    const { binding, path } = addon();
    const processCores = binding.getAffinity();
    expect(processCores).toEqual(parseCpuList(allowedList('self')));
    const target = processCores[processCores.length - 1]!;

    const { report, release } = await inWorker(path, target);
    try {
      expect(report.before).toEqual(processCores);
      expect(report.after).toEqual([target]);
      expect(report.tid).not.toBe(process.pid);
      // The kernel's view of that thread, read from outside it.
      expect(allowedList(report.tid)).toBe(String(target));
      // Every other thread of the process (this one, V8's and libuv's) keeps the process mask.
      expect(binding.getAffinity()).toEqual(processCores);
      const others = readdirSync('/proc/self/task').map(Number).filter((tid) => tid !== report.tid);
      expect(others.length).toBeGreaterThan(1);
      for (const tid of others) expect(allowedList(tid)).toBe(allowedList('self'));
    } finally {
      expect(await release()).toBe(0);
    }
  });

  it('gives the main thread its kernel thread id (the pid)', () => {
    expect(addon().binding.threadId()).toBe(process.pid);
  });

  it('throws on cores the kernel refuses and on malformed arguments, leaving the mask as it was', async () => {
    const { binding, path } = addon();
    const cores = binding.getAffinity();
    const outside = 4095; // no test machine has this core
    const { report, release } = await inWorker(path, cores[0]!, [[[outside]], [[]], [[-1]], [[1.5]], [['0']], ['0']]);
    try {
      expect(report.errors).toEqual([
        { name: 'Error', message: 'sched_setaffinity: Invalid argument', errno: 22 },
        { name: 'TypeError', message: 'setAffinity(cpus): at least one core id is needed' },
        { name: 'RangeError', message: 'setAffinity(cpus): core ids are integers from 0 to 65535' },
        { name: 'RangeError', message: 'setAffinity(cpus): core ids are integers from 0 to 65535' },
        { name: 'RangeError', message: 'setAffinity(cpus): core ids are integers from 0 to 65535' },
        { name: 'TypeError', message: 'setAffinity(cpus): cpus must be an array of core ids' },
      ]);
      expect(report.after).toEqual([cores[0]]);
    } finally {
      await release();
    }
  });
});

describe('loadAffinity without the addon', () => {
  it(`${NATIVE_BINDINGS_ENV}=off: unavailable, with the reason`, () => {
    expect(loadAffinity({ [NATIVE_BINDINGS_ENV]: 'off' })).toEqual({ available: false, reason: `native bindings turned off (${NATIVE_BINDINGS_ENV}=off)` });
  });

  it('a path with no addon: unavailable, says which file and why, does not throw', () => {
    const support = loadAffinity({ [NATIVE_BINDINGS_ENV]: '/nonexistent/portcullis_affinity.node' });
    expect(support.available).toBe(false);
    expect(!support.available && support.reason).toMatch(/^cannot load \/nonexistent\/portcullis_affinity\.node: Cannot find module/);
  });

  it('a module that is not the addon: unavailable', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'portcullis-affinity-')), 'other.cjs');
    writeFileSync(file, 'module.exports = { getAffinity() { return [0]; } };');
    const support = loadAffinity({ [NATIVE_BINDINGS_ENV]: file });
    expect(support).toEqual({ available: false, reason: `${file} is not the affinity addon (no getAffinity/setAffinity/threadId)` });
  });

  it('pinCurrentThread reports the reason instead of pinning, and nothing when affinity is off', () => {
    const missing = { available: false as const, reason: 'not built' };
    expect(pinCurrentThread([0], 0, missing)).toEqual({ type: 'affinity', cpu: null, tid: null, error: 'not built' });
    expect(pinCurrentThread('off', 0, missing)).toEqual({ type: 'affinity', cpu: null, tid: null, error: null });
    // 'off' with the addon: the thread id, no pinning (this is the test's main thread).
    expect(pinCurrentThread('off', 3, addon())).toEqual({ type: 'affinity', cpu: null, tid: process.pid, error: null });
  });
});

describe('planCpuAffinity', () => {
  it("'auto' is the process's allowed cores; a list must stay inside them", () => {
    const support = addon();
    const allowed = parseCpuList(allowedList('self'));
    expect(planCpuAffinity('auto', support)).toEqual({ cores: allowed, unavailable: null, error: null });
    const reversed = [...allowed].reverse();
    expect(planCpuAffinity(reversed, support)).toEqual({ cores: reversed, unavailable: null, error: null });
    expect(planCpuAffinity([allowed[0]!, 4094, 4095], support)).toEqual({
      cores: null,
      unavailable: null,
      error: `cpu-affinity: cores 4094-4095 not available to this process (allowed: ${allowedList('self')})`,
    });
  });

  it('off (or absent) needs nothing; without the addon, asking for affinity gives the reason to log', () => {
    const missing = { available: false as const, reason: 'not built' };
    expect(planCpuAffinity('off', missing)).toEqual({ cores: null, unavailable: null, error: null });
    expect(planCpuAffinity(undefined, missing)).toEqual({ cores: null, unavailable: null, error: null });
    expect(planCpuAffinity('auto', missing)).toEqual({ cores: null, unavailable: 'not built', error: null });
    expect(planCpuAffinity([0], missing)).toEqual({ cores: null, unavailable: 'not built', error: null });
  });
});
