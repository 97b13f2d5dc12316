import type { PluginDefinition } from '../../pipeline/types.js';
import { createJsonThreatProtection } from './handler.js';
import { schema, type JsonThreatProtectionConfig } from './schema.js';

export const jsonThreatProtection: PluginDefinition<JsonThreatProtectionConfig> = {
  name: 'json-threat-protection',
  priority: 1009,
  schema,
  create: (config, env) => createJsonThreatProtection(config, env),
};
