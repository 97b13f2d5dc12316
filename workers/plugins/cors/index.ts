import type { PluginDefinition } from '../../pipeline/types.js';
import { createCors } from './handler.js';
import { schema, type CorsConfig } from './schema.js';

export const cors: PluginDefinition<CorsConfig> = {
  name: 'cors',
  priority: 2000,
  schema,
  // Kong's typedefs.no_consumer: CORS runs before authentication, so a consumer scope could never apply.
  noConsumer: true,
  create: (config, env) => createCors(config, env),
};
