/**
 * CPU affinity through the native addon (native-bindings/, built by `npm run build:native`).
 * Loading never throws: without the addon (not built, not Linux, or turned off) the gateway
 * runs unpinned and says why. Every call acts on the calling OS thread only, so a worker
 * thread pins itself.
 *
 * PORTCULLIS_NATIVE_BINDINGS: unset (or 'on') loads native-bindings/build/Release/
 * portcullis_affinity.node; 'off' does not load it; anything else is the path of the .node file.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { formatCpuList } from './cpu-list.js';
import type { CpuAffinitySetting } from './settings.js';

export const NATIVE_BINDINGS_ENV = 'PORTCULLIS_NATIVE_BINDINGS';

export interface AffinityBinding {
  /** Cores the calling thread may run on, ascending. */
  getAffinity(): number[];
  /** Restricts the calling thread to these cores (throws with the errno message on failure). */
  setAffinity(cpus: number[]): void;
  /** The calling thread's kernel id (gettid): /proc/<pid>/task/<tid>/. */
  threadId(): number;
}

export type AffinitySupport = { available: true; binding: AffinityBinding; path: string } | { available: false; reason: string };

// From src/shared/ (tests run the sources) and from dist/src/shared/ (the built gateway).
const DEFAULT_ADDON_PATHS = ['../../native-bindings/build/Release/portcullis_affinity.node', '../../../native-bindings/build/Release/portcullis_affinity.node'].map(
  (rel) => fileURLToPath(new URL(rel, import.meta.url)),
);

const require = createRequire(import.meta.url);
const loaded = new Map<string, AffinitySupport>();

/** The addon, or why it is unavailable; loaded once per process and thread (per setting). */
export function loadAffinity(env: NodeJS.ProcessEnv = process.env): AffinitySupport {
  const setting = (env[NATIVE_BINDINGS_ENV] ?? '').trim();
  let support = loaded.get(setting);
  if (support === undefined) {
    support = tryLoad(setting);
    loaded.set(setting, support);
  }
  return support;
}

function tryLoad(setting: string): AffinitySupport {
  if (setting.toLowerCase() === 'off') return { available: false, reason: `native bindings turned off (${NATIVE_BINDINGS_ENV}=off)` };
  if (process.platform !== 'linux') return { available: false, reason: `CPU affinity needs Linux (this is ${process.platform})` };
  let path: string;
  if (setting === '' || setting.toLowerCase() === 'on') {
    const found = DEFAULT_ADDON_PATHS.find((p) => existsSync(p));
    if (found === undefined) {
      return { available: false, reason: 'the native addon is not built (native-bindings/build/Release/portcullis_affinity.node; run `npm run build:native`)' };
    }
    path = found;
  } else {
    path = setting;
  }
  try {
    const binding = require(path) as Partial<AffinityBinding>;
    if (typeof binding.getAffinity !== 'function' || typeof binding.setAffinity !== 'function' || typeof binding.threadId !== 'function') {
      return { available: false, reason: `${path} is not the affinity addon (no getAffinity/setAffinity/threadId)` };
    }
    return { available: true, binding: binding as AffinityBinding, path };
  } catch (err) {
    return { available: false, reason: `cannot load ${path}: ${(err as Error).message.split('\n')[0]}` };
  }
}

/** What the CLI does with --cpu-affinity before the workers start. */
export interface AffinityPlan {
  /** Worker i goes on cores[i mod length]; null: workers stay unpinned. */
  cores: number[] | null;
  /** Affinity was asked for but cannot be applied: log it once, start anyway. */
  unavailable: string | null;
  /** A core the process may not use: a settings error. */
  error: string | null;
}

/**
 * Resolves the setting against the cores this process may use (the calling thread's mask:
 * call it on the main thread, before anything pins it). 'auto' becomes that set, ascending;
 * a list must name only cores in it (sched_setaffinity would refuse the others).
 */
export function planCpuAffinity(setting: CpuAffinitySetting | undefined, support: AffinitySupport): AffinityPlan {
  if (setting === undefined || setting === 'off') return { cores: null, unavailable: null, error: null };
  if (!support.available) return { cores: null, unavailable: support.reason, error: null };
  let allowed: number[];
  try {
    allowed = support.binding.getAffinity();
  } catch (err) {
    return { cores: null, unavailable: `cannot read this process's allowed cores: ${(err as Error).message}`, error: null };
  }
  if (setting === 'auto') return { cores: allowed, unavailable: null, error: null };
  const outside = [...new Set(setting.filter((cpu) => !allowed.includes(cpu)))];
  if (outside.length > 0) {
    return {
      cores: null,
      unavailable: null,
      error: `cpu-affinity: core${outside.length > 1 ? 's' : ''} ${formatCpuList(outside)} not available to this process (allowed: ${formatCpuList(allowed)})`,
    };
  }
  return { cores: setting, unavailable: null, error: null };
}

/** Where a worker thread ended up: reported to the supervisor and shown by GET /status. */
export interface ThreadPinning {
  type: 'affinity';
  /** The core this thread is pinned to; null when unpinned. */
  cpu: number | null;
  /** The thread's kernel id; null without the addon. */
  tid: number | null;
  /** Why pinning was asked for and failed (the thread then runs unpinned). */
  error: string | null;
}

/**
 * Pins the calling thread (a worker) to its core: `cores[workerIndex mod length]`. 'auto'
 * here (a Supervisor started without the CLI) uses the thread's inherited mask, which is the
 * creating thread's. Never throws.
 */
export function pinCurrentThread(setting: CpuAffinitySetting | undefined, workerIndex: number, support: AffinitySupport = loadAffinity()): ThreadPinning {
  if (!support.available) return { type: 'affinity', cpu: null, tid: null, error: setting === undefined || setting === 'off' ? null : support.reason };
  const { binding } = support;
  const tid = binding.threadId();
  if (setting === undefined || setting === 'off') return { type: 'affinity', cpu: null, tid, error: null };
  try {
    const cores = setting === 'auto' ? binding.getAffinity() : setting;
    const cpu = cores[workerIndex % cores.length];
    if (cpu === undefined) return { type: 'affinity', cpu: null, tid, error: 'no core to pin to' };
    binding.setAffinity([cpu]);
    return { type: 'affinity', cpu, tid, error: null };
  } catch (err) {
    return { type: 'affinity', cpu: null, tid, error: (err as Error).message };
  }
}

