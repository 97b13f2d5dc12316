/**
 * The JSON body check itself: parse, then validate. Runs on the worker's event loop for
 * bodies below large_body_threshold and in the offload thread (body-task.ts) above it; both
 * return the same plain-data outcome, so a verdict never depends on where it was made.
 */
import type { AjvError, Validator } from './spec-runtime.js';

/** Errors kept from one validation (collect_all_errors can find thousands in a large body). */
export const MAX_ERRORS = 20;

export type BodyOutcome =
  /** Valid. */
  | null
  | { kind: 'json'; detail: string }
  | { kind: 'schema'; errors: AjvError[] };

/** Decodes and validates a JSON body. Never throws. */
export function checkJsonBody(bytes: Uint8Array, validate: Validator): BodyOutcome {
  let data: unknown;
  try {
    data = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
  } catch (err) {
    // Only the position: V8's message quotes a piece of the body, which may be a secret.
    const at = /at position (\d+)/.exec((err as Error).message);
    return { kind: 'json', detail: at === null ? 'the body is not valid JSON' : `the body is not valid JSON (error at character ${at[1]})` };
  }
  try {
    if (validate(data)) return null;
  } catch (err) {
    return { kind: 'json', detail: `the body could not be validated (${truncate((err as Error).message, 120)})` };
  }
  const errors = validate.errors ?? [];
  return { kind: 'schema', errors: errors.slice(0, MAX_ERRORS).map(plainError) };
}

/** An ajv error as plain data (it crosses threads), without the offending value. */
export function plainError(e: AjvError): AjvError {
  return { instancePath: e.instancePath, schemaPath: e.schemaPath, keyword: e.keyword, params: e.params, message: e.message ?? 'is invalid' };
}

export function truncate(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, max)}…`;
}
