/**
 * xml-threat-protection config (Kong Enterprise 3.1+, xml-threat-protection schema): field
 * names and defaults are Kong's. `enforcement_mode`, `error_status_code` and `error_message`
 * are ours (Kong's plugin always blocks; see README.md), with the json-threat-protection
 * names and defaults, so a Kong config loads unchanged.
 */
import { array, boolean, integer, number, record, string, type Infer } from '../../../src/config/schema-dsl.js';
import { mediaTypeOf } from './media-type.js';

const SIZE = [0, 2147483648] as const;

function checkMediaType(value: string): string | undefined {
  return mediaTypeOf(value) === null ? `'${value}' is not a media type (type/subtype)` : undefined;
}

export const schema = record({
  checked_content_types: array(string({ check: checkMediaType }), { default: ['application/xml'], description: 'Content-Types whose bodies are checked.' }),
  allowed_content_types: array(string({ check: checkMediaType }), { default: [], description: 'Content-Types let through unchecked; any other is refused.' }),
  allow_dtd: boolean({ default: false, description: 'Allow a DOCTYPE (internal entities only; external ones are always refused).' }),
  namespace_aware: boolean({ default: true, description: 'Parse namespaces: prefixes and xmlns declarations are checked as such, not as plain names and attributes.' }),
  max_depth: integer({ default: 50, between: SIZE, description: 'Maximum depth of elements.' }),
  max_children: integer({ default: 100, between: SIZE, description: 'Maximum children of an element (elements, text, comments, PIs, CDATA; adjacent text and CDATA are one).' }),
  max_attributes: integer({ default: 100, between: SIZE, description: 'Maximum attributes on an element.' }),
  max_namespaces: integer({ default: 20, between: SIZE, description: 'Maximum namespace declarations on an element (namespace_aware).' }),
  document: integer({ default: 10485760, between: SIZE, description: 'Maximum size of the document, in bytes.' }),
  buffer: integer({ default: 1048576, between: SIZE, description: 'Maximum size of the unparsed buffer, in characters.' }),
  localname: integer({ default: 1024, between: SIZE, description: 'Maximum length of a local name (elements and attributes).' }),
  prefix: integer({ default: 1024, between: SIZE, description: 'Maximum length of a namespace prefix (namespace_aware).' }),
  namespaceuri: integer({ default: 1024, between: SIZE, description: 'Maximum length of a namespace URI (namespace_aware).' }),
  attribute: integer({ default: 1048576, between: SIZE, description: 'Maximum length of an attribute value.' }),
  text: integer({ default: 1048576, between: SIZE, description: 'Maximum length of text (adjacent text and CDATA combined).' }),
  comment: integer({ default: 1024, between: SIZE, description: 'Maximum length of a comment.' }),
  pitarget: integer({ default: 1024, between: SIZE, description: 'Maximum length of a processing instruction target.' }),
  pidata: integer({ default: 1024, between: SIZE, description: 'Maximum length of processing instruction data.' }),
  entityname: integer({ default: 1024, between: SIZE, description: 'Maximum length of an entity name in an ENTITY declaration.' }),
  entity: integer({ default: 1024, between: SIZE, description: 'Maximum length of an entity value in an ENTITY declaration.' }),
  entityproperty: integer({ default: 1024, between: SIZE, description: 'Maximum length of systemId, publicId or notation name (external entities are refused anyway).' }),
  bla_max_amplification: number({ default: 100, between: [1, 1e9], description: 'Billion laughs: maximum (document + expanded entities) / document.' }),
  bla_threshold: integer({ default: 8388608, between: [1024, 2147483648], description: 'Billion laughs: size (document + expanded entities) from which the amplification is checked.' }),
  enforcement_mode: string({ one_of: ['block', 'log_only'] as const, default: 'block', description: 'block refuses a violating request; log_only logs it and lets it through (not in Kong).' }),
  error_status_code: integer({ default: 400, between: [400, 499], description: 'Status of the answer to a refused document (not in Kong).' }),
  error_message: string({ default: 'Bad Request', description: 'Message of the answer to a refused document (not in Kong).' }),
});

export type XmlThreatProtectionConfig = Infer<typeof schema>;
