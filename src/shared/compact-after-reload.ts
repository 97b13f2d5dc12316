/**
 * A full garbage collection once config reloads have stopped for a moment.
 *
 * Every reload leaves a whole config generation (router, pipelines, plugin state) to the
 * garbage collector once the requests pinned to it finish. V8 collects it eventually, but
 * on its own schedule: RSS then wanders by tens of MB with the timing of the next major GC,
 * and after a burst of reloads the heap keeps the size it grew to. A reload is a rare,
 * operator-driven event, so one deliberate full GC shortly after the last one (a pause of a
 * few ms on a heap of this size) buys a memory level that returns to where it was.
 *
 * `gc` is not exposed by default; --expose-gc set at run time applies to new contexts, so
 * the function is taken from a fresh vm context (the V8 flag is process-wide).
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** Quiet time after the last reload before collecting. */
export const COMPACT_DELAY_MS = 1000;

let gcFn: (() => void) | null | undefined;
let timer: NodeJS.Timeout | null = null;

function collector(): (() => void) | null {
  if (gcFn !== undefined) return gcFn;
  try {
    setFlagsFromString('--expose-gc');
    gcFn = runInNewContext('gc') as () => void;
  } catch {
    gcFn = null;
  }
  return gcFn;
}

/** Schedules a full GC COMPACT_DELAY_MS after the last call (debounced). */
export function compactAfterReload(delayMs = COMPACT_DELAY_MS): void {
  if (timer !== null) clearTimeout(timer);
  timer = setTimeout(() => {
    timer = null;
    const gc = collector();
    if (gc !== null) gc();
  }, delayMs);
  timer.unref();
}
