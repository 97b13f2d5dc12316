/**
 * V8 settings the gateway applies to itself when it starts serving (process-wide: the
 * worker threads share them).
 *
 * `--no-allocation-site-pretenuring`. V8 watches each allocation site and, when most of its
 * objects survive a young-generation GC, allocates the site's later objects straight in
 * the old generation. Under load, the proxy's per-request objects (request context, header
 * lists, the upstream request) are all alive at the moment of a scavenge often enough for
 * that to happen, so they are pretenured even though each lives about a millisecond. The
 * old generation then fills with short-lived garbage, their young strings and arrays are
 * kept alive from old space and promoted, and the workers run a full mark-compact about
 * once a second. Measured on the bench machine (plain proxy, 2 workers, wrk -c64, traced
 * with --trace-gc-nvp): with pretenuring, ~1 MB promoted per scavenge, scavenges of 2-6 ms
 * and a mark-compact per second per worker; without it, nothing promoted, 0.4-1.6 ms
 * scavenges, and 28.3 against 32.6 CPU µs per request over five interleaved pairs
 * (docs/tuning.md).
 *
 * The flag is read by the heap at every GC, so setting it at run time takes effect. A user
 * who sets it explicitly (node --allocation-site-pretenuring, NODE_OPTIONS) keeps theirs.
 */
import { setFlagsFromString } from 'node:v8';

const PRETENURING = 'allocation-site-pretenuring';

/** Applies the settings above; returns the flags it set (for the start-up log). */
export function applyV8Tuning(execArgv: readonly string[] = process.execArgv, nodeOptions = process.env.NODE_OPTIONS ?? ''): string[] {
  const applied: string[] = [];
  const chosen = execArgv.some((a) => a.includes(PRETENURING)) || nodeOptions.includes(PRETENURING);
  if (!chosen) {
    setFlagsFromString(`--no-${PRETENURING}`);
    applied.push(`--no-${PRETENURING}`);
  }
  return applied;
}
