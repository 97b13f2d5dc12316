/**
 * OpenID Connect Discovery 1.0: `<issuer>/.well-known/openid-configuration`, the document
 * that names the issuer's key set (jwks_uri) and the algorithms it signs with.
 *
 * Kong's `issuer` is either the issuer identifier or the discovery URL itself; both are
 * accepted. The document's `issuer` must be the configured one (section 4.3 of the spec:
 * identical, here up to a trailing slash), otherwise a document served from the expected
 * host could vouch for tokens of another issuer.
 */
import { fetchJson } from './fetch-json.js';
import type { Loaded } from './jwks-cache.js';

export const WELL_KNOWN = '/.well-known/openid-configuration';

export interface IssuerLocation {
  /** Issuer identifier as configured, without the well-known suffix. */
  readonly issuer: string;
  readonly discoveryUrl: string;
}

export interface DiscoveryDocument {
  /** The issuer identifier exactly as the provider spells it: what `iss` must equal. */
  readonly issuer: string;
  readonly jwksUri: string;
  /** id_token_signing_alg_values_supported, or null when the document has none. */
  readonly signingAlgs: readonly string[] | null;
}

function trimSlash(s: string): string {
  return s.endsWith('/') ? s.slice(0, -1) : s;
}

export function locateIssuer(configured: string): IssuerLocation {
  const trimmed = trimSlash(configured);
  if (trimmed.endsWith(WELL_KNOWN)) return { issuer: trimmed.slice(0, -WELL_KNOWN.length), discoveryUrl: trimmed };
  return { issuer: trimmed, discoveryUrl: trimmed + WELL_KNOWN };
}

function isHttpUrl(value: unknown): value is string {
  if (typeof value !== 'string') return false;
  try {
    const u = new URL(value);
    return u.protocol === 'https:' || u.protocol === 'http:';
  } catch {
    return false;
  }
}

/** Validates a discovery document for `expectedIssuer` (as configured, without suffix). */
export function parseDiscovery(json: unknown, expectedIssuer: string): DiscoveryDocument {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new Error('discovery document is not a JSON object');
  const doc = json as Record<string, unknown>;
  const issuer = doc['issuer'];
  if (typeof issuer !== 'string' || trimSlash(issuer) !== trimSlash(expectedIssuer)) {
    throw new Error(`discovery document names issuer ${JSON.stringify(issuer)}, expected ${JSON.stringify(expectedIssuer)}`);
  }
  const jwksUri = doc['jwks_uri'];
  if (!isHttpUrl(jwksUri)) throw new Error('discovery document has no valid jwks_uri');
  // An https issuer must not send us to fetch its keys in the clear.
  if (issuer.startsWith('https:') && !jwksUri.startsWith('https:')) throw new Error('jwks_uri of an https issuer must be https');
  const algs = doc['id_token_signing_alg_values_supported'];
  const signingAlgs = Array.isArray(algs) ? algs.filter((a): a is string => typeof a === 'string') : null;
  return { issuer, jwksUri, signingAlgs };
}

export async function loadDiscovery(location: IssuerLocation, timeoutMs: number): Promise<Loaded<DiscoveryDocument>> {
  const doc = await fetchJson(location.discoveryUrl, timeoutMs);
  return { value: parseDiscovery(doc.json, location.issuer), maxAgeSec: doc.maxAgeSec };
}
