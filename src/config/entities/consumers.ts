/**
 * consumers (kong/db/schema/entities/consumers.lua) with their nested credentials, ACL
 * groups and consumer-scoped plugins.
 */
import type { PluginSchemaRegistry } from '../../../workers/plugins/registry-schemas.js';
import { array, record, string } from '../schema-dsl.js';
import { id, metaFields, tags, unsupported } from './common.js';
import { aclSchema, basicauthSchema, hmacauthSchema, jwtSecretSchema, keyauthSchema } from './credentials.js';
import { pluginSchema } from './plugins.js';

export function consumerSchema(registry: PluginSchemaRegistry) {
  return record(
    {
      id: id(),
      username: string(),
      custom_id: string(),
      tags: tags(),
      plugins: array(pluginSchema('consumer', registry)),
      keyauth_credentials: array(keyauthSchema('consumer')),
      basicauth_credentials: array(basicauthSchema('consumer')),
      jwt_secrets: array(jwtSecretSchema('consumer')),
      hmacauth_credentials: array(hmacauthSchema('consumer')),
      acls: array(aclSchema('consumer')),
      oauth2_credentials: unsupported("entity 'oauth2_credentials'"),
      mtls_auth_credentials: unsupported("entity 'mtls_auth_credentials'"),
      groups: unsupported('consumer groups'),
      ...metaFields(),
    },
    { checks: [{ at_least_one_of: ['custom_id', 'username'] }] },
  );
}
