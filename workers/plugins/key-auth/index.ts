import type { PluginDefinition } from '../../pipeline/types.js';
import { createKeyAuth } from './handler.js';
import { schema, type KeyAuthConfig } from './schema.js';

export const keyAuth: PluginDefinition<KeyAuthConfig> = {
  name: 'key-auth',
  priority: 1250,
  schema,
  // Kong's typedefs.no_consumer: an authentication plugin cannot be scoped to a consumer.
  noConsumer: true,
  create: (config, env) => createKeyAuth(config, env),
};
