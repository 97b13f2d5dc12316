/**
 * Reading claims the way Kong's openid-connect config names them: a claim is a path of
 * keys into the payload (`[realm_access, roles]`), and each `*_required` list is an OR of
 * AND-groups: `scopes_required: ["orders:read orders:write", "admin"]` means
 * (orders:read AND orders:write) OR admin.
 */
import type { JWTPayload } from 'jose';

/** The value at `path` in the payload, or undefined. Own properties only. */
export function claimAt(payload: JWTPayload, path: readonly string[]): unknown {
  let v: unknown = payload;
  for (const key of path) {
    if (typeof v !== 'object' || v === null || Array.isArray(v) || !Object.hasOwn(v, key)) return undefined;
    v = (v as Record<string, unknown>)[key];
  }
  return v;
}

/**
 * A claim as a list of strings: an array's string elements, or a string (split on
 * spaces when `spaceSeparated`, as the `scope` claim of RFC 8693/9068). Null when absent
 * or of another type.
 */
export function stringsOf(v: unknown, spaceSeparated: boolean): string[] | null {
  if (typeof v === 'string') return spaceSeparated ? v.split(' ').filter((s) => s !== '') : [v];
  if (Array.isArray(v)) return v.filter((s): s is string => typeof s === 'string');
  return null;
}

/** A scalar claim as a string (for consumer and credential mapping), else null. */
export function scalarOf(v: unknown): string | null {
  if (typeof v === 'string') return v === '' ? null : v;
  if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  return null;
}

/** OR of AND-groups. */
export type Requirement = readonly (readonly string[])[];

export function compileRequirement(list: readonly string[] | null): Requirement | null {
  if (list === null || list.length === 0) return null;
  const groups = list.map((s) => s.split(/\s+/).filter((x) => x !== '')).filter((g) => g.length > 0);
  return groups.length === 0 ? null : groups;
}

export function satisfies(req: Requirement, have: readonly string[] | null): boolean {
  if (have === null || have.length === 0) return false;
  const set = new Set(have);
  return req.some((group) => group.every((v) => set.has(v)));
}

/**
 * Header value for a claim sent upstream: strings as-is, lists joined with ", ", objects
 * as JSON. Non-ASCII text goes out as its UTF-8 bytes (as Kong sends it); a value with
 * control characters is not sent at all (undici would refuse it, failing the request).
 */
export function headerValueOf(v: unknown): string | null {
  let s: string;
  if (v === undefined || v === null) return null;
  if (typeof v === 'string') s = v;
  else if (typeof v === 'number' || typeof v === 'boolean') s = String(v);
  else if (Array.isArray(v) && v.every((x) => typeof x === 'string' || typeof x === 'number' || typeof x === 'boolean')) s = v.join(', ');
  else s = JSON.stringify(v);
  if (/[\x00-\x08\x0a-\x1f\x7f]/.test(s)) return null;
  return /[^\x00-\x7f]/.test(s) ? Buffer.from(s, 'utf8').toString('latin1') : s;
}
