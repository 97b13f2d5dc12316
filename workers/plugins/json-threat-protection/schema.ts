/**
 * json-threat-protection config (Kong Enterprise 3.8+, json-threat-protection schema): field
 * names, defaults and bounds are Kong's (every limit -1 = unlimited, up to 2^31;
 * error_status_code 400-499). `forbidden_object_entry_names` is ours (see README.md).
 */
import { array, boolean, integer, record, string, type Infer } from '../../../src/config/schema-dsl.js';

const LIMIT_RANGE = [-1, 2147483648] as const;

/** Entry names refused by default: the keys that pollute JavaScript prototypes. */
export const DEFAULT_FORBIDDEN_NAMES = ['__proto__', 'constructor', 'prototype'];

export const schema = record({
  max_body_size: integer({ default: 8192, between: LIMIT_RANGE, description: 'Max size of the request body in bytes. -1 means unlimited.' }),
  max_container_depth: integer({ default: -1, between: LIMIT_RANGE, description: 'Max nested depth of objects and arrays. -1 means unlimited.' }),
  max_object_entry_count: integer({ default: -1, between: LIMIT_RANGE, description: 'Max number of entries in an object. -1 means unlimited.' }),
  max_object_entry_name_length: integer({ default: -1, between: LIMIT_RANGE, description: 'Max length of an entry name, in characters. -1 means unlimited.' }),
  max_array_element_count: integer({ default: -1, between: LIMIT_RANGE, description: 'Max number of elements in an array. -1 means unlimited.' }),
  max_string_value_length: integer({ default: -1, between: LIMIT_RANGE, description: 'Max length of a string value, in characters. -1 means unlimited.' }),
  allow_duplicate_object_entry_name: boolean({ default: true, description: 'Allow an object to repeat an entry name.' }),
  allow_non_json_requests: boolean({ default: false, description: 'Let requests whose Content-Type is not JSON through unchecked.' }),
  enforcement_mode: string({ one_of: ['block', 'log_only'] as const, default: 'block', description: 'block refuses a violating request; log_only logs it and lets it through.' }),
  error_status_code: integer({ default: 400, between: [400, 499], description: 'Status of the answer to a refused request.' }),
  error_message: string({ default: 'Bad Request', description: 'Message of the answer to a refused request.' }),
  forbidden_object_entry_names: array(string({ len_max: 256 }), {
    default: DEFAULT_FORBIDDEN_NAMES,
    description: 'Entry names refused anywhere in the document, compared after decoding escapes (not in Kong). [] turns the check off.',
  }),
});

export type JsonThreatProtectionConfig = Infer<typeof schema>;
