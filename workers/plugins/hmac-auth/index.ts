import type { PluginDefinition } from '../../pipeline/types.js';
import { createHmacAuth } from './handler.js';
import { schema, type HmacAuthConfig } from './schema.js';

export const hmacAuth: PluginDefinition<HmacAuthConfig> = {
  name: 'hmac-auth',
  priority: 1030,
  schema,
  // Kong's typedefs.no_consumer: an authentication plugin cannot be scoped to a consumer.
  noConsumer: true,
  protocols: ['grpc', 'grpcs', 'http', 'https'],
  create: (config, env) => createHmacAuth(config, env),
};
