import type { PluginDefinition } from '../../pipeline/types.js';
import { createResponseSizeLimiting } from './handler.js';
import { schema, type ResponseSizeLimitingConfig } from './schema.js';

export const responseSizeLimiting: PluginDefinition<ResponseSizeLimitingConfig> = {
  name: 'response-size-limiting',
  // The third-party Optum plugin's: before the transformers' body filters (801/800), so
  // it counts the upstream's bytes as they arrive, before anything buffers them.
  priority: 802,
  schema,
  create: (config, env) => createResponseSizeLimiting(config, env),
};
