/**
 * jwt config: Kong 3.x's kong/plugins/jwt/schema.lua field for field (names, defaults,
 * ranges, the maximum_expiration -> exp check), plus optional fields of our own whose
 * defaults keep Kong's behaviour: leeway, allowed_issuers, allowed_audiences,
 * required_claims, claims_to_headers.
 *
 * Stricter than Kong where a value could only fail at request time: header names must be
 * header names, and realm must be sendable inside a quoted WWW-Authenticate parameter.
 */
import { boolean, integer, map, number, record, set, string, type CheckFailure, type Infer } from '../../../src/config/schema-dsl.js';
import { checkHeaderName } from '../../../src/config/validators.js';

/** Headers a claim may not be copied into: framing, routing, and the identity headers auth plugins own. */
export const RESERVED_HEADERS: ReadonlySet<string> = new Set([
  'host',
  'content-length',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'upgrade',
  'expect',
  'cookie',
  'authorization',
  'proxy-authorization',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'x-forwarded-port',
  'x-forwarded-path',
  'x-forwarded-prefix',
  'x-real-ip',
  'via',
  'x-consumer-id',
  'x-consumer-custom-id',
  'x-consumer-username',
  'x-consumer-groups',
  'x-credential-identifier',
  'x-anonymous-consumer',
  'x-authenticated-groups',
]);

function checkRealm(value: string): string | undefined {
  return /["\\\x00-\x1f\x7f]/.test(value) ? 'realm must not contain quotes, backslashes or control characters' : undefined;
}

function checkClaimHeader(value: string): string | undefined {
  const bad = checkHeaderName(value);
  if (bad !== undefined) return bad;
  return RESERVED_HEADERS.has(value.toLowerCase()) ? `header '${value}' is reserved and cannot carry a claim` : undefined;
}

export const schema = record(
  {
    // --- Kong 3.x fields ---------------------------------------------------------------
    uri_param_names: set(string(), { default: ['jwt'] }),
    cookie_names: set(string(), { default: [] }),
    header_names: set(string({ check: checkHeaderName }), { default: ['authorization'] }),
    key_claim_name: string({ default: 'iss' }),
    secret_is_base64: boolean({ default: false }),
    claims_to_verify: set(string({ one_of: ['exp', 'nbf'] })),
    anonymous: string(),
    run_on_preflight: boolean({ default: true }),
    maximum_expiration: number({ default: 0, between: [0, 31536000] }),
    realm: string({ check: checkRealm }),

    // --- ours (absent: Kong's behaviour) ----------------------------------------------------
    /** Seconds of clock skew tolerated by the exp and nbf checks (Kong: none). */
    leeway: integer({ default: 0, between: [0, 3600] }),
    /** When set, the `iss` claim must be one of these strings. */
    allowed_issuers: set(string(), { len_min: 1 }),
    /** When set, the `aud` claim (a string or an array of strings) must name one of these. */
    allowed_audiences: set(string(), { len_min: 1 }),
    /** Claims that must be present (and not null). */
    required_claims: set(string(), { len_min: 1 }),
    /** claim name -> upstream request header that receives its value. */
    claims_to_headers: map(string(), string({ check: checkClaimHeader })),
  },
  {
    checks: [
      {
        custom: (c): CheckFailure | undefined => {
          // Kong: conditional { if maximum_expiration > 0 then claims_to_verify contains "exp" }.
          if (c.maximum_expiration > 0 && !(c.claims_to_verify ?? []).includes('exp')) {
            return { field: 'claims_to_verify', message: 'expected to contain: exp' };
          }
          if (c.claims_to_headers !== null) {
            const seen = new Set<string>();
            for (const [claim, header] of Object.entries(c.claims_to_headers)) {
              const h = header.toLowerCase();
              if (seen.has(h)) return { field: ['claims_to_headers', claim], message: `header '${header}' already receives another claim` };
              seen.add(h);
            }
          }
          return undefined;
        },
      },
    ],
  },
);

export type JwtConfig = Infer<typeof schema>;
