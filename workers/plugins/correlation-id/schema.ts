/**
 * correlation-id config (kong/plugins/correlation-id/schema.lua). The header name is
 * checked as a header name (Kong takes any string) because it is set on requests and
 * responses, where an invalid name would fail every request instead of the load.
 */
import { boolean, record, string, type Infer } from '../../../src/config/schema-dsl.js';
import { checkHeaderName } from '../../../src/config/validators.js';

export const schema = record({
  header_name: string({ default: 'Kong-Request-ID', check: checkHeaderName }),
  generator: string({ one_of: ['uuid', 'uuid#counter', 'tracker'], default: 'uuid#counter' }),
  echo_downstream: boolean({ default: false }),
});

export type CorrelationIdConfig = Infer<typeof schema>;
