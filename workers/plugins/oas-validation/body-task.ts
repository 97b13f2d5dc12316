/**
 * The piscina task that parses and validates a large JSON request body off a worker's
 * event loop (see body-offload.ts). Plain data in, plain data out.
 *
 * The task carries the compiled spec's shared buffer (shared, not copied) and where the
 * validator it needs, and every validator that one links to, are in it; the thread
 * evaluates each once and keeps it, per compiled spec (digest), for the few specs seen last.
 */
import { checkJsonBody, type BodyOutcome } from './body-check.js';
import type { Span } from './plan.js';
import { ValidatorSet } from './spec-runtime.js';

export interface BodyTask {
  /** CompiledSpec.digest: the validator names below are this compilation's. */
  digest: string;
  /** CompiledSpec.blob. */
  blob: SharedArrayBuffer;
  /** The validator to run. */
  name: string;
  /** Where `name` and everything it links to are in the blob. */
  spans: Record<string, Span>;
  /** The body (its buffer transferred, not copied). */
  body: Uint8Array;
}

/** Specs whose evaluated validators this thread keeps (a reload brings a new digest). */
const KEPT_SPECS = 4;

interface Kept {
  spans: Map<string, Span>;
  bytes: Buffer;
  set: ValidatorSet;
}

const kept = new Map<string, Kept>();

function specFor(digest: string, blob: SharedArrayBuffer): Kept {
  let k = kept.get(digest);
  if (k !== undefined) {
    // Most recently used last.
    kept.delete(digest);
    kept.set(digest, k);
    return k;
  }
  const spans = new Map<string, Span>();
  const bytes = Buffer.from(blob);
  k = {
    spans,
    bytes,
    set: new ValidatorSet((name) => {
      const s = spans.get(name);
      return s === undefined ? undefined : bytes.toString('utf8', s[0], s[0] + s[1]);
    }),
  };
  kept.set(digest, k);
  if (kept.size > KEPT_SPECS) kept.delete(kept.keys().next().value!);
  return k;
}

export default function validateBodyTask(task: BodyTask): BodyOutcome {
  const spec = specFor(task.digest, task.blob);
  for (const name in task.spans) if (!spec.spans.has(name)) spec.spans.set(name, task.spans[name]!);
  return checkJsonBody(task.body, spec.set.get(task.name));
}
