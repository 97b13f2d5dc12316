import type { PluginDefinition } from '../../pipeline/types.js';
import { createResponseTransformer } from './handler.js';
import { schema, type ResponseTransformerConfig } from './schema.js';

export const responseTransformer: PluginDefinition<ResponseTransformerConfig> = {
  name: 'response-transformer',
  priority: 800,
  schema,
  create: (config, env) => createResponseTransformer(config, env),
};
