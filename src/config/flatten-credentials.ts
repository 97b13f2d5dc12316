/**
 * Credentials and ACL groups, nested under their consumer or at the top level with a
 * `consumer` reference, attached to the consumer they belong to. Lookup keys (key-auth
 * key, basic-auth and hmac-auth username, jwt key) are unique across all consumers, as the
 * auth plugins find the consumer through them.
 */
import type { ConsumerConfig } from './types.js';
import { Catalog } from './catalog.js';
import type { Decl, Item } from './flatten.js';
import { cacheKey, entityId, fallbackKey } from './ids.js';
import type { Issue, Path } from './schema-dsl.js';

type Nested = Item<Decl['consumers']>;
type Key = Item<Nested['keyauth_credentials']>;
type Basic = Item<Nested['basicauth_credentials']>;
type Jwt = Item<Nested['jwt_secrets']>;
type Hmac = Item<Nested['hmacauth_credentials']>;
type Acl = Item<Nested['acls']>;

export function addCredentials(
  decl: Decl,
  consumersInOrder: readonly ConsumerConfig[],
  consumers: Catalog,
  consumerById: ReadonlyMap<string, ConsumerConfig>,
  issues: Issue[],
): void {
  const keyauth = new Catalog('keyauth_credentials', 'key', issues, true);
  const basicauth = new Catalog('basicauth_credentials', 'username', issues);
  const jwt = new Catalog('jwt_secrets', 'key', issues);
  const hmacauth = new Catalog('hmacauth_credentials', 'username', issues);
  const acls = new Catalog('acls', null, issues);
  const groups = new Map<string, Path>();

  // `consumerKey` is what Kong's cache key holds for the consumer: its id when nested,
  // the reference as written at the top level.
  const add = {
    keyauth(k: Key, path: Path, c: ConsumerConfig, fallback: string) {
      const id = k.id ?? entityId('keyauth_credentials', fallback);
      keyauth.add(id, path, k.id !== null, { key: k.key });
      c.keyauth_credentials.push({ id, key: k.key, ttl: k.ttl, tags: k.tags });
    },
    basicauth(b: Basic, path: Path, c: ConsumerConfig) {
      const id = b.id ?? entityId('basicauth_credentials', cacheKey('basicauth_credentials', [b.username]));
      basicauth.add(id, path, b.id !== null, { username: b.username });
      c.basicauth_credentials.push({ id, username: b.username, password: b.password, tags: b.tags });
    },
    jwt(j: Jwt, path: Path, c: ConsumerConfig) {
      const id = j.id ?? entityId('jwt_secrets', j.key);
      jwt.add(id, path, j.id !== null, { key: j.key });
      c.jwt_secrets.push({ id, key: j.key, secret: j.secret, rsa_public_key: j.rsa_public_key, algorithm: j.algorithm, tags: j.tags });
    },
    hmacauth(h: Hmac, path: Path, c: ConsumerConfig) {
      const id = h.id ?? entityId('hmacauth_credentials', cacheKey('hmacauth_credentials', [h.username]));
      hmacauth.add(id, path, h.id !== null, { username: h.username });
      c.hmacauth_credentials.push({ id, username: h.username, secret: h.secret, tags: h.tags });
    },
    acl(a: Acl, path: Path, c: ConsumerConfig, consumerKey: string) {
      const id = a.id ?? entityId('acls', cacheKey('acls', [consumerKey, a.group]));
      const scope = `${c.id} ${a.group}`;
      const prev = groups.get(scope);
      if (prev !== undefined) {
        issues.push({ path: [...path, 'group'], message: `uniqueness violation: consumer is already in group '${a.group}'` });
        return;
      }
      groups.set(scope, path);
      acls.add(id, path, a.id !== null, {});
      c.acls.push({ id, group: a.group, tags: a.tags });
    },
  };

  (decl.consumers ?? []).forEach((raw, i) => {
    const c = consumersInOrder[i]!;
    const base: Path = ['consumers', i];
    (raw.keyauth_credentials ?? []).forEach((k, j) => add.keyauth(k, [...base, 'keyauth_credentials', j], c, `#${c.id}:${j}`));
    (raw.basicauth_credentials ?? []).forEach((b, j) => add.basicauth(b, [...base, 'basicauth_credentials', j], c));
    (raw.jwt_secrets ?? []).forEach((s, j) => add.jwt(s, [...base, 'jwt_secrets', j], c));
    (raw.hmacauth_credentials ?? []).forEach((h, j) => add.hmacauth(h, [...base, 'hmacauth_credentials', j], c));
    (raw.acls ?? []).forEach((a, j) => add.acl(a, [...base, 'acls', j], c, c.id));
  });

  const owner = (ref: string, path: Path): ConsumerConfig | undefined => {
    const id = consumers.resolveAt(ref, 'consumer', path);
    return id === null ? undefined : consumerById.get(id);
  };
  const top = <T extends { consumer: string }>(list: readonly unknown[] | null, entity: string, fn: (v: T, path: Path, c: ConsumerConfig) => void) =>
    (list ?? []).forEach((v, i) => {
      const path: Path = [entity, i];
      const c = owner((v as T).consumer, path);
      if (c !== undefined) fn(v as T, path, c);
    });
  top<Key & { consumer: string }>(decl.keyauth_credentials, 'keyauth_credentials', (k, path, c) => add.keyauth(k, path, c, fallbackKey(path)));
  top<Basic & { consumer: string }>(decl.basicauth_credentials, 'basicauth_credentials', (b, path, c) => add.basicauth(b, path, c));
  top<Jwt & { consumer: string }>(decl.jwt_secrets, 'jwt_secrets', (s, path, c) => add.jwt(s, path, c));
  top<Hmac & { consumer: string }>(decl.hmacauth_credentials, 'hmacauth_credentials', (h, path, c) => add.hmacauth(h, path, c));
  top<Acl & { consumer: string }>(decl.acls, 'acls', (a, path, c) => add.acl(a, path, c, a.consumer));
}
