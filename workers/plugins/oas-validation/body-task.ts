/**
 * The piscina task that parses and validates a large JSON request body off a worker's
 * event loop (see body-offload.ts). Plain data in, plain data out.
 *
 * The task carries the source of the validator it needs and of every validator that one
 * links to; the thread evaluates each once and keeps it, per compiled spec (digest), for
 * the few specs seen last.
 */
import { checkJsonBody, type BodyOutcome } from './body-check.js';
import { ValidatorSet } from './spec-runtime.js';

export interface BodyTask {
  /** CompiledSpec.digest: the validator names below are this compilation's. */
  digest: string;
  /** The validator to run. */
  name: string;
  /** Source of `name` and of everything it links to. */
  code: Record<string, string>;
  /** The body (its buffer transferred, not copied). */
  body: Uint8Array;
}

/** Specs whose evaluated validators this thread keeps (a reload brings a new digest). */
const KEPT_SPECS = 4;

interface Kept {
  code: Map<string, string>;
  set: ValidatorSet;
}

const kept = new Map<string, Kept>();

function specFor(digest: string): Kept {
  let k = kept.get(digest);
  if (k !== undefined) {
    // Most recently used last.
    kept.delete(digest);
    kept.set(digest, k);
    return k;
  }
  const code = new Map<string, string>();
  k = { code, set: new ValidatorSet((name) => code.get(name)) };
  kept.set(digest, k);
  if (kept.size > KEPT_SPECS) kept.delete(kept.keys().next().value!);
  return k;
}

export default function validateBodyTask(task: BodyTask): BodyOutcome {
  const spec = specFor(task.digest);
  for (const name in task.code) if (!spec.code.has(name)) spec.code.set(name, task.code[name]!);
  return checkJsonBody(task.body, spec.set.get(task.name));
}
