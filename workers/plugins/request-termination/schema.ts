/**
 * request-termination config (kong/plugins/request-termination/schema.lua): a fixed
 * status with a message or a raw body, optionally only when `trigger` (a header or query
 * argument name) is present, or an echo of the request.
 */
import { boolean, integer, record, string, type CheckFailure, type Infer } from '../../../src/config/schema-dsl.js';
import { checkHeaderName } from '../../../src/config/validators.js';

const present = (v: string | null): v is string => v !== null && v.length > 0;

export const schema = record(
  {
    status_code: integer({ default: 503, between: [100, 599] }),
    message: string(),
    content_type: string(),
    // An empty body is a legitimate reply (e.g. with 204).
    body: string({ len_min: 0 }),
    echo: boolean({ default: false }),
    trigger: string({ check: checkHeaderName }),
  },
  {
    checks: [
      {
        custom: (c): CheckFailure | undefined => {
          if (present(c.message) && (present(c.content_type) || c.body !== null)) {
            return { field: 'message', message: 'message cannot be used with content_type or body' };
          }
          if (present(c.content_type) && c.body === null) return { field: 'content_type', message: 'content_type requires a body' };
          if (c.echo && (present(c.content_type) || c.body !== null)) {
            return { field: 'echo', message: 'echo cannot be used with content_type and body' };
          }
          return undefined;
        },
      },
    ],
  },
);

export type RequestTerminationConfig = Infer<typeof schema>;
