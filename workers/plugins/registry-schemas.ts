/**
 * What the config loader needs to know about each plugin: its config schema, priority
 * and scope restrictions. Schemas only, no handlers, so loading a config (the `check`
 * command, the supervisor) never pulls in request-time code.
 */
import type { RecordSchema } from '../../src/config/schema-dsl.js';
import type { Protocol } from '../../src/config/types.js';
import { schema as aclSchema } from './acl/schema.js';
import { schema as hmacAuthSchema } from './hmac-auth/schema.js';
import { schema as correlationIdSchema } from './correlation-id/schema.js';
import { schema as requestTerminationSchema } from './request-termination/schema.js';
import { schema as openIdConnectSchema } from './openid-connect/schema.js';
import { schema as basicAuthSchema } from './basic-auth/schema.js';
import { schema as keyAuthSchema } from './key-auth/schema.js';
import { schema as jwtSchema } from './jwt/schema.js';
import { schema as corsSchema } from './cors/schema.js';
import { schema as requestSizeLimitingSchema } from './request-size-limiting/schema.js';
import { schema as rateLimitingSchema } from './rate-limiting/schema.js';
import { schema as ipRestrictionSchema } from './ip-restriction/schema.js';
import { schema as botDetectionSchema } from './bot-detection/schema.js';
import { schema as openTelemetrySchema } from './opentelemetry/schema.js';
import { schema as requestTransformerSchema } from './request-transformer/schema.js';
import { schema as responseTransformerSchema } from './response-transformer/schema.js';
import { schema as responseSizeLimitingSchema } from './response-size-limiting/schema.js';
import { schema as jsonThreatProtectionSchema } from './json-threat-protection/schema.js';
import { schema as injectionProtectionSchema } from './injection-protection/schema.js';
import { schema as xmlThreatProtectionSchema } from './xml-threat-protection/schema.js';
import { schema as oasValidationSchema } from './oas-validation/schema.js';

export interface PluginSchemaEntry {
  readonly schema: RecordSchema<any>;
  /** Kong's PRIORITY: higher runs first in request phases. */
  readonly priority: number;
  /** Kong's typedefs.no_consumer / no_route / no_service: that scope is refused at load. */
  readonly noConsumer?: boolean;
  readonly noRoute?: boolean;
  readonly noService?: boolean;
  /** Protocols the plugin accepts, also the default of an instance's `protocols`. */
  readonly protocols?: readonly Protocol[];
}

export type PluginSchemaRegistry = ReadonlyMap<string, PluginSchemaEntry>;

const HTTP: readonly Protocol[] = ['grpc', 'grpcs', 'http', 'https'];

export const pluginSchemas: PluginSchemaRegistry = new Map<string, PluginSchemaEntry>([
  ['correlation-id', { schema: correlationIdSchema, priority: 100001, protocols: HTTP }],
  ['request-termination', { schema: requestTerminationSchema, priority: 2, protocols: HTTP }],
  ['hmac-auth', { schema: hmacAuthSchema, priority: 1030, noConsumer: true, protocols: HTTP }],
  ['acl', { schema: aclSchema, priority: 950, noConsumer: true, protocols: HTTP }],
  ['openid-connect', { schema: openIdConnectSchema, priority: 1050, noConsumer: true, protocols: HTTP }],
  ['key-auth', { schema: keyAuthSchema, priority: 1250, noConsumer: true, protocols: HTTP }],
  ['basic-auth', { schema: basicAuthSchema, priority: 1100, noConsumer: true, protocols: HTTP }],
  ['jwt', { schema: jwtSchema, priority: 1450, noConsumer: true, protocols: HTTP }],
  ['cors', { schema: corsSchema, priority: 2000, noConsumer: true, protocols: HTTP }],
  ['request-size-limiting', { schema: requestSizeLimitingSchema, priority: 951, protocols: HTTP }],
  ['rate-limiting', { schema: rateLimitingSchema, priority: 910, protocols: HTTP }],
  ['ip-restriction', { schema: ipRestrictionSchema, priority: 990, protocols: ['http', 'https', 'tcp', 'tls', 'grpc', 'grpcs'] }],
  ['bot-detection', { schema: botDetectionSchema, priority: 2500, noConsumer: true, protocols: HTTP }],
  ['opentelemetry', { schema: openTelemetrySchema, priority: 14, noConsumer: true, protocols: HTTP }],
  ['request-transformer', { schema: requestTransformerSchema, priority: 801, protocols: HTTP }],
  ['response-transformer', { schema: responseTransformerSchema, priority: 800, protocols: HTTP }],
  ['response-size-limiting', { schema: responseSizeLimitingSchema, priority: 802, protocols: HTTP }],
  ['json-threat-protection', { schema: jsonThreatProtectionSchema, priority: 1009, protocols: HTTP }],
  ['injection-protection', { schema: injectionProtectionSchema, priority: 1007, protocols: HTTP }],
  ['xml-threat-protection', { schema: xmlThreatProtectionSchema, priority: 1008, protocols: HTTP }],
  ['oas-validation', { schema: oasValidationSchema, priority: 850, protocols: HTTP }],
]);
