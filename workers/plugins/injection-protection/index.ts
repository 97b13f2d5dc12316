import type { PluginDefinition } from '../../pipeline/types.js';
import { createInjectionProtection } from './handler.js';
import { schema, type InjectionProtectionConfig } from './schema.js';

export const injectionProtection: PluginDefinition<InjectionProtectionConfig> = {
  name: 'injection-protection',
  // Kong Enterprise's PRIORITY for injection-protection: after authentication (hmac-auth
  // 1030), before ip-restriction (990) and request-size-limiting (951).
  priority: 1007,
  schema,
  protocols: ['grpc', 'grpcs', 'http', 'https'],
  create: (config, env) => createInjectionProtection(config, env),
};
