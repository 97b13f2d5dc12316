import type { PluginDefinition } from '../../pipeline/types.js';
import { createXmlThreatProtection } from './handler.js';
import { schema, type XmlThreatProtectionConfig } from './schema.js';

export const xmlThreatProtection: PluginDefinition<XmlThreatProtectionConfig> = {
  name: 'xml-threat-protection',
  priority: 1008,
  schema,
  create: (config, env) => createXmlThreatProtection(config, env),
};
