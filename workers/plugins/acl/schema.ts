/**
 * acl config (kong/plugins/acl/schema.lua, Kong 3.x): exactly one of `allow` / `deny`, with
 * Kong's entity-check messages. `include_consumer_groups` (Kong Enterprise / Konnect) is
 * accepted so such configs load; consumer_groups entities are refused by the loader, so no
 * consumer ever belongs to one and the field changes nothing (see README).
 */
import { array, boolean, record, string, type Infer } from '../../../src/config/schema-dsl.js';

const nonEmpty = (v: readonly string[] | null): boolean => v !== null && v.length > 0;

export const schema = record(
  {
    allow: array(string(), { description: 'Groups allowed to consume the route or service.' }),
    deny: array(string(), { description: 'Groups not allowed to consume the route or service.' }),
    hide_groups_header: boolean({ default: false, description: 'Do not send X-Consumer-Groups / X-Authenticated-Groups upstream.' }),
    include_consumer_groups: boolean({ default: false, description: 'Kong Enterprise: also match consumer-group names.' }),
    always_use_authenticated_groups: boolean({
      default: false,
      description: 'Use groups set by an authentication plugin even when a consumer with a credential is set.',
    }),
  },
  {
    checks: [
      {
        custom: (c) => {
          const n = Number(nonEmpty(c.allow)) + Number(nonEmpty(c.deny));
          if (n === 1) return undefined;
          const fields = "'config.allow', 'config.deny'";
          return n === 0
            ? [`exactly one of these fields must be non-empty: ${fields}`, `at least one of these fields must be non-empty: ${fields}`].map((message) => ({ message }))
            : { message: `exactly one of these fields must be non-empty: ${fields}` };
        },
      },
    ],
  },
);

export type AclConfig = Infer<typeof schema>;
