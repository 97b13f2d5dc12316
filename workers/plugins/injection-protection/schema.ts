/**
 * injection-protection config (Kong Enterprise 3.9+, `injection-protection` plugin): which
 * built-in injection types and custom regexes to look for, in which parts of the request,
 * and what to do on a match. Field names, defaults and bounds are Kong's, so a Kong config
 * loads unchanged:
 *
 *   injection_types   set of sql | sql_low_sensitivity | js | ssi | xpath_abbreviated |
 *                     xpath_extended | java_exception           default [sql]
 *   custom_injections array of { name, regex }                  default null (none)
 *   locations         set of headers | path | query | path_and_query | body
 *                                                                default [path_and_query]
 *   enforcement_mode  block | log_only                           default block
 *   error_status_code 400..499                                   default 400
 *   error_message     string                                     default "Bad Request"
 *
 * Custom regexes are compiled with RE2 at load (Kong uses PCRE): one RE2 cannot compile
 * (lookaround, backreferences) is refused here with RE2's reason, never at request time.
 * Custom names must be unique (Kong: "A unique name for this injection"): they name the
 * finding in the logs.
 */
import { array, integer, record, set, string, type Infer } from '../../../src/config/schema-dsl.js';
import { customRegexError } from './matcher.js';
import { INJECTION_TYPES } from './patterns.js';

export const LOCATIONS = ['headers', 'path', 'query', 'path_and_query', 'body'] as const;
export const ENFORCEMENT_MODES = ['block', 'log_only'] as const;

const customInjection = record({
  name: string({ required: true, description: 'A unique name for this injection, used in the logs.' }),
  regex: string({ required: true, check: customRegexError, description: 'The regex (RE2 syntax, matched case-insensitively) to look for.' }),
});

function duplicateName(list: ReadonlyArray<{ name: string }>): string | undefined {
  const seen = new Set<string>();
  for (const c of list) {
    if (seen.has(c.name)) return `custom injection names must be unique: '${c.name}' appears more than once`;
    seen.add(c.name);
  }
  return undefined;
}

export const schema = record({
  injection_types: set(string({ one_of: INJECTION_TYPES }), {
    default: ['sql'],
    description: 'The built-in injection types to look for.',
  }),
  custom_injections: array(customInjection, {
    check: duplicateName,
    description: 'Custom regexes to look for, each with a unique name.',
  }),
  locations: set(string({ one_of: LOCATIONS }), {
    default: ['path_and_query'],
    description: 'Where to look: headers, path, query, path_and_query, body.',
  }),
  enforcement_mode: string({ one_of: ENFORCEMENT_MODES, default: 'block', description: 'block: refuse a match; log_only: log it and let the request through.' }),
  error_status_code: integer({ default: 400, between: [400, 499], description: 'The status code of the refusal.' }),
  error_message: string({ default: 'Bad Request', description: 'The message of the refusal.' }),
});

export type InjectionProtectionConfig = Infer<typeof schema>;
