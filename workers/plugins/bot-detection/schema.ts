/**
 * bot-detection config (kong/plugins/bot-detection/schema.lua, Kong 3.x): `allow` and
 * `deny`, lists of regular expressions matched against the User-Agent header, both
 * empty by default.
 *
 * Kong compiles them with PCRE; here they are compiled with RE2, so matching is linear in
 * the length of the User-Agent whatever the pattern (no catastrophic backtracking on a
 * header the client chose). The price: RE2 has no lookaround and no backreferences, and a
 * pattern using them is refused at load with RE2's reason, instead of loading and
 * behaving differently.
 */
import RE2 from 're2';
import { array, record, string, type Infer } from '../../../src/config/schema-dsl.js';

/** Kong's is_regex message ("not a valid regex: <pattern>"), with RE2's reason. */
export function checkUserAgentRegex(value: string): string | undefined {
  try {
    new RE2(value);
    return undefined;
  } catch (err) {
    const reason = (err as Error).message;
    const hint = /perl operator|escape sequence: \\[1-9]/.test(reason) ? '; lookaround and backreferences are not supported' : '';
    return `not a valid regex: ${value} (RE2 returned: ${reason}${hint})`;
  }
}

export const schema = record({
  allow: array(string({ check: checkUserAgentRegex }), {
    default: [],
    description: 'Regexes (RE2) of User-Agents let through even when deny or the built-in list matches them.',
  }),
  deny: array(string({ check: checkUserAgentRegex }), {
    default: [],
    description: 'Regexes (RE2) of User-Agents rejected with 403, in addition to the built-in list.',
  }),
});

export type BotDetectionConfig = Infer<typeof schema>;
