/**
 * One identity provider as a worker sees it: its discovery document and key set, both
 * cached (jwks-cache.ts), and the signature/claims verification of a token against them.
 *
 * Instances are shared per worker thread by everything that makes them fetch the same
 * way (issuer, jwks endpoint, timeout, cache policy): fifty routes protected by the same
 * issuer cost the IdP one discovery and one JWKS fetch, and a config reload keeps the
 * warm caches (verified tokens are cached per plugin instance instead, see handler.ts).
 */
import { errors, jwtVerify, type JWTPayload } from 'jose';
import { loadDiscovery, locateIssuer, type DiscoveryDocument, type IssuerLocation } from './discovery.js';
import { JwksCache, loadJwks, SwrCache, type SwrPolicy } from './jwks-cache.js';

export interface IdpOptions {
  /** `issuer` as configured (identifier or discovery URL). */
  readonly issuer: string;
  /** Kong's jwks_endpoint: overrides the discovery document's jwks_uri. */
  readonly jwksEndpoint: string | null;
  readonly timeoutMs: number;
  readonly policy: SwrPolicy;
}

export interface VerifyOptions {
  /** The token's `alg` (already checked against the plugin's own list). */
  readonly alg: string;
  readonly kid: string | undefined;
  /** Accepted `iss` values; null: exactly the discovery document's issuer. */
  readonly issuers: readonly string[] | null;
  readonly leewaySec: number;
}

export type VerifyResult =
  | { readonly ok: true; readonly payload: JWTPayload }
  /** The token is not acceptable: 401 invalid_token. */
  | { readonly ok: false; readonly unavailable: false; readonly error: string }
  /** The IdP could not be reached and no usable cached document/keys: 503. */
  | { readonly ok: false; readonly unavailable: true; readonly error: string };

function invalid(error: string): VerifyResult {
  return { ok: false, unavailable: false, error };
}

function unavailable(what: string, err: Error | null): VerifyResult {
  return { ok: false, unavailable: true, error: unavailableMessage(what, err) };
}

export class IdentityProvider {
  readonly location: IssuerLocation;
  readonly discovery: SwrCache<DiscoveryDocument>;
  readonly jwks: JwksCache;

  constructor(readonly options: IdpOptions, now?: () => number) {
    this.location = locateIssuer(options.issuer);
    this.discovery = new SwrCache(() => loadDiscovery(this.location, options.timeoutMs), options.policy, now);
    this.jwks = new JwksCache(
      async () => {
        const doc = await this.discovery.require();
        if (doc === null) throw new Error(unavailableMessage('discovery', this.discovery.lastError));
        return loadJwks(options.jwksEndpoint ?? doc.jwksUri, options.timeoutMs);
      },
      options.policy,
      now,
    );
  }

  async verify(token: string, o: VerifyOptions): Promise<VerifyResult> {
    const doc = await this.discovery.get();
    if (doc === null) return unavailable('discovery', this.discovery.lastError);
    if (doc.signingAlgs !== null && !doc.signingAlgs.includes(o.alg)) return invalid(`algorithm ${o.alg} is not used by the issuer`);
    const keys = await this.jwks.keysFor(o.kid);
    if (keys === null) return unavailable('jwks', this.jwks.lastError);
    if (o.kid !== undefined && !keys.kids.has(o.kid)) return invalid('unknown key id');
    try {
      const { payload } = await jwtVerify(token, keys.getKey, {
        algorithms: [o.alg],
        issuer: o.issuers === null ? doc.issuer : [...o.issuers],
        clockTolerance: o.leewaySec,
        requiredClaims: ['exp'],
      });
      return { ok: true, payload };
    } catch (err) {
      return invalid(reason(err));
    }
  }
}

function unavailableMessage(what: string, err: Error | null): string {
  return `${what} unavailable${err !== null ? `: ${err.message}` : ''}`;
}

/** A short, client-safe description of why jose refused a token. */
function reason(err: unknown): string {
  if (err instanceof errors.JWTExpired) return 'token expired';
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.claim === 'nbf') return 'token not valid yet';
    if (err.claim === 'iss') return 'issuer not allowed';
    if (err.claim === 'exp') return 'token has no expiry';
    return `invalid ${err.claim} claim`;
  }
  if (err instanceof errors.JWSSignatureVerificationFailed) return 'signature verification failed';
  if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys) return 'no matching key';
  if (err instanceof errors.JOSEAlgNotAllowed) return 'algorithm not allowed';
  if (err instanceof errors.JWTInvalid || err instanceof errors.JWSInvalid) return 'malformed token';
  return 'invalid token';
}

// ---------------------------------------------------------------------------------------
// per-worker registry

const MAX_SHARED = 256;
const shared = new Map<string, IdentityProvider>();

/** The worker's IdentityProvider for these options (created on first use). */
export function sharedIdentityProvider(options: IdpOptions): IdentityProvider {
  const key = JSON.stringify([locateIssuer(options.issuer).discoveryUrl, options.jwksEndpoint, options.timeoutMs, options.policy]);
  let idp = shared.get(key);
  if (idp === undefined) {
    idp = new IdentityProvider(options);
    if (shared.size >= MAX_SHARED) shared.delete(shared.keys().next().value!);
    shared.set(key, idp);
  }
  return idp;
}
