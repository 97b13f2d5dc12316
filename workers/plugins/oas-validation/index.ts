import type { PluginDefinition } from '../../pipeline/types.js';
import { createOasValidation } from './handler.js';
import { schema, type OasValidationConfig } from './schema.js';

export const oasValidation: PluginDefinition<OasValidationConfig> = {
  name: 'oas-validation',
  priority: 850,
  schema,
  create: (config, env) => createOasValidation(config, env),
};
