import type { PluginDefinition } from '../../pipeline/types.js';
import { createIpRestriction } from './handler.js';
import { schema, type IpRestrictionConfig } from './schema.js';

/** Kong's default protocols for ip-restriction (it also runs in the stream subsystem there). */
export const IP_RESTRICTION_PROTOCOLS = ['http', 'https', 'tcp', 'tls', 'grpc', 'grpcs'] as const;

export const ipRestriction: PluginDefinition<IpRestrictionConfig> = {
  name: 'ip-restriction',
  priority: 990,
  schema,
  protocols: IP_RESTRICTION_PROTOCOLS,
  create: (config, env) => createIpRestriction(config, env),
};
