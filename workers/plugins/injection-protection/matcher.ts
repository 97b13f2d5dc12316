/**
 * One plugin instance's rules, compiled once per config generation with RE2: custom
 * injections first, then the enabled built-in types (Kong's order).
 *
 * A value is first tested against all rules at once (one RE2 alternation: a single
 * linear-time pass and one native call, ~0.1 µs for a short value); only a value that
 * matches is tried rule by rule to name the one that fired. Every rule is matched
 * case-insensitively, as Kong matches with PCRE's `i` flag; a custom pattern can turn that
 * off inside with `(?-i)`.
 */
import RE2 from 're2';
import { BUILTIN_RULES, CHECK_ORDER, type InjectionType } from './patterns.js';

export interface CustomInjection {
  readonly name: string;
  readonly regex: string;
}

export interface CompiledRule {
  /** The injection type (`sql`, ...) or the custom injection's name. */
  readonly injection: string;
  /** Rule id within a built-in type (`sql.union_select`), or the custom injection's name. */
  readonly rule: string;
  readonly custom: boolean;
  readonly re: RE2;
}

/** How a pattern is compiled: case-insensitive, like Kong's `joi` flags. */
export function caseless(source: string): string {
  return `(?i:${source})`;
}

/**
 * The load-time check of a custom regex: it must compile with RE2 on its own and in the
 * case-insensitive wrapper it runs in. Message in the style of Kong's is_regex.
 */
export function customRegexError(regex: string): string | undefined {
  try {
    new RE2(regex);
    new RE2(caseless(regex));
    return undefined;
  } catch (err) {
    const reason = (err as Error).message;
    const hint = /perl operator|escape sequence: \\[1-9]|invalid escape/.test(reason) ? '; RE2 has no lookaround and no backreferences' : '';
    return `not a valid regex: ${regex} (RE2 returned: ${reason}${hint})`;
  }
}

export class InjectionMatcher {
  readonly rules: readonly CompiledRule[];
  /** All rules as one alternation, or null when there are none. */
  private readonly any: RE2 | null;
  /** The same alternation in multi-line mode: the pre-filter over many values joined by newlines (see ValueJoiner). */
  readonly anyLine: RE2 | null;
  /** Reused by the scans of this instance (synchronous, never interleaved). */
  readonly joiner: ValueJoiner;
  readonly finder: RuleFinder;

  constructor(types: readonly InjectionType[], custom: readonly CustomInjection[]) {
    const rules: CompiledRule[] = [];
    const sources: string[] = [];
    const add = (injection: string, rule: string, custom: boolean, source: string): void => {
      const wrapped = caseless(source);
      sources.push(wrapped);
      rules.push({ injection, rule, custom, re: new RE2(wrapped) });
    };
    for (const c of custom) add(c.name, c.name, true, c.regex);
    const enabled = new Set(types);
    for (const type of CHECK_ORDER) {
      if (!enabled.has(type)) continue;
      for (const r of BUILTIN_RULES[type]) add(type, r.id, false, r.source);
    }
    this.rules = rules;
    this.any = rules.length === 0 ? null : new RE2(sources.join('|'));
    this.anyLine = rules.length === 0 ? null : new RE2(sources.join('|'), 'm');
    this.joiner = new ValueJoiner(this.anyLine);
    this.finder = new RuleFinder(this);
  }

  /** Index in `rules` of the first rule matching `value`, or -1. */
  find(value: string): number {
    const any = this.any;
    if (any === null || !any.test(value)) return -1;
    const rules = this.rules;
    for (let i = 0; i < rules.length; i++) if (rules[i]!.re.test(value)) return i;
    return -1;
  }
}

/** Where a scanner puts the values it extracts. */
export interface ValueSink {
  /** True when `value` matched and the scan must stop there. */
  check(value: string): boolean;
}

/** The exact check: the first rule matching one value. */
export class RuleFinder implements ValueSink {
  ruleIndex = -1;
  constructor(private readonly matcher: InjectionMatcher) {}
  check(value: string): boolean {
    this.ruleIndex = this.matcher.find(value);
    return this.ruleIndex >= 0;
  }
}

const JOIN_BUFFER_BYTES = 64 * 1024;

/**
 * The fast pre-filter: the values of a location written one per line into a reused buffer
 * and matched with one native call (RE2 converts a JS string argument to UTF-8 on every
 * call, ~2 µs; a Buffer costs nothing). In multi-line mode `^` and `$` also match at the
 * line breaks, so every match a value has on its own is also a match of the joined text;
 * the joined text can match where no single value does (across a line break), which only
 * costs the exact per-value pass that follows. Never a false "no match".
 */
export class ValueJoiner implements ValueSink {
  private buf = Buffer.allocUnsafe(JOIN_BUFFER_BYTES);
  private used = 0;
  private hit = false;

  constructor(private readonly re: RE2 | null) {}

  reset(): void {
    this.used = 0;
    this.hit = false;
  }

  check(value: string): boolean {
    if (this.hit || this.re === null) return false;
    const room = value.length * 3 + 1;
    if (this.used + room > this.buf.length) {
      this.flush();
      if (room > this.buf.length) {
        if (this.re.test(Buffer.from(value, 'utf8'))) this.hit = true;
        return false;
      }
    }
    this.used += this.buf.write(value, this.used, 'utf8');
    this.buf[this.used++] = 0x0a;
    return false;
  }

  /** Whether any value added since reset() may match. */
  matched(): boolean {
    this.flush();
    return this.hit;
  }

  private flush(): void {
    if (this.used > 0 && !this.hit && this.re !== null && this.re.test(this.buf.subarray(0, this.used))) this.hit = true;
    this.used = 0;
  }
}
