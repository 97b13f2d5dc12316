import type { PluginDefinition } from '../../pipeline/types.js';
import { createAcl } from './handler.js';
import { schema, type AclConfig } from './schema.js';

export const acl: PluginDefinition<AclConfig> = {
  name: 'acl',
  priority: 950,
  schema,
  // Kong's typedefs.no_consumer: groups are the consumer's; an acl cannot be scoped to one.
  noConsumer: true,
  protocols: ['grpc', 'grpcs', 'http', 'https'],
  create: (config) => createAcl(config),
};
