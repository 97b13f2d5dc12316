/**
 * The verification key of each jwt credential, as a node:crypto KeyObject built once per
 * plugin instance (secret_is_base64 changes what an HS secret means, so the table is not
 * shared between instances).
 *
 * - HS*: the secret (base64-decoded first with secret_is_base64, Kong's decoder) as a
 *   secret KeyObject; a secret that does not decode is "Invalid key/secret", as in Kong.
 * - everything else: rsa_public_key as a public KeyObject. jose is always called with a
 *   KeyObject and `algorithms: [credential.algorithm]`, never with key bytes, so a PEM can
 *   never be used as an HMAC secret.
 *
 * Kong also base64-decodes rsa_public_key when secret_is_base64 is on, which makes every
 * asymmetric credential fail; here the option applies to HS secrets only.
 */
import { createPublicKey, createSecretKey, type KeyObject } from 'node:crypto';
import type { JwtCredential } from '../../auth/consumer-index.js';
import type { PluginEnv } from '../../pipeline/types.js';
import { kongBase64Decode } from './decode.js';

/** What each asymmetric algorithm needs: key type and, for EC, the curve. */
const EXPECTED: Readonly<Record<string, { types: readonly string[]; curve?: string }>> = {
  RS256: { types: ['rsa'] },
  RS384: { types: ['rsa'] },
  RS512: { types: ['rsa'] },
  PS256: { types: ['rsa', 'rsa-pss'] },
  PS384: { types: ['rsa', 'rsa-pss'] },
  PS512: { types: ['rsa', 'rsa-pss'] },
  ES256: { types: ['ec'], curve: 'prime256v1' },
  ES384: { types: ['ec'], curve: 'secp384r1' },
  ES512: { types: ['ec'], curve: 'secp521r1' },
  EdDSA: { types: ['ed25519', 'ed448'] },
};

export class CredentialKeys {
  private readonly keys = new WeakMap<JwtCredential, KeyObject | null>();

  constructor(
    private readonly secretIsBase64: boolean,
    private readonly log: PluginEnv['log'],
  ) {}

  /** The credential's key, or null when it has none usable ("Invalid key/secret"). */
  get(credential: JwtCredential): KeyObject | null {
    let key = this.keys.get(credential);
    if (key === undefined) {
      key = this.build(credential);
      this.keys.set(credential, key);
    }
    return key;
  }

  private build(c: JwtCredential): KeyObject | null {
    if (c.algorithm.startsWith('HS')) {
      if (c.secret === null) return null;
      const bytes = this.secretIsBase64 ? kongBase64Decode(c.secret) : Buffer.from(c.secret, 'utf8');
      return bytes === null ? null : createSecretKey(bytes);
    }
    if (c.rsa_public_key === null) return null;
    let key: KeyObject;
    try {
      key = createPublicKey(c.rsa_public_key);
    } catch (err) {
      this.log.warn({ credential: c.id, err: (err as Error).message }, 'jwt credential public key does not parse');
      return null;
    }
    this.checkFit(c, key);
    return key;
  }

  /** Logs keys jose will refuse for the credential's algorithm, so operators learn why tokens fail. */
  private checkFit(c: JwtCredential, key: KeyObject): void {
    const want = EXPECTED[c.algorithm];
    const type = key.asymmetricKeyType ?? '';
    const details = key.asymmetricKeyDetails;
    let problem: string | null = null;
    if (want !== undefined && !want.types.includes(type)) problem = `a ${type} key cannot verify ${c.algorithm}`;
    else if (want?.curve !== undefined && details?.namedCurve !== want.curve) problem = `${c.algorithm} needs curve ${want.curve}`;
    else if ((type === 'rsa' || type === 'rsa-pss') && (details?.modulusLength ?? 0) < 2048) {
      problem = `RSA keys under 2048 bits are refused (${details?.modulusLength ?? '?'} bits)`;
    }
    if (problem !== null) this.log.warn({ credential: c.id, algorithm: c.algorithm }, `jwt credential key unusable: ${problem}; its tokens get "Invalid signature"`);
  }
}
