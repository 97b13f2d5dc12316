/**
 * Consumers and their credentials compiled into lookup tables once per config generation
 * (per worker), so an authentication plugin does one Map lookup per request and never
 * scans (Kong: `kong.cache` in front of `select_by_key`, here the whole set is in memory).
 *
 * Every credential carries its consumer, so a hit needs no second lookup. The tables
 * are read-only after build: all workers see the same content for the same config.
 */
import type { ConsumerConfig } from '../../src/config/types.js';

export interface IndexedConsumer {
  readonly id: string;
  readonly username: string | null;
  readonly custom_id: string | null;
  /** ACL groups (acls entities), in config order. */
  readonly groups: readonly string[];
}

export interface KeyCredential {
  readonly id: string;
  readonly consumer: IndexedConsumer;
  /** performance.timeOrigin-free wall clock (ms) after which the key is refused; null: never. */
  readonly expiresAt: number | null;
}

export interface BasicCredential {
  readonly id: string;
  readonly username: string;
  /** Stored form: `$scrypt$...`, Kong's sha1 hex, or (only in tests of the loader) plaintext. */
  readonly password: string;
  readonly consumer: IndexedConsumer;
}

export interface JwtCredential {
  readonly id: string;
  readonly key: string;
  readonly algorithm: string;
  readonly secret: string | null;
  readonly rsa_public_key: string | null;
  readonly consumer: IndexedConsumer;
}

export interface HmacCredential {
  readonly id: string;
  readonly username: string;
  readonly secret: string;
  readonly consumer: IndexedConsumer;
}

export class ConsumerIndex {
  private readonly byIdMap = new Map<string, IndexedConsumer>();
  private readonly byUsernameMap = new Map<string, IndexedConsumer>();
  private readonly byCustomIdMap = new Map<string, IndexedConsumer>();
  private readonly keys = new Map<string, KeyCredential>();
  private readonly basics = new Map<string, BasicCredential>();
  private readonly jwts = new Map<string, JwtCredential>();
  private readonly hmacs = new Map<string, HmacCredential>();

  /** `loadedAt` (Date.now()) starts key-auth `ttl` clocks: a declarative file has no creation time. */
  constructor(consumers: readonly ConsumerConfig[], loadedAt: number = Date.now()) {
    for (const c of consumers) {
      const consumer: IndexedConsumer = Object.freeze({
        id: c.id,
        username: c.username,
        custom_id: c.custom_id,
        groups: Object.freeze(c.acls.map((a) => a.group)),
      });
      this.byIdMap.set(c.id, consumer);
      if (c.username !== null) this.byUsernameMap.set(c.username, consumer);
      if (c.custom_id !== null) this.byCustomIdMap.set(c.custom_id, consumer);
      for (const k of c.keyauth_credentials) {
        const expiresAt = k.ttl !== null && k.ttl > 0 ? loadedAt + k.ttl * 1000 : null;
        this.keys.set(k.key, Object.freeze({ id: k.id, consumer, expiresAt }));
      }
      for (const b of c.basicauth_credentials) {
        this.basics.set(b.username, Object.freeze({ id: b.id, username: b.username, password: b.password, consumer }));
      }
      for (const j of c.jwt_secrets) {
        this.jwts.set(
          j.key,
          Object.freeze({ id: j.id, key: j.key, algorithm: j.algorithm, secret: j.secret, rsa_public_key: j.rsa_public_key, consumer }),
        );
      }
      for (const h of c.hmacauth_credentials) {
        this.hmacs.set(h.username, Object.freeze({ id: h.id, username: h.username, secret: h.secret, consumer }));
      }
    }
  }

  get size(): number {
    return this.byIdMap.size;
  }

  byId(id: string): IndexedConsumer | undefined {
    return this.byIdMap.get(id);
  }

  byUsername(username: string): IndexedConsumer | undefined {
    return this.byUsernameMap.get(username);
  }

  byCustomId(customId: string): IndexedConsumer | undefined {
    return this.byCustomIdMap.get(customId);
  }

  /** Kong's `anonymous` field: a consumer id, or (since 3.x) a username. */
  resolve(idOrUsername: string): IndexedConsumer | undefined {
    return this.byIdMap.get(idOrUsername) ?? this.byUsernameMap.get(idOrUsername);
  }

  /** A key-auth key, unless unknown or expired. */
  key(key: string, now?: number): KeyCredential | undefined {
    const k = this.keys.get(key);
    // The clock is read only for a key with a ttl.
    if (k === undefined || (k.expiresAt !== null && (now ?? Date.now()) >= k.expiresAt)) return undefined;
    return k;
  }

  basic(username: string): BasicCredential | undefined {
    return this.basics.get(username);
  }

  jwt(key: string): JwtCredential | undefined {
    return this.jwts.get(key);
  }

  hmac(username: string): HmacCredential | undefined {
    return this.hmacs.get(username);
  }
}

export const EMPTY_CONSUMER_INDEX = new ConsumerIndex([]);
