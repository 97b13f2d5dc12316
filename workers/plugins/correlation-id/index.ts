import type { PluginDefinition } from '../../pipeline/types.js';
import { createCorrelationId } from './handler.js';
import { schema, type CorrelationIdConfig } from './schema.js';

export const correlationId: PluginDefinition<CorrelationIdConfig> = {
  name: 'correlation-id',
  priority: 100001,
  schema,
  create: (config) => createCorrelationId(config),
};
