/**
 * openid-connect, bearer subset (Kong Enterprise PRIORITY 1050): the request carries a
 * JWT access token issued by an OpenID provider; the signature is checked against the
 * provider's published keys (discovery + JWKS, cached per worker, see idp.ts), then the
 * standard claims, then the configured requirements, and the request goes upstream with
 * Kong's consumer/credential headers and the configured claim headers.
 *
 * Answers: 401 + `WWW-Authenticate: Bearer error="invalid_token"` for a missing or bad
 * token (or the anonymous consumer, when configured); 403 + `error="insufficient_scope"`
 * for a good token that lacks a required scope/audience/group/role; 503 when the token
 * cannot be checked because the IdP is unreachable and nothing usable is cached.
 *
 * A token that verified once is remembered (workers/auth/token-cache.ts) with everything
 * derived from it, so the next request with it runs synchronously, with no signature check.
 */
import { decodeJwt, decodeProtectedHeader } from 'jose';
import type { ConsumerIndex, IndexedConsumer } from '../../auth/consumer-index.js';
import { failOrAnonymous, setConsumer, skipBecauseAuthenticated } from '../../auth/identity.js';
import { VerifiedTokenCache } from '../../auth/token-cache.js';
import type { CredentialIdentity, RequestContext } from '../../http/request-context.js';
import type { LocalReply, MaybePromise, PluginEnv, PluginHandler, Verdict } from '../../pipeline/types.js';
import { claimAt, compileRequirement, headerValueOf, satisfies, scalarOf, stringsOf, type Requirement } from './claims.js';
import { locateIssuer } from './discovery.js';
import { sharedIdentityProvider, type IdentityProvider, type IdpOptions } from './idp.js';
import type { OpenIdConnectConfig } from './schema.js';
import { findToken, hideToken, type FoundToken } from './token-source.js';

export const IDP_UNAVAILABLE_MESSAGE = 'The identity provider is currently unavailable';
const MAX_TOKEN_LENGTH = 16 * 1024;

type Outcome =
  | {
      readonly kind: 'granted';
      readonly consumer: IndexedConsumer | null;
      readonly credential: CredentialIdentity;
      readonly headers: ReadonlyArray<readonly [string, string | null]>;
      readonly groups: readonly string[] | null;
    }
  /** A verified token that is still refused: 401 (anonymous may apply) or 403. */
  | { readonly kind: 'refused'; readonly reply: LocalReply; readonly anonymousApplies: boolean };

type ConsumerLookups = ConsumerIndex;

export interface OpenIdConnectDeps {
  /** Tests inject their own provider (e.g. with a fake clock); default: the worker's shared one. */
  idp?: IdentityProvider;
}

function trimSlash(s: string): string {
  return s.endsWith('/') ? s.slice(0, -1) : s;
}

/** A value safe inside a quoted-string of WWW-Authenticate (RFC 6750 3: no '"' or '\\'). */
function quoted(s: string): string {
  return s.replace(/["\\\x00-\x1f\x7f]/g, '');
}

function reply(status: number, message: string, wwwAuthenticate: string | null, extra: Array<[string, string]> = []): LocalReply {
  const headers: Array<readonly [string, string]> = wwwAuthenticate === null ? [] : [['WWW-Authenticate', wwwAuthenticate]];
  for (const h of extra) headers.push(h);
  return Object.freeze({ status, message, headers: Object.freeze(headers) });
}

/** How this config fetches from its IdP (the key of the worker's shared IdentityProvider). */
export function idpOptions(conf: OpenIdConnectConfig): IdpOptions {
  return {
    issuer: conf.issuer,
    jwksEndpoint: conf.jwks_endpoint,
    timeoutMs: conf.timeout,
    policy: {
      defaultTtlMs: conf.cache_ttl * 1000,
      minTtlMs: conf.cache_ttl_min * 1000,
      maxTtlMs: conf.cache_ttl_max * 1000,
      staleTtlMs: conf.cache_ttl_resurrect * 1000,
      failureBackoffMs: conf.cache_ttl_neg * 1000,
      minRefreshIntervalMs: conf.rediscovery_lifetime * 1000,
    },
  };
}

export function createOpenIdConnect(conf: OpenIdConnectConfig, env: PluginEnv, deps: OpenIdConnectDeps = {}): PluginHandler {
  const idp = deps.idp ?? sharedIdentityProvider(idpOptions(conf));
  const consumers = env.consumers as ConsumerLookups;
  const anonymous = conf.anonymous;
  const algorithms = new Set<string>(conf.signing_algorithms);
  const issuers = conf.issuers_allowed;
  const expectedIssuers = new Set((issuers ?? [locateIssuer(conf.issuer).issuer]).map(trimSlash));
  const scopesReq = compileRequirement(conf.scopes_required);
  const audienceReq = compileRequirement(conf.audience_required);
  const groupsReq = compileRequirement(conf.groups_required);
  const rolesReq = compileRequirement(conf.roles_required);
  const scpFallback = conf.scopes_claim.length === 1 && conf.scopes_claim[0] === 'scope';
  const claimHeaders = (conf.upstream_headers_claims ?? []).map((c, i) => [c, conf.upstream_headers_names![i]!.toLowerCase()] as const);
  const [tokenHeaderName, tokenHeaderKind] = conf.upstream_access_token_header.split(':');
  const tokenHeader = tokenHeaderName ? tokenHeaderName.toLowerCase() : null;
  const tokenHeaderBearer = tokenHeaderKind !== undefined;
  const tokens = new VerifiedTokenCache<Outcome>();

  // Replies, built once: no allocation on the reject path.
  const code = (e: string) => (conf.expose_error_code ? `Bearer error="${e}"` : 'Bearer');
  const noToken = reply(401, conf.unauthorized_error_message, 'Bearer');
  const invalidToken = reply(401, conf.unauthorized_error_message, code('invalid_token'));
  const forbidden = reply(403, conf.forbidden_error_message, code('insufficient_scope'));
  const scopeForbidden =
    scopesReq !== null && conf.expose_error_code
      ? reply(403, conf.forbidden_error_message, `Bearer error="insufficient_scope", scope="${quoted(scopesReq[0]!.join(' '))}"`)
      : forbidden;
  const unavailable = reply(503, IDP_UNAVAILABLE_MESSAGE, null, [['Retry-After', String(Math.max(1, Math.ceil(conf.cache_ttl_neg)))]]);
  const detailed = new Map<string, LocalReply>();

  /** 401 invalid_token; with display_errors, the reason goes into the message and the challenge. */
  function invalid(reason: string, status = 401): LocalReply {
    if (!conf.display_errors) return status === 401 ? invalidToken : forbidden;
    const key = `${status} ${reason}`;
    let r = detailed.get(key);
    if (r === undefined) {
      const base = status === 401 ? conf.unauthorized_error_message : conf.forbidden_error_message;
      const err = status === 401 ? 'invalid_token' : 'insufficient_scope';
      r = reply(status, `${base} (${reason})`, conf.expose_error_code ? `Bearer error="${err}", error_description="${quoted(reason)}"` : 'Bearer');
      if (detailed.size < 64) detailed.set(key, r);
    }
    return r;
  }

  const onMissingAnonymous = (message: string) => env.log.error({ plugin: 'openid-connect' }, message);
  const fail = (ctx: RequestContext, r: LocalReply): Verdict => failOrAnonymous(ctx, anonymous, consumers, r, onMissingAnonymous);

  function findConsumer(value: string): IndexedConsumer | undefined {
    for (const by of conf.consumer_by) {
      let c: IndexedConsumer | undefined;
      if (by === 'id') c = consumers.byId(value);
      else if (by === 'username') c = consumers.byUsername(value);
      else c = consumers.byCustomId(value);
      if (c !== undefined) return c;
    }
    return undefined;
  }

  const refused = (r: LocalReply, anonymousApplies: boolean): Outcome => ({ kind: 'refused', reply: r, anonymousApplies });

  /** Everything that follows from a verified payload (cached with the token). */
  function authorize(p: Record<string, unknown>): Outcome {
    for (const name of conf.claims_forbidden ?? []) {
      if (Object.hasOwn(p, name)) return refused(invalid(`claim ${name} is forbidden`, 403), false);
    }
    // A token minted for another API is not a valid token here (RFC 6750 invalid_token;
    // Kong answers 403): 401, and the anonymous consumer applies.
    if (audienceReq !== null && !satisfies(audienceReq, stringsOf(claimAt(p, conf.audience_claim), false))) {
      return refused(invalid('audience not allowed'), true);
    }
    if (scopesReq !== null) {
      let have = stringsOf(claimAt(p, conf.scopes_claim), true);
      if (have === null && scpFallback) have = stringsOf(p['scp'], true);
      if (!satisfies(scopesReq, have)) return refused(conf.display_errors ? invalid('missing required scope', 403) : scopeForbidden, false);
    }
    if (groupsReq !== null && !satisfies(groupsReq, stringsOf(claimAt(p, conf.groups_claim), false))) {
      return refused(invalid('missing required group', 403), false);
    }
    if (rolesReq !== null && !satisfies(rolesReq, stringsOf(claimAt(p, conf.roles_claim), false))) {
      return refused(invalid('missing required role', 403), false);
    }
    let consumer: IndexedConsumer | null = null;
    if (conf.consumer_claim !== null) {
      const value = scalarOf(claimAt(p, conf.consumer_claim));
      consumer = (value !== null ? findConsumer(value) : undefined) ?? null;
      if (consumer === null && !conf.consumer_optional) return refused(invalid('consumer not found'), true);
    }
    const identifier = scalarOf(claimAt(p, conf.credential_claim)) ?? consumer?.id ?? null;
    if (identifier === null) return refused(invalid('credential claim not found'), true);
    const headers = claimHeaders.map(([claim, header]) => [header, headerValueOf(p[claim])] as const);
    const groups = conf.authenticated_groups_claim !== null ? stringsOf(claimAt(p, conf.authenticated_groups_claim), false) : null;
    return { kind: 'granted', consumer, credential: { id: identifier, identifier }, headers, groups };
  }

  function apply(ctx: RequestContext, found: FoundToken, o: Outcome): Verdict {
    if (o.kind === 'refused') return o.anonymousApplies ? fail(ctx, o.reply) : o.reply;
    setConsumer(ctx, o.consumer, o.credential);
    for (const [name, value] of o.headers) ctx.setHeader(name, value);
    if (o.groups !== null) ctx.authenticatedGroups = [...o.groups];
    if (conf.hide_credentials) hideToken(ctx, found, conf.bearer_token_cookie_name);
    if (tokenHeader !== null) ctx.setHeader(tokenHeader, tokenHeaderBearer ? `Bearer ${found.token}` : found.token);
    return undefined;
  }

  /** Cheap checks before any network: shape, algorithm, issuer (a foreign token never makes us fetch). */
  function precheck(token: string): { alg: string; kid: string | undefined } | string {
    if (token.length > MAX_TOKEN_LENGTH) return 'token too large';
    const dots = token.split('.').length - 1;
    if (dots === 4) return 'encrypted tokens are not supported';
    if (dots !== 2) return 'malformed token';
    let header: Record<string, unknown>;
    let payload: Record<string, unknown>;
    try {
      header = decodeProtectedHeader(token) as Record<string, unknown>;
      payload = decodeJwt(token) as Record<string, unknown>;
    } catch {
      return 'malformed token';
    }
    const alg = header['alg'];
    if (typeof alg !== 'string' || !algorithms.has(alg)) return 'algorithm not allowed';
    const kid = header['kid'];
    if (kid !== undefined && typeof kid !== 'string') return 'malformed token';
    const iss = payload['iss'];
    if (typeof iss !== 'string' || !expectedIssuers.has(trimSlash(iss))) return 'issuer not allowed';
    return { alg, kid };
  }

  let lastUnavailableLog = Number.NEGATIVE_INFINITY;

  async function verify(ctx: RequestContext, found: FoundToken): Promise<Verdict> {
    try {
      const pre = precheck(found.token);
      if (typeof pre === 'string') return fail(ctx, invalid(pre));
      const r = await idp.verify(found.token, { alg: pre.alg, kid: pre.kid, issuers, leewaySec: conf.leeway });
      if (!r.ok) {
        if (!r.unavailable) return fail(ctx, invalid(r.error));
        const now = performance.now();
        if (now - lastUnavailableLog > 10_000) {
          lastUnavailableLog = now;
          env.log.error({ plugin: 'openid-connect', issuer: conf.issuer, err: r.error }, 'cannot verify tokens: identity provider unavailable');
        }
        return unavailable;
      }
      const outcome = authorize(r.payload as Record<string, unknown>);
      tokens.set(found.token, outcome, typeof r.payload.exp === 'number' ? r.payload.exp : null);
      return apply(ctx, found, outcome);
    } catch (err) {
      env.log.error({ plugin: 'openid-connect', err: (err as Error).message }, 'token verification failed unexpectedly');
      return { status: 500, message: 'An unexpected error occurred' };
    }
  }

  return {
    access(ctx: RequestContext): MaybePromise<Verdict> {
      if (!conf.run_on_preflight && ctx.method === 'OPTIONS') return undefined;
      if (skipBecauseAuthenticated(ctx, anonymous)) return undefined;
      const found = findToken(ctx, conf.bearer_token_param_type, conf.bearer_token_cookie_name);
      if (found === null) return fail(ctx, noToken);
      const cached = tokens.get(found.token);
      if (cached !== undefined) return apply(ctx, found, cached);
      return verify(ctx, found);
    },
  };
}
