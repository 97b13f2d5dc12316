/**
 * hmac-auth config (kong/plugins/hmac-auth/schema.lua, Kong 3.x): Kong's fields, defaults
 * and checks in Kong's order, plus one field of ours, `replay_protection` (off by default,
 * so a Kong config loads and behaves unchanged).
 */
import { array, boolean, number, record, string, type Infer } from '../../../src/config/schema-dsl.js';

export const ALGORITHMS = ['hmac-sha1', 'hmac-sha256', 'hmac-sha384', 'hmac-sha512'] as const;
export type HmacAlgorithm = (typeof ALGORITHMS)[number];

/** The realm is sent verbatim in WWW-Authenticate: control characters would break every 401. */
function checkRealm(value: string): string | undefined {
  return /[\x00-\x1f\x7f]/.test(value) ? 'must not contain control characters' : undefined;
}

export const schema = record({
  hide_credentials: boolean({ default: false, description: 'Remove the header that carried the signature before proxying.' }),
  clock_skew: number({ default: 300, gt: 0, description: 'Largest allowed distance, in seconds, between the Date/X-Date header and now.' }),
  anonymous: string({ description: 'Consumer id or username to use when authentication fails (logical OR with other auth plugins).' }),
  validate_request_body: boolean({ default: false, description: 'Check the Digest header (SHA-256=<base64>) against the body.' }),
  enforce_headers: array(string(), { default: [], description: 'Header names every signature must cover.' }),
  algorithms: array(string({ one_of: ALGORITHMS }), { default: [...ALGORITHMS], description: 'Algorithms accepted from clients.' }),
  realm: string({ check: checkRealm, description: 'Realm of the WWW-Authenticate challenge (`hmac realm="..."`).' }),
  replay_protection: boolean({
    default: false,
    description: 'Not in Kong: refuse a signature already accepted within the clock-skew window (per worker thread).',
  }),
});

export type HmacAuthConfig = Infer<typeof schema>;
