import type { PluginDefinition } from '../../pipeline/types.js';
import { createOpenIdConnect } from './handler.js';
import { schema, type OpenIdConnectConfig } from './schema.js';

export const openIdConnect: PluginDefinition<OpenIdConnectConfig> = {
  name: 'openid-connect',
  priority: 1050,
  schema,
  // Kong: typedefs.no_consumer, like every authentication plugin.
  noConsumer: true,
  protocols: ['grpc', 'grpcs', 'http', 'https'],
  create: (config, env) => createOpenIdConnect(config, env),
};
