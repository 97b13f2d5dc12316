import type { PluginDefinition } from '../../pipeline/types.js';
import { createRateLimiting } from './handler.js';
import { schema, type RateLimitingConfig } from './schema.js';

export const rateLimiting: PluginDefinition<RateLimitingConfig> = {
  name: 'rate-limiting',
  priority: 910,
  schema,
  create: (config, env) => createRateLimiting(config, env),
};
