/**
 * Claim checks after the signature is good.
 *
 * - timeErrors: Kong's verify_registered_claims (`claims_to_verify`: exp and nbf must be
 *   numbers; `exp <= now` is "token expired", `nbf > now` "token not valid yet") and
 *   check_maximum_expiration, with our optional `leeway`. They depend on the clock, so
 *   they run on every request, cache hit or not.
 * - policyErrors: our allow-lists and required claims. They depend only on the token and
 *   the config, so they run once, before a token is cached.
 * - claimHeaderValues: what `claims_to_headers` sends upstream, made safe for a header.
 *
 * Errors are Kong's shape, one key per claim: {"exp":"token expired"}. Error objects have
 * no prototype, so a claim named `__proto__` is an ordinary key there too.
 */
import { own, type JsonObject } from './decode.js';

export type ClaimErrors = Record<string, string>;

export interface TimeRules {
  readonly claimsToVerify: readonly string[];
  readonly leeway: number;
  readonly maximumExpiration: number;
}

export interface PolicyRules {
  readonly issuers: ReadonlySet<string> | null;
  readonly audiences: ReadonlySet<string> | null;
  readonly required: readonly string[] | null;
}

function errorsObject(): ClaimErrors {
  return Object.create(null) as ClaimErrors;
}

/** Kong's registered-claim and maximum_expiration checks at `now` (whole seconds), or null. */
export function timeErrors(claims: JsonObject, rules: TimeRules, now: number): ClaimErrors | null {
  let errors: ClaimErrors | null = null;
  for (const name of rules.claimsToVerify) {
    const v = own(claims, name);
    if (typeof v !== 'number') {
      (errors ??= errorsObject())[name] = 'must be a number';
    } else if (name === 'exp') {
      if (v <= now - rules.leeway) (errors ??= errorsObject())[name] = 'token expired';
    } else if (v > now + rules.leeway) {
      (errors ??= errorsObject())[name] = 'token not valid yet';
    }
  }
  if (errors !== null) return errors;
  if (rules.maximumExpiration > 0) {
    const exp = own(claims, 'exp');
    if (typeof exp !== 'number' || exp - now > rules.maximumExpiration) {
      const e = errorsObject();
      e['exp'] = 'exceeds maximum allowed expiration';
      return e;
    }
  }
  return null;
}

/** The token's `exp` when it bounds the token's life here (exp in claims_to_verify), else null. */
export function enforcedExp(claims: JsonObject, rules: TimeRules): number | null {
  if (!rules.claimsToVerify.includes('exp')) return null;
  const exp = own(claims, 'exp');
  return typeof exp === 'number' ? exp : null;
}

/** required_claims, allowed_issuers, allowed_audiences; null when all pass. */
export function policyErrors(claims: JsonObject, rules: PolicyRules): ClaimErrors | null {
  let errors: ClaimErrors | null = null;
  if (rules.required !== null) {
    for (const name of rules.required) {
      const v = own(claims, name);
      if (v === undefined || v === null) (errors ??= errorsObject())[name] = 'required claim missing';
    }
  }
  if (rules.issuers !== null && errors?.['iss'] === undefined) {
    const iss = own(claims, 'iss');
    if (typeof iss !== 'string' || !rules.issuers.has(iss)) (errors ??= errorsObject())['iss'] = 'issuer not allowed';
  }
  if (rules.audiences !== null && errors?.['aud'] === undefined) {
    const aud = own(claims, 'aud');
    const audiences = rules.audiences;
    const ok =
      typeof aud === 'string' ? audiences.has(aud) : Array.isArray(aud) && aud.some((a) => typeof a === 'string' && audiences.has(a));
    if (!ok) (errors ??= errorsObject())['aud'] = 'audience not allowed';
  }
  return errors;
}

// --- claims_to_headers --------------------------------------------------------------------

const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

/**
 * A header value that cannot carry anything but itself: printable ASCII is kept, every
 * other character (CR, LF, NUL, other controls, non-ASCII) is percent-encoded as UTF-8.
 */
export function headerSafe(s: string): string {
  if (PRINTABLE_ASCII.test(s)) return s;
  let out = '';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (c >= 0x20 && c <= 0x7e) {
      out += ch;
      continue;
    }
    for (const b of Buffer.from(ch, 'utf8')) out += `%${b < 16 ? '0' : ''}${b.toString(16).toUpperCase()}`;
  }
  return out;
}

/**
 * A claim's value as a header value: strings as they are, numbers and booleans in JSON
 * form, arrays of those joined with ", ", anything else as JSON. null when absent or null
 * (the header is then removed, so a client cannot supply it).
 */
export function claimHeaderValue(v: unknown): string | null {
  if (v === undefined || v === null) return null;
  if (typeof v === 'string') return headerSafe(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v) && v.every((e) => typeof e === 'string' || typeof e === 'number' || typeof e === 'boolean')) {
    return v.map((e) => headerSafe(String(e))).join(', ');
  }
  return headerSafe(JSON.stringify(v));
}

/** [header, value or null] for each claims_to_headers entry. */
export function claimHeaderValues(claims: JsonObject, mapping: ReadonlyArray<readonly [string, string]>): Array<readonly [string, string | null]> {
  return mapping.map(([claim, header]) => [header, claimHeaderValue(own(claims, claim))] as const);
}
