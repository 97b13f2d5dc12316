/**
 * Consumer credentials and ACL groups (kong/plugins/{key-auth,basic-auth,jwt,hmac-auth,acl}/daos.lua),
 * validated and normalised here; the auth plugins use them.
 *
 * Decisions where Kong differs or is silent:
 * - Kong generates a random key-auth key, jwt key/secret or hmac secret when none is
 *   given. A declarative file that gets a new random secret on every load is of no use,
 *   so here they are required.
 * - Secrets compared after a lookup (basic-auth password, hmac secret, jwt secret and
 *   public key) accept vault references, so they can live in the environment. The
 *   key-auth key does not: it is the lookup index itself (Kong: not referenceable either).
 * - A public key is required (and must parse) for every asymmetric jwt algorithm,
 *   ES* included, which Kong does not check.
 */
import { createPublicKey } from 'node:crypto';
import { number, record, string } from '../schema-dsl.js';
import { filledByNesting, id, metaFields, tags } from './common.js';

export type CredentialNesting = 'top' | 'consumer';

/** The owning consumer: its username or id at the top level, implied when nested. */
const consumerField = (nesting: CredentialNesting) =>
  nesting === 'top' ? string({ required: true }) : filledByNesting('consumer', 'consumer');

/** Kong's DAO_MAX_TTL. */
const MAX_TTL = 100_000_000;

export const keyauthSchema = (nesting: CredentialNesting) =>
  record({
    id: id(),
    key: string({ required: true }),
    ttl: number({ between: [0, MAX_TTL] }),
    tags: tags(),
    consumer: consumerField(nesting),
    ...metaFields(),
  });

export const basicauthSchema = (nesting: CredentialNesting) =>
  record({
    id: id(),
    username: string({ required: true }),
    password: string({ required: true, referenceable: true }),
    tags: tags(),
    consumer: consumerField(nesting),
    ...metaFields(),
  });

export const JWT_ALGORITHMS = [
  'HS256', 'HS384', 'HS512', 'RS256', 'RS384', 'RS512', 'ES256', 'ES384', 'ES512', 'PS256', 'PS384', 'PS512', 'EdDSA',
] as const;

export const jwtSecretSchema = (nesting: CredentialNesting) =>
  record(
    {
      id: id(),
      key: string({ required: true }),
      secret: string({ referenceable: true }),
      rsa_public_key: string({ referenceable: true }),
      algorithm: string({ one_of: JWT_ALGORITHMS, default: 'HS256' }),
      tags: tags(),
      consumer: consumerField(nesting),
      ...metaFields(),
    },
    {
      checks: [
        {
          custom: (c) => {
            if (c.algorithm.startsWith('HS')) {
              return c.secret === null ? { field: 'secret', message: `required field missing (algorithm ${c.algorithm} needs a secret)` } : undefined;
            }
            if (c.rsa_public_key === null) {
              return { field: 'rsa_public_key', message: `required field missing (algorithm ${c.algorithm} needs a public key)` };
            }
            try {
              createPublicKey(c.rsa_public_key);
            } catch (err) {
              return { field: 'rsa_public_key', message: `invalid key: ${(err as Error).message}` };
            }
            return undefined;
          },
        },
      ],
    },
  );

export const hmacauthSchema = (nesting: CredentialNesting) =>
  record({
    id: id(),
    username: string({ required: true }),
    secret: string({ required: true, referenceable: true }),
    tags: tags(),
    consumer: consumerField(nesting),
    ...metaFields(),
  });

export const aclSchema = (nesting: CredentialNesting) =>
  record({
    id: id(),
    group: string({ required: true }),
    tags: tags(),
    consumer: consumerField(nesting),
    ...metaFields(),
  });
