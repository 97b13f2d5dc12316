/**
 * The top level of a declarative config file (kong/db/schema/others/declarative_config.lua
 * plus the keys decK adds). `_format_version` and `vaults` are accepted here as anything:
 * the loader checks them first, because version migration and vault references change
 * how the rest is read.
 */
import type { PluginSchemaRegistry } from '../../../workers/plugins/registry-schemas.js';
import { any, array, boolean, record, string } from '../schema-dsl.js';
import { metaFields } from './common.js';
import { consumerSchema } from './consumers.js';
import { aclSchema, basicauthSchema, hmacauthSchema, jwtSecretSchema, keyauthSchema } from './credentials.js';
import { pluginSchema } from './plugins.js';
import { routeSchema } from './routes.js';
import { serviceSchema } from './services.js';
import { targetSchema, upstreamSchema } from './upstreams.js';

/** An entity type Kong has and we do not: refused when it has entries, never ignored. */
const unsupportedEntity = (entity: string) =>
  array(any(), { check: (v) => (v.length > 0 ? `entity '${entity}' is not supported yet` : undefined) });

export function declarativeSchema(registry: PluginSchemaRegistry) {
  return record({
    _format_version: any(),
    _transform: boolean({ default: true }),
    _info: any({ description: "decK's metadata (select_tags, defaults); accepted and ignored" }),
    _workspace: string(),
    ...metaFields(),
    vaults: any(),
    services: array(serviceSchema(registry)),
    routes: array(routeSchema('top', registry)),
    consumers: array(consumerSchema(registry)),
    plugins: array(pluginSchema('top', registry)),
    upstreams: array(upstreamSchema()),
    targets: array(targetSchema('top')),
    keyauth_credentials: array(keyauthSchema('top')),
    basicauth_credentials: array(basicauthSchema('top')),
    jwt_secrets: array(jwtSecretSchema('top')),
    hmacauth_credentials: array(hmacauthSchema('top')),
    acls: array(aclSchema('top')),
    certificates: unsupportedEntity('certificates'),
    ca_certificates: unsupportedEntity('ca_certificates'),
    snis: unsupportedEntity('snis'),
    keys: unsupportedEntity('keys'),
    key_sets: unsupportedEntity('key_sets'),
    consumer_groups: unsupportedEntity('consumer_groups'),
    filter_chains: unsupportedEntity('filter_chains'),
    oauth2_credentials: unsupportedEntity('oauth2_credentials'),
    mtls_auth_credentials: unsupportedEntity('mtls_auth_credentials'),
  });
}
