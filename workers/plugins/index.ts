/**
 * The plugins this gateway ships: name -> definition. A static list on purpose (no
 * dynamic discovery): adding a plugin is one folder plus one line here.
 */
import type { PluginDefinition } from '../pipeline/types.js';
import { acl } from './acl/index.js';
import { hmacAuth } from './hmac-auth/index.js';
import { correlationId } from './correlation-id/index.js';
import { requestTermination } from './request-termination/index.js';
import { basicAuth } from './basic-auth/index.js';
import { keyAuth } from './key-auth/index.js';
import { jwt } from './jwt/index.js';
import { openIdConnect } from './openid-connect/index.js';
import { cors } from './cors/index.js';
import { requestSizeLimiting } from './request-size-limiting/index.js';
import { rateLimiting } from './rate-limiting/index.js';
import { ipRestriction } from './ip-restriction/index.js';
import { botDetection } from './bot-detection/index.js';
import { openTelemetry } from './opentelemetry/index.js';
import { requestTransformer } from './request-transformer/index.js';
import { responseTransformer } from './response-transformer/index.js';
import { responseSizeLimiting } from './response-size-limiting/index.js';
import { jsonThreatProtection } from './json-threat-protection/index.js';
import { injectionProtection } from './injection-protection/index.js';
import { xmlThreatProtection } from './xml-threat-protection/index.js';
import { oasValidation } from './oas-validation/index.js';

const all: PluginDefinition<any>[] = [openIdConnect, correlationId, requestTermination, keyAuth, basicAuth, jwt, hmacAuth, acl, ipRestriction, botDetection, cors, requestSizeLimiting, rateLimiting, openTelemetry, jsonThreatProtection, injectionProtection, xmlThreatProtection, requestTransformer, responseTransformer, responseSizeLimiting, oasValidation];

export const pluginDefinitions: ReadonlyMap<string, PluginDefinition<any>> = new Map(all.map((d) => [d.name, d]));
