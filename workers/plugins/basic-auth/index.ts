import type { PluginDefinition } from '../../pipeline/types.js';
import { createBasicAuth } from './handler.js';
import { schema, type BasicAuthConfig } from './schema.js';

export const basicAuth: PluginDefinition<BasicAuthConfig> = {
  name: 'basic-auth',
  priority: 1100,
  schema,
  // Kong's typedefs.no_consumer: an authentication plugin cannot be scoped to a consumer.
  noConsumer: true,
  create: (config, env) => createBasicAuth(config, env),
};
