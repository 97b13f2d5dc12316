/**
 * ip-restriction config (kong/plugins/ip-restriction/schema.lua, Kong 3.x): `allow` and
 * `deny` lists of IP addresses or CIDR ranges (at least one of them non-empty), the
 * `status` and `message` of the rejection. As in Kong, `status` and `message` have no
 * schema default: the handler answers 403 "IP address not allowed: <client ip>" when they
 * are unset.
 *
 * Stricter than Kong at load time, where Kong would fail every request at run time
 * instead: `status` must be an integer between 400 and 599 (kong.response.error refuses
 * anything else), and entries Kong's schema lets through but its matcher cannot parse
 * (IPv4 with leading zeros, IPv6 zone ids) are refused.
 */
import { array, integer, record, string, type Infer } from '../../../src/config/schema-dsl.js';
import { checkIpOrCidr } from './cidr.js';

const nonEmpty = (v: readonly string[] | null): boolean => v !== null && v.length > 0;

export const schema = record(
  {
    allow: array(string({ check: checkIpOrCidr }), {
      description: 'IP addresses or CIDR ranges (IPv4 or IPv6) allowed; every other client is rejected.',
    }),
    deny: array(string({ check: checkIpOrCidr }), {
      description: 'IP addresses or CIDR ranges (IPv4 or IPv6) rejected; checked before `allow`.',
    }),
    status: integer({ between: [400, 599], description: 'Status of the rejection (403 when unset).' }),
    message: string({ description: 'Message of the rejection ("IP address not allowed: <client ip>" when unset).' }),
  },
  {
    checks: [
      {
        custom: (c) =>
          nonEmpty(c.allow) || nonEmpty(c.deny)
            ? undefined
            : "at least one of these fields must be non-empty: 'config.allow', 'config.deny'",
      },
    ],
  },
);

export type IpRestrictionConfig = Infer<typeof schema>;
