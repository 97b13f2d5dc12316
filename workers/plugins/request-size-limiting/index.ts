import type { PluginDefinition } from '../../pipeline/types.js';
import { createRequestSizeLimiting } from './handler.js';
import { schema, type RequestSizeLimitingConfig } from './schema.js';

export const requestSizeLimiting: PluginDefinition<RequestSizeLimitingConfig> = {
  name: 'request-size-limiting',
  priority: 951,
  schema,
  create: (config) => createRequestSizeLimiting(config),
};
