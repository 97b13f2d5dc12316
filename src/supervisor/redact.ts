/**
 * What the admin API shows of a config: every secret replaced by REDACTED.
 *
 * - credentials: key-auth keys, basic-auth passwords (hashed or not), jwt and hmac secrets;
 * - plugin config fields whose name says secret (password, secret, token, api key, private
 *   key...) at any depth, e.g. rate-limiting's `redis.password`, openid-connect's
 *   `client_secret`;
 * - any string equal to a value a vault reference resolved to, or to one of the
 *   credentials above, wherever it appears (a secret copied into a tag or a header value).
 */
import type { ConsumerConfig, GatewayConfig, PluginConfig } from '../config/types.js';

export const REDACTED = '<redacted>';

const SECRET_FIELD = /password|secret|token|passphrase|private_?key|api_?key|^key$|credential|authorization|cookie/i;

export class Redactor {
  private readonly known: Set<string>;

  constructor(config: GatewayConfig, vaultSecrets: readonly string[] = []) {
    this.known = new Set(vaultSecrets.filter((s) => s.length > 0));
    for (const c of config.consumers) {
      for (const k of c.keyauth_credentials) this.known.add(k.key);
      for (const b of c.basicauth_credentials) this.known.add(b.password);
      for (const j of c.jwt_secrets) if (j.secret !== null) this.known.add(j.secret);
      for (const h of c.hmacauth_credentials) this.known.add(h.secret);
    }
  }

  /** Deep copy of `value` with secret-named string fields and known secret values redacted. */
  value(value: unknown, fieldName = ''): unknown {
    if (typeof value === 'string') {
      if (value === '') return value;
      if (SECRET_FIELD.test(fieldName) || this.known.has(value)) return REDACTED;
      // A secret embedded in a longer string (bounded: a config with many credentials skips this).
      if (this.known.size <= 1000) for (const s of this.known) if (s.length >= 6 && value.includes(s)) return REDACTED;
      return value;
    }
    if (Array.isArray(value)) return value.map((v) => this.value(v, fieldName));
    if (value !== null && typeof value === 'object') {
      const out: Record<string, unknown> = {};
      // `$`-prefixed keys are derived data a plugin schema adds to its normalised config
      // (oas-validation's `$compiled`): never user input, never shown.
      for (const [k, v] of Object.entries(value)) if (k.charCodeAt(0) !== 0x24) out[k] = this.value(v, k);
      return out;
    }
    return value;
  }

  plugin(p: PluginConfig): unknown {
    return this.value(p);
  }

  /** A consumer as Kong lists it (credentials live under their own endpoints in Kong). */
  consumer(c: ConsumerConfig): unknown {
    return this.value({ id: c.id, username: c.username, custom_id: c.custom_id, tags: c.tags });
  }

  /** A consumer with its credentials, secrets redacted (GET /config). */
  consumerWithCredentials(c: ConsumerConfig): unknown {
    return {
      ...(this.consumer(c) as object),
      keyauth_credentials: c.keyauth_credentials.map((k) => ({ ...(this.value({ id: k.id, ttl: k.ttl, tags: k.tags }) as object), key: REDACTED })),
      basicauth_credentials: c.basicauth_credentials.map((b) => ({ ...(this.value({ id: b.id, username: b.username, tags: b.tags }) as object), password: REDACTED })),
      jwt_secrets: c.jwt_secrets.map((j) => ({
        ...(this.value({ id: j.id, key: j.key, algorithm: j.algorithm, rsa_public_key: j.rsa_public_key, tags: j.tags }, 'jwt') as object),
        // A jwt credential's `key` is its issuer claim (an identifier), not a secret.
        key: j.key,
        secret: j.secret === null ? null : REDACTED,
      })),
      hmacauth_credentials: c.hmacauth_credentials.map((h) => ({ ...(this.value({ id: h.id, username: h.username, tags: h.tags }) as object), secret: REDACTED })),
      acls: c.acls.map((a) => this.value(a)),
    };
  }

  /** The whole declarative config, redacted (GET /config). */
  config(config: GatewayConfig): unknown {
    return {
      _format_version: config._format_version,
      services: config.services.map((s) => this.value(s)),
      routes: config.routes.map((r) => this.value(r)),
      consumers: config.consumers.map((c) => this.consumerWithCredentials(c)),
      plugins: config.plugins.map((p) => this.plugin(p)),
      upstreams: config.upstreams.map((u) => this.value(u)),
    };
  }
}
