/**
 * Replaces plaintext basic-auth passwords with scrypt hashes before a config leaves the
 * supervisor (see src/shared/password-hash.ts). Hashes are remembered across reloads by
 * (consumer, sha256 of the plaintext), so reloading an unchanged file does not pay the
 * deliberately slow hash again.
 */
import { createHash } from 'node:crypto';
import { hashPassword, passwordForm } from '../shared/password-hash.js';
import type { GatewayConfig } from './types.js';

export class PasswordProtector {
  private cache = new Map<string, string>();

  constructor(private readonly ln?: number) {}

  /** A copy of `config` whose basic-auth passwords are all in a stored (hashed) form. */
  async protect(config: GatewayConfig): Promise<GatewayConfig> {
    const next = new Map<string, string>();
    let changed = false;
    const consumers = await Promise.all(
      config.consumers.map(async (c) => {
        if (c.basicauth_credentials.length === 0) return c;
        const creds = await Promise.all(
          c.basicauth_credentials.map(async (b) => {
            if (passwordForm(b.password) !== 'plaintext') return b;
            changed = true;
            const key = `${c.id}\0${createHash('sha256').update(b.password).digest('base64')}`;
            let hashed = this.cache.get(key) ?? next.get(key);
            if (hashed === undefined) hashed = await hashPassword(b.password, this.ln);
            next.set(key, hashed);
            return { ...b, password: hashed };
          }),
        );
        return { ...c, basicauth_credentials: creds };
      }),
    );
    // Only the hashes of the current config are kept: a removed password is forgotten.
    this.cache = next;
    return changed ? { ...config, consumers } : config;
  }
}
