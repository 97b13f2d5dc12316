/**
 * Deterministic entity ids, as Kong's declarative loader makes them
 * (kong/db/schema/others/declarative_config.lua: generate_ids, get_key_for_uuid_gen,
 * build_cache_key), so a config keeps its ids across reloads and, where Kong's own id is
 * deterministic, gets the same id Kong would give it.
 *
 *   namespace(entity) = uuidv5("fd02801f-0957-4a15-a55a-c8d9606f30b5", entity)
 *   id                = uuidv5(namespace(entity), key)
 *
 * where key is, as in Kong 3.x:
 * - for an entity with a cache_key, "<entity>:*:<f1>:<f2>..." over its cache_key fields:
 *   the value as written (a name or an id for a top-level reference), the parent's id for
 *   the field the nesting fills in, "" for an unset optional field ("*" is the workspace
 *   placeholder Kong uses when no workspace is set). plugins: name, route, service,
 *   consumer; targets: upstream, target; basicauth/hmacauth: username; acls: consumer, group.
 * - otherwise the endpoint key: the name of a service, route or upstream, a consumer's
 *   username, a jwt secret's key.
 *
 * Where Kong would fall back to a random UUID we stay deterministic instead:
 * - an unnamed service or route, a consumer with only a custom_id: "#custom_id:<id>" for
 *   the consumer, else "#<path in the file>" (e.g. "#services[2]"); such ids change when
 *   the entity moves in the file. `#` cannot occur in a name, so these never collide with
 *   a named entity's key.
 * - a key-auth credential: "#<consumer id>:<index among the consumer's credentials>"
 *   when nested, "#<path in the file>" at the top level. Never derived from the key
 *   itself: the credential id travels upstream in X-Credential-Identifier, and a hash of
 *   the secret must not.
 */
import { createHash } from 'node:crypto';
import { formatPath } from './schema-dsl.js';

const ROOT_NAMESPACE = 'fd02801f-0957-4a15-a55a-c8d9606f30b5';

function uuidBytes(uuid: string): Buffer {
  return Buffer.from(uuid.replace(/-/g, ''), 'hex');
}

/** RFC 4122 name-based UUID, version 5 (SHA-1). */
export function uuidv5(namespace: string, name: string): string {
  const hash = createHash('sha1').update(uuidBytes(namespace)).update(name, 'utf8').digest();
  hash[6] = (hash[6]! & 0x0f) | 0x50;
  hash[8] = (hash[8]! & 0x3f) | 0x80;
  const h = hash.subarray(0, 16).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

const namespaces = new Map<string, string>();

export function entityId(entity: string, key: string): string {
  let ns = namespaces.get(entity);
  if (ns === undefined) namespaces.set(entity, (ns = uuidv5(ROOT_NAMESPACE, entity)));
  return uuidv5(ns, key);
}

/** The key of an entity Kong would give a random id: where it is in the file. */
export function fallbackKey(path: ReadonlyArray<string | number>): string {
  return `#${formatPath(path)}`;
}

/** Kong's build_cache_key: "<entity>:*:<field values>". */
export function cacheKey(entity: string, parts: ReadonlyArray<string | null>): string {
  return [entity, '*', ...parts.map((p) => p ?? '')].join(':');
}
