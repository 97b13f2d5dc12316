import type { PluginDefinition } from '../../pipeline/types.js';
import { createBotDetection } from './handler.js';
import { schema, type BotDetectionConfig } from './schema.js';

export const botDetection: PluginDefinition<BotDetectionConfig> = {
  name: 'bot-detection',
  priority: 2500,
  schema,
  // Kong's typedefs.no_consumer: the plugin runs before anyone is authenticated.
  noConsumer: true,
  create: (config) => createBotDetection(config),
};
