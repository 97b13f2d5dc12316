import type { PluginDefinition } from '../../pipeline/types.js';
import { createOpenTelemetry } from './handler.js';
import { schema, type OpenTelemetryConfig } from './schema.js';

export const openTelemetry: PluginDefinition<OpenTelemetryConfig> = {
  name: 'opentelemetry',
  priority: 14,
  schema,
  noConsumer: true,
  create: (config, env) => createOpenTelemetry(config, env),
};
