import type { PluginDefinition } from '../../pipeline/types.js';
import { createRequestTermination } from './handler.js';
import { schema, type RequestTerminationConfig } from './schema.js';

export const requestTermination: PluginDefinition<RequestTerminationConfig> = {
  name: 'request-termination',
  priority: 2,
  schema,
  create: (config) => createRequestTermination(config),
};
