/**
 * Route `headers` conditions. Kong compiles each to
 *   any(lower(http.headers.<name>)) == "<lowercased value>"   or, for "~*re",   ... ~ "<re>"
 * with the values of one header ORed and the headers ANDed. `any()` runs over every instance
 * of a repeated header; our listener joins repeats with ", ", so a value is tried both whole
 * and element by element (split on ","): "x-v: 1" and "x-v: 1, 2" both match a route on 1.
 *
 * Regexes are unanchored searches, as in Kong. Kong lowercases the pattern text itself to
 * get case-insensitivity, which silently turns \D into \d or \S into \s; we compile the
 * pattern as written with RE2's case-insensitive flag instead.
 */
import RE2 from 're2';

export interface HeaderCondition {
  name: string;
  /** Lowercased literal values. */
  exact: string[];
  regexes: RE2[];
}

export function compileHeader(name: string, values: string[]): HeaderCondition | string {
  const exact: string[] = [];
  const regexes: RE2[] = [];
  for (const v of values) {
    if (v.startsWith('~*')) {
      try {
        regexes.push(new RE2(v.slice(2), 'i'));
      } catch (err) {
        return `header "${name}": invalid regex "${v.slice(2)}": ${(err as Error).message}`;
      }
    } else {
      exact.push(v.toLowerCase());
    }
  }
  if (exact.length === 0 && regexes.length === 0) return `header "${name}" has no values`;
  return { name: name.toLowerCase(), exact, regexes };
}

function matchesOne(cond: HeaderCondition, value: string): boolean {
  if (cond.exact.length > 0) {
    const lower = value.toLowerCase();
    for (const e of cond.exact) if (e === lower) return true;
  }
  for (const re of cond.regexes) if (re.test(value)) return true;
  return false;
}

export function headerMatches(cond: HeaderCondition, value: string | undefined): boolean {
  if (value === undefined) return false;
  if (matchesOne(cond, value)) return true;
  if (!value.includes(',')) return false;
  for (const element of value.split(',')) {
    if (matchesOne(cond, element.trim())) return true;
  }
  return false;
}
