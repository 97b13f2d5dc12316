/**
 * openid-connect config: the bearer-token subset of Kong Enterprise's openid-connect
 * schema, with Kong's field names and, where they make sense here, Kong's defaults.
 * Fields of the other Kong auth methods (authorization code, sessions, introspection...)
 * are unknown fields, so a Kong config that relies on them is refused at load rather
 * than silently half-applied. README.md lists every field and each difference.
 */
import { array, boolean, number, record, set, string, type Infer } from '../../../src/config/schema-dsl.js';
import { checkHeaderName } from '../../../src/config/validators.js';

/** Asymmetric JWS algorithms only: HS* would need a shared secret, `none` is never accepted. */
export const SIGNING_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'] as const;

const KONG_AUTH_METHODS = [
  'authorization_code',
  'bearer',
  'client_credentials',
  'introspection',
  'kong_oauth2',
  'password',
  'refresh_token',
  'session',
  'userinfo',
] as const;

function checkHttpUrl(value: string): string | undefined {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    return `invalid URL: ${value}`;
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') return 'must be an http or https URL';
  if (u.username !== '' || u.password !== '') return 'must not contain credentials';
  if (u.hash !== '') return 'must not have a fragment';
  return undefined;
}

/** `header` or `header:bearer` (Kong's upstream_access_token_header); empty: not sent. */
function checkTokenHeader(value: string): string | undefined {
  if (value === '') return undefined;
  const [name, kind, ...rest] = value.split(':');
  if (rest.length > 0 || (kind !== undefined && kind.toLowerCase() !== 'bearer')) return "expected 'header' or 'header:bearer'";
  return checkHeaderName(name!);
}

const seconds = (def: number, description: string) => number({ default: def, between: [0, 31_536_000], description });

export const schema = record(
  {
    issuer: string({ required: true, check: checkHttpUrl, description: 'Issuer identifier or its discovery URL' }),
    auth_methods: set(string({ one_of: KONG_AUTH_METHODS }), {
      default: ['bearer'],
      len_min: 1,
      check: (v) => (v.length === 1 && v[0] === 'bearer' ? undefined : "only the 'bearer' auth method is supported"),
    }),
    bearer_token_param_type: set(string({ one_of: ['header', 'query', 'cookie', 'body'] }), {
      default: ['header', 'query'],
      len_min: 1,
      check: (v) => (v.includes('body') ? "'body' is not supported: send the token in a header, the query or a cookie" : undefined),
    }),
    bearer_token_cookie_name: string({ check: checkHeaderName }),
    issuers_allowed: array(string({ check: checkHttpUrl }), { len_min: 1 }),
    jwks_endpoint: string({ check: checkHttpUrl }),
    // Portcullis addition: the algorithms accepted, intersected with the discovery document's.
    signing_algorithms: set(string({ one_of: SIGNING_ALGORITHMS }), { default: [...SIGNING_ALGORITHMS], len_min: 1 }),
    leeway: number({ default: 0, between: [0, 3600], description: 'Clock skew allowed on exp and nbf, in seconds' }),

    scopes_claim: array(string(), { default: ['scope'], len_min: 1, description: 'Path of the scopes claim' }),
    scopes_required: array(string()),
    audience_claim: array(string(), { default: ['aud'], len_min: 1, description: 'Path of the audience claim' }),
    audience_required: array(string()),
    groups_claim: array(string(), { default: ['groups'], len_min: 1, description: 'Path of the groups claim' }),
    groups_required: array(string()),
    roles_claim: array(string(), { default: ['roles'], len_min: 1, description: 'Path of the roles claim' }),
    roles_required: array(string()),
    claims_forbidden: array(string()),

    consumer_claim: array(string(), { len_min: 1, description: 'Path of the claim mapped to a consumer' }),
    consumer_by: set(string({ one_of: ['id', 'username', 'custom_id'] }), { default: ['username', 'custom_id'], len_min: 1 }),
    consumer_optional: boolean({ default: false }),
    credential_claim: array(string(), { default: ['sub'], len_min: 1, description: 'Path of the claim used as the credential identifier' }),
    authenticated_groups_claim: array(string(), { len_min: 1, description: 'Path of the claim holding groups for acl' }),
    upstream_headers_claims: array(string()),
    upstream_headers_names: array(string({ check: checkHeaderName })),
    upstream_access_token_header: string({ default: 'authorization:bearer', len_min: 0, check: checkTokenHeader }),
    hide_credentials: boolean({ default: true }),

    anonymous: string(),
    run_on_preflight: boolean({ default: true }),
    unauthorized_error_message: string({ default: 'Unauthorized' }),
    forbidden_error_message: string({ default: 'Forbidden' }),
    display_errors: boolean({ default: false }),
    expose_error_code: boolean({ default: true }),

    timeout: number({ default: 10_000, between: [1, 600_000], description: 'IdP request timeout, in milliseconds' }),
    cache_ttl: seconds(3600, 'Discovery/JWKS TTL when the IdP sends no Cache-Control max-age'),
    cache_ttl_min: seconds(60, 'Lower bound on the IdP max-age'),
    cache_ttl_max: seconds(86_400, 'Upper bound on the IdP max-age'),
    cache_ttl_resurrect: seconds(86_400, 'How long past its TTL a document is still served while the IdP is unreachable'),
    cache_ttl_neg: seconds(1, 'No new IdP request for this long after a failed one'),
    rediscovery_lifetime: seconds(30, 'At most one JWKS refresh for unknown key ids per this many seconds'),
  },
  {
    checks: [
      {
        custom: (c) => {
          const out: { field: string; message: string }[] = [];
          if (c.cache_ttl_min > c.cache_ttl_max) out.push({ field: 'cache_ttl_min', message: 'must not be greater than cache_ttl_max' });
          const claims = c.upstream_headers_claims?.length ?? 0;
          const names = c.upstream_headers_names?.length ?? 0;
          if (claims !== names) out.push({ field: 'upstream_headers_names', message: 'must have as many entries as upstream_headers_claims' });
          if (c.bearer_token_param_type.includes('cookie') && c.bearer_token_cookie_name === null) {
            out.push({ field: 'bearer_token_cookie_name', message: "required when bearer_token_param_type includes 'cookie'" });
          }
          return out;
        },
      },
    ],
  },
);

export type OpenIdConnectConfig = Infer<typeof schema>;
