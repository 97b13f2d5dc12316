/**
 * jwt (Kong PRIORITY 1450): authenticates a request by a JWT signed with a consumer's
 * jwt_secrets credential (kong/plugins/jwt/handler.lua, 3.x), in Kong's order:
 *
 *   find the token (token-sources.ts) -> decode it (decode.ts) -> the credential whose key
 *   is the `key_claim_name` claim (or header) -> header alg must equal the credential's
 *   algorithm -> signature (jose, KeyObject, algorithms pinned) -> claims_to_verify and
 *   maximum_expiration (claims.ts) -> set the consumer.
 *
 * Every failure is 401 with Kong's exact body (kong.response.exit: {"message": ...} or the
 * claim errors) and WWW-Authenticate `Bearer[ realm="..."]`, plus ` error="invalid_token"`
 * once a token was presented. With `anonymous`, a failure continues as that consumer.
 *
 * Verified tokens are cached per instance (workers/auth/token-cache.ts): a hit is answered
 * synchronously and still gets the clock-dependent checks and the headers; only a miss
 * returns a Promise (jose verifies asynchronously). Concurrent misses on one token share
 * one verification.
 */
import { compactVerify, type CompactVerifyResult } from 'jose';
import type { JwtCredential } from '../../auth/consumer-index.js';
import { failOrAnonymous, setConsumer, skipBecauseAuthenticated } from '../../auth/identity.js';
import { VerifiedTokenCache } from '../../auth/token-cache.js';
import type { CredentialIdentity, RequestContext } from '../../http/request-context.js';
import type { LocalReply, MaybePromise, PluginEnv, PluginHandler, Verdict } from '../../pipeline/types.js';
import { claimHeaderValues, enforcedExp, policyErrors, timeErrors, type ClaimErrors, type PolicyRules, type TimeRules } from './claims.js';
import { decodeToken, deepFreeze, own, type DecodedToken, type JsonObject } from './decode.js';
import { CredentialKeys } from './keys.js';
import type { JwtConfig } from './schema.js';
import { findToken, MULTIPLE_TOKENS, NO_TOKEN, tokenSources } from './token-sources.js';

/** Longest token looked at (characters); longer ones are refused before any decoding. */
export const MAX_TOKEN_LENGTH = 8192;

/** ctx.shared keys: the token as sent (Kong's name) and its verified, frozen claims. */
export const SHARED_TOKEN = 'authenticated_jwt_token';
export const SHARED_CLAIMS = 'authenticated_jwt_claims';

interface Verified {
  readonly credential: JwtCredential;
  readonly identity: CredentialIdentity;
  readonly claims: JsonObject;
  readonly headers: ReadonlyArray<readonly [string, string | null]>;
}

type Outcome = Verified | LocalReply;

interface Prepared {
  readonly decoded: DecodedToken;
  readonly credential: JwtCredential;
  readonly key: Parameters<typeof compactVerify>[1];
}

function isReply(v: Outcome | Prepared): v is LocalReply {
  return (v as LocalReply).status !== undefined;
}

/** cjson's encoding, which kong.response.exit uses: like JSON.stringify, with '/' escaped. */
function kongJson(value: object): string {
  return JSON.stringify(value).replace(/\//g, '\\/');
}

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

/** Every answer the plugin gives, built once per instance. */
function buildReplies(config: JwtConfig) {
  const base = config.realm === null ? 'Bearer' : `Bearer realm="${config.realm}"`;
  const invalid = `${base} error="invalid_token"`;
  const exit = (body: object, challenge: string): LocalReply =>
    Object.freeze({ status: 401, body: kongJson(body), headers: Object.freeze([Object.freeze(['WWW-Authenticate', challenge] as const)]) });
  const msg = (message: string) => exit({ message }, invalid);
  const claim = config.key_claim_name;
  const badToken = new Map<string, LocalReply>();
  return {
    noToken: exit({ message: 'Unauthorized' }, base),
    multiple: msg('Multiple tokens provided'),
    unrecognizable: msg('Unrecognizable token'),
    tooLarge: msg('Bad token; too large'),
    badToken(reason: string): LocalReply {
      let r = badToken.get(reason);
      if (r === undefined) badToken.set(reason, (r = msg(`Bad token; ${reason}`)));
      return r;
    },
    noKeyClaim: msg(`No mandatory '${claim}' in claims`),
    emptyKeyClaim: msg(`Invalid '${claim}' in claims`),
    noCredentials: msg(`No credentials found for given '${claim}'`),
    invalidAlgorithm: msg('Invalid algorithm'),
    invalidKey: msg('Invalid key/secret'),
    invalidSignature: msg('Invalid signature'),
    claims: (errors: ClaimErrors): LocalReply => exit(errors, invalid),
  };
}

export function createJwt(config: JwtConfig, env: PluginEnv): PluginHandler {
  const anonymous = config.anonymous;
  const consumers = env.consumers;
  const keyClaim = config.key_claim_name;
  const sources = tokenSources(config.uri_param_names, config.cookie_names, config.header_names);
  const time: TimeRules = { claimsToVerify: config.claims_to_verify ?? [], leeway: config.leeway, maximumExpiration: config.maximum_expiration };
  const policy: PolicyRules = {
    issuers: config.allowed_issuers === null ? null : new Set(config.allowed_issuers),
    audiences: config.allowed_audiences === null ? null : new Set(config.allowed_audiences),
    required: config.required_claims,
  };
  const mapping = Object.entries(config.claims_to_headers ?? {}).map(([claim, header]) => [claim, header.toLowerCase()] as const);
  const replies = buildReplies(config);
  const keys = new CredentialKeys(config.secret_is_base64, env.log);
  const cache = new VerifiedTokenCache<Verified>();
  const inflight = new Map<string, Promise<Outcome>>();
  const onMissingAnonymous = (message: string) => env.log.error({ anonymous }, message);

  function fail(ctx: RequestContext, reply: LocalReply): Verdict {
    const verdict = failOrAnonymous(ctx, anonymous, consumers, reply, onMissingAnonymous);
    if (verdict === undefined && ctx.shared !== null) {
      // Kong's set_consumer(anonymous) leaves no authenticated token behind.
      delete ctx.shared[SHARED_TOKEN];
      delete ctx.shared[SHARED_CLAIMS];
    }
    return verdict;
  }

  function succeed(ctx: RequestContext, token: string, v: Verified): Verdict {
    const errors = timeErrors(v.claims, time, nowSeconds());
    if (errors !== null) return fail(ctx, replies.claims(errors));
    setConsumer(ctx, v.credential.consumer, v.identity);
    const shared = (ctx.shared ??= {});
    shared[SHARED_TOKEN] = token;
    shared[SHARED_CLAIMS] = v.claims;
    for (const [header, value] of v.headers) ctx.setHeader(header, value);
    return undefined;
  }

  /** Everything before the signature check: synchronous and cheap, in Kong's order. */
  function prepare(token: string): Prepared | LocalReply {
    const decoded = decodeToken(token);
    if (typeof decoded === 'string') return replies.badToken(decoded);
    let id = own(decoded.claims, keyClaim);
    if (id === undefined || id === null || id === false) id = own(decoded.header, keyClaim);
    if (id === undefined || id === null || id === false) return replies.noKeyClaim;
    if (id === '') return replies.emptyKeyClaim;
    const credential = typeof id === 'string' ? consumers.jwt(id) : undefined;
    if (credential === undefined) return replies.noCredentials;
    if (decoded.alg !== credential.algorithm) return replies.invalidAlgorithm;
    const key = keys.get(credential);
    if (key === null) return replies.invalidKey;
    return { decoded, credential, key };
  }

  async function verify(token: string, p: Prepared): Promise<Outcome> {
    let result: CompactVerifyResult | undefined;
    try {
      result = await compactVerify(token, p.key, { algorithms: [p.credential.algorithm] });
    } catch {
      result = undefined;
    }
    if (result === undefined) return replies.invalidSignature;
    const claims = deepFreeze(p.decoded.claims);
    const refused = policyErrors(claims, policy);
    if (refused !== null) {
      // Kong's own checks come first in the answer, as they would on a cache hit.
      return replies.claims(timeErrors(claims, time, nowSeconds()) ?? refused);
    }
    const v: Verified = Object.freeze({
      credential: p.credential,
      identity: Object.freeze({ id: p.credential.id, identifier: p.credential.key }),
      claims,
      headers: Object.freeze(claimHeaderValues(claims, mapping)),
    });
    cache.set(token, v, enforcedExp(claims, time));
    return v;
  }

  function access(ctx: RequestContext): MaybePromise<Verdict> {
    // Headers fed from claims are ours alone: never pass a client's value through.
    for (let i = 0; i < mapping.length; i++) ctx.setHeader(mapping[i]![1], null);
    if (!config.run_on_preflight && ctx.method === 'OPTIONS') return undefined;
    if (skipBecauseAuthenticated(ctx, anonymous)) return undefined;

    const token = findToken(ctx, sources);
    if (typeof token !== 'string') {
      return fail(ctx, token === NO_TOKEN ? replies.noToken : token === MULTIPLE_TOKENS ? replies.multiple : replies.unrecognizable);
    }
    if (token.length > MAX_TOKEN_LENGTH) return fail(ctx, replies.tooLarge);

    const hit = cache.get(token);
    if (hit !== undefined) return succeed(ctx, token, hit);

    let pending = inflight.get(token);
    if (pending === undefined) {
      const p = prepare(token);
      if (isReply(p)) return fail(ctx, p);
      const started = verify(token, p);
      pending = started;
      inflight.set(token, started);
      // verify() never rejects: the cleanup cannot leave an unhandled rejection behind.
      void started.then(() => inflight.delete(token));
    }
    return pending.then((o) => (isReply(o) ? fail(ctx, o) : succeed(ctx, token, o)));
  }

  return { access };
}
