/**
 * request-size-limiting config (kong/plugins/request-size-limiting/schema.lua, Kong 3.x):
 * the allowed body size in a unit, and whether a Content-Length is required.
 */
import { boolean, integer, record, string, type Infer } from '../../../src/config/schema-dsl.js';

export const SIZE_UNITS = ['megabytes', 'kilobytes', 'bytes'] as const;

/** Kong's unit_multiplication_factor. */
export const UNIT_BYTES: Readonly<Record<(typeof SIZE_UNITS)[number], number>> = {
  megabytes: 1048576,
  kilobytes: 1024,
  bytes: 1,
};

export const schema = record({
  allowed_payload_size: integer({ default: 128, description: 'Largest request body allowed, in `size_unit`.' }),
  size_unit: string({ one_of: SIZE_UNITS, default: 'megabytes', description: 'Unit of allowed_payload_size: megabytes (2^20 bytes), kilobytes (2^10) or bytes.' }),
  require_content_length: boolean({ default: false, description: 'Answer 411 to requests with neither Content-Length nor a chunked body.' }),
});

export type RequestSizeLimitingConfig = Infer<typeof schema>;
