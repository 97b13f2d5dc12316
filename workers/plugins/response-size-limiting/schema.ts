/**
 * response-size-limiting config: no Kong plugin (Kong has none; the third-party Optum
 * kong-response-size-limiting has `allowed_payload_size` in megabytes). The fields mirror
 * Kong's request-size-limiting: a size, its unit, and whether a Content-Length is required.
 */
import { boolean, integer, record, string, type Infer } from '../../../src/config/schema-dsl.js';

export const SIZE_UNITS = ['megabytes', 'kilobytes', 'bytes'] as const;

/** request-size-limiting's unit_multiplication_factor. */
export const UNIT_BYTES: Readonly<Record<(typeof SIZE_UNITS)[number], number>> = {
  megabytes: 1048576,
  kilobytes: 1024,
  bytes: 1,
};

export const schema = record({
  allowed_payload_size: integer({ default: 128, between: [0, 2 ** 40], description: 'Largest upstream response body allowed, in `size_unit`.' }),
  size_unit: string({ one_of: SIZE_UNITS, default: 'megabytes', description: 'Unit of allowed_payload_size: megabytes (2^20 bytes), kilobytes (2^10) or bytes.' }),
  require_content_length: boolean({ default: false, description: 'Refuse (502) upstream responses with a body but no Content-Length.' }),
});

export type ResponseSizeLimitingConfig = Infer<typeof schema>;
