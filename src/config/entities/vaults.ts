/**
 * vaults (kong/db/schema/entities/vaults.lua). Only the `env` implementation exists
 * (as in Kong OSS); a declared vault gives env references a prefix of their own.
 */
import { array, record, string } from '../schema-dsl.js';
import { id, metaFields, tags } from './common.js';

export const vaultSchema = () =>
  record({
    id: id(),
    prefix: string({
      required: true,
      pattern: /^[a-z][a-z\d-]*[a-z\d]$/,
      pattern_err: 'invalid value: lower-case letters, digits and -, starting with a letter (e.g. env-secrets)',
      // The prefix names the vault in references; it cannot shadow an implementation.
      not_one_of: ['env'],
    }),
    name: string({
      required: true,
      check: (n) => (n === 'env' ? undefined : `vault '${n}' is not supported: only 'env' is (as in Kong OSS)`),
    }),
    description: string(),
    config: record({ prefix: string({ pattern: /^[A-Za-z_-][A-Za-z0-9_-]*$/ }) }, { required: true }),
    tags: tags(),
    ...metaFields(),
  });

export const vaultsSchema = () => array(vaultSchema());
