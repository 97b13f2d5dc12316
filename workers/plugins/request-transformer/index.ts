import type { PluginDefinition } from '../../pipeline/types.js';
import { createRequestTransformer } from './handler.js';
import { schema, type RequestTransformerConfig } from './schema.js';

export const requestTransformer: PluginDefinition<RequestTransformerConfig> = {
  name: 'request-transformer',
  priority: 801,
  schema,
  create: (config, env) => createRequestTransformer(config, env),
};
