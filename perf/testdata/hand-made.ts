/**
 * A small hand-made .cpuprofile for the perf/ tests, with numbers that can be counted by hand.
 *
 *   (root)
 *   ├─ (program)                      1 sample
 *   ├─ (idle)                         4
 *   ├─ (garbage collector)            1
 *   └─ onRequest   <root>/…/listener.js   2 self
 *      ├─ handle   <root>/…/runloop.js    3 self
 *      │  └─ Request   node_modules/undici/lib/core/request.js   2 self
 *      │     └─ writeLatin1String (native)                       4
 *      └─ emit   node:events                                     1 self
 *         └─ emit   node:events (recursion)                      2
 *
 * 20 samples, 16 non-idle. Self: writeLatin1String 4, handle 3, emit 3, onRequest 2, Request 2,
 * (program) 1, GC 1. Total: onRequest 14, handle 9, Request 6, writeLatin1String 4, emit 3 (once
 * per sample despite the recursion). By category: undici 6 (Request 2 + the native write it
 * called 4), our code 5, node internals 3, GC 1, (program) 1.
 */
import type { CpuProfile } from '../cpuprofile.js';

/** The scripts of our two functions, under `root`, so they count as "our code". */
export function handMadeUrls(root: string): { listener: string; runloop: string } {
  return {
    listener: `file://${root}/perf/testdata/absent/listener.js`,
    runloop: `file://${root}/perf/testdata/absent/runloop.js`,
  };
}

/** onRequest's self ticks by line: line 20 is plain JavaScript, line 21 calls uWS (see LISTENER_SOURCE). */
export const ON_REQUEST_TICKS = [
  { line: 20, ticks: 1 },
  { line: 21, ticks: 1 },
];

/** What listener.js holds at lines 20 and 21 (1-based), for the uWS call-site tests. */
export const LISTENER_SOURCE: Record<number, string> = {
  20: '        const hasBody = head.chunked || head.contentLength > 0;',
  21: '        const peer = formatBinaryAddress(res.getRemoteAddress());',
};

export function handMadeProfile(root: string, startTime = 1_000_000): CpuProfile {
  const u = handMadeUrls(root);
  const frame = (functionName: string, url: string, lineNumber = -1, columnNumber = -1) => ({
    functionName,
    scriptId: '0',
    url,
    lineNumber,
    columnNumber,
  });
  const nodes = [
    { id: 1, callFrame: frame('(root)', ''), children: [2, 3, 4, 5] },
    { id: 2, callFrame: frame('(program)', '') },
    { id: 3, callFrame: frame('(idle)', '') },
    { id: 4, callFrame: frame('(garbage collector)', '') },
    { id: 5, callFrame: frame('onRequest', u.listener, 10, 4), children: [6, 9], positionTicks: ON_REQUEST_TICKS },
    { id: 6, callFrame: frame('handle', u.runloop, 30, 2), children: [7] },
    { id: 7, callFrame: frame('Request', `file://${root}/node_modules/undici/lib/core/request.js`, 47, 2), children: [8] },
    { id: 8, callFrame: frame('writeLatin1String', '') },
    { id: 9, callFrame: frame('emit', 'node:events', 470, 34), children: [10] },
    { id: 10, callFrame: frame('emit', 'node:events', 470, 34) },
  ];
  // In time order: interleaved, as a real profile would be.
  const samples = [3, 5, 6, 7, 8, 8, 3, 9, 10, 6, 2, 4, 3, 7, 8, 8, 5, 6, 10, 3];
  return {
    nodes,
    startTime,
    endTime: startTime + samples.length * 1000,
    samples,
    timeDeltas: samples.map(() => 1000),
  };
}
