import type { PluginDefinition } from '../../pipeline/types.js';
import { createJwt } from './handler.js';
import { schema, type JwtConfig } from './schema.js';

export const jwt: PluginDefinition<JwtConfig> = {
  name: 'jwt',
  priority: 1450,
  schema,
  noConsumer: true,
  protocols: ['grpc', 'grpcs', 'http', 'https'],
  create: (config, env) => createJwt(config, env),
};
