/**
 * Kong's request-transformer templates (`$(headers.x)`, `$(uri_captures[1])`, ...) without
 * running any code.
 *
 * Kong renders values with Penlight templates: the text inside `$(...)` is a Lua
 * expression evaluated in a sandbox. We accept the forms Kong documents and nothing else,
 * parsed once at config load into a small expression tree and evaluated with plain
 * lookups (no eval, no `new Function`):
 *
 *   text outside placeholders        kept as written
 *   \$                               a literal `$` (so `\$(x)` is the text `$(x)`)
 *   $(headers.x_y)                   request header; case-insensitive, `_` may stand for `-`
 *   $(headers["X-Y"]) $(headers['x-y'])
 *   $(query_params.name) $(query_params["a b"])
 *   $(uri_captures.name) $(uri_captures[1]) $(uri_captures["name"])
 *   $(shared.key) $(shared.key.sub) $(shared["key"])   kong.ctx.shared (ctx.shared)
 *   $("literal") $('$(not a template)')                 string literals (Kong's escape form)
 *   a or b, a and b, (a), nil, true, false              Lua truthiness: only nil and false are false
 *
 * Anything else (function calls, lambdas, `..`, `type(...)`, other globals, operators) is
 * refused when the config loads, with the position of what is not supported. Values are
 * rendered as Penlight does (`tostring(v or '')`): nil and false are empty, true is
 * "true". A repeated query argument (an array) renders as its values joined with ", ",
 * the way repeated request headers are joined.
 */
import type { QueryArgs } from '../../http/query.js';

export type TemplateRoot = 'headers' | 'query_params' | 'uri_captures' | 'shared';
const ROOTS: ReadonlySet<string> = new Set<TemplateRoot>(['headers', 'query_params', 'uri_captures', 'shared']);

type Expr =
  | { readonly t: 'lit'; readonly v: string | boolean | null }
  | { readonly t: 'path'; readonly root: TemplateRoot; readonly keys: readonly string[] }
  | { readonly t: 'or' | 'and'; readonly a: Expr; readonly b: Expr };

/** A value with its placeholders parsed. `parts` is null for a constant (the common case). */
export interface Template {
  readonly source: string;
  /** The value when it has no placeholder (escapes resolved). */
  readonly constant: string;
  readonly parts: ReadonlyArray<string | Expr> | null;
  /** The request data the placeholders read. */
  readonly roots: ReadonlySet<TemplateRoot>;
}

export class TemplateError extends Error {}

/** What templates read, fixed before any transformation (Kong's non-mutable snapshot). */
export interface TemplateSources {
  readonly headers: Readonly<Record<string, string>>;
  readonly query: QueryArgs;
  readonly captures: Readonly<Record<string, string>> | null;
  readonly shared: Readonly<Record<string, unknown>> | null;
}

/** Parses a value; throws TemplateError with a message fit for a config error. */
export function compileTemplate(source: string): Template {
  const parts: Array<string | Expr> = [];
  const roots = new Set<TemplateRoot>();
  let text = '';
  let i = 0;
  while (i < source.length) {
    const c = source[i]!;
    if (c === '\\' && source[i + 1] === '$') {
      text += '$';
      i += 2;
      continue;
    }
    if (c === '$' && source[i + 1] === '(') {
      const parser = new ExprParser(source, i + 2);
      const expr = parser.parseExpr();
      parser.expect(')');
      if (text !== '') parts.push(text);
      text = '';
      parts.push(expr);
      collectRoots(expr, roots);
      i = parser.pos;
      continue;
    }
    text += c;
    i++;
  }
  if (parts.length === 0) return { source, constant: text, parts: null, roots };
  if (text !== '') parts.push(text);
  return { source, constant: '', parts, roots };
}

/** The config-load check: an error message, or undefined when the value compiles. */
export function templateProblem(source: string): string | undefined {
  try {
    compileTemplate(source);
    return undefined;
  } catch (err) {
    if (err instanceof TemplateError) return `value '${source}' is not in supported format, error: ${err.message}`;
    throw err;
  }
}

export function renderTemplate(t: Template, src: TemplateSources | null): string {
  const parts = t.parts;
  if (parts === null) return t.constant;
  let out = '';
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i]!;
    out += typeof p === 'string' ? p : toText(evaluate(p, src!));
  }
  return out;
}

function collectRoots(e: Expr, into: Set<TemplateRoot>): void {
  if (e.t === 'path') into.add(e.root);
  else if (e.t === 'or' || e.t === 'and') {
    collectRoots(e.a, into);
    collectRoots(e.b, into);
  }
}

// ---- evaluation -----------------------------------------------------------------------

function truthy(v: unknown): boolean {
  return v !== undefined && v !== null && v !== false;
}

function evaluate(e: Expr, src: TemplateSources): unknown {
  switch (e.t) {
    case 'lit':
      return e.v;
    case 'or': {
      const a = evaluate(e.a, src);
      return truthy(a) ? a : evaluate(e.b, src);
    }
    case 'and': {
      const a = evaluate(e.a, src);
      return truthy(a) ? evaluate(e.b, src) : a;
    }
    case 'path':
      return lookup(e.root, e.keys, src);
  }
}

function lookup(root: TemplateRoot, keys: readonly string[], src: TemplateSources): unknown {
  let v: unknown;
  switch (root) {
    case 'headers':
      v = headerValue(src.headers, keys[0]!);
      break;
    case 'query_params':
      v = own(src.query, keys[0]!);
      break;
    case 'uri_captures':
      v = src.captures === null ? undefined : own(src.captures, keys[0]!);
      break;
    case 'shared':
      v = src.shared === null ? undefined : own(src.shared, keys[0]!);
      break;
  }
  for (let i = 1; i < keys.length && v !== undefined; i++) {
    const k = keys[i]!;
    if (Array.isArray(v)) {
      // Lua tables are 1-based: query_params.a[1] is the first value.
      const n = Number(k);
      v = Number.isInteger(n) && n >= 1 ? v[n - 1] : undefined;
    } else if (typeof v === 'object' && v !== null) {
      v = own(v as Record<string, unknown>, k);
    } else {
      v = undefined;
    }
  }
  return v;
}

/** Own properties only: `constructor`, `__proto__` and friends are never reachable. */
function own(obj: Readonly<Record<string, unknown>>, key: string): unknown {
  return Object.hasOwn(obj, key) ? obj[key] : undefined;
}

/** ngx.req.get_headers() lookups: lowercased, and `_` standing for `-` when needed. */
function headerValue(headers: Readonly<Record<string, string>>, key: string): string | undefined {
  const k = key.toLowerCase();
  if (Object.hasOwn(headers, k)) return headers[k];
  const dashed = k.replace(/_/g, '-');
  return dashed !== k && Object.hasOwn(headers, dashed) ? headers[dashed] : undefined;
}

function toText(v: unknown): string {
  if (v === undefined || v === null || v === false) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return v.map(toText).join(', ');
  return '';
}

// ---- parsing --------------------------------------------------------------------------

const SUPPORTED = 'headers, query_params, uri_captures, shared, string literals, nil, true, false, or, and, parentheses';

const CONCAT = "'..' (concatenation) is not supported: put constant text outside the placeholder";

class ExprParser {
  pos: number;
  constructor(
    private readonly src: string,
    start: number,
  ) {
    this.pos = start;
  }

  private fail(what: string): never {
    throw new TemplateError(`${what} at position ${this.pos + 1} (supported: ${SUPPORTED})`);
  }

  private space(): void {
    while (this.pos < this.src.length && /\s/.test(this.src[this.pos]!)) this.pos++;
  }

  expect(ch: string): void {
    this.space();
    if (this.src[this.pos] !== ch) {
      if (this.pos >= this.src.length) this.fail(`missing '${ch}'`);
      if (this.src.startsWith('..', this.pos)) this.fail(CONCAT);
      this.fail(`unsupported '${this.src[this.pos]}' (expected '${ch}')`);
    }
    this.pos++;
  }

  private word(): string | null {
    this.space();
    const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(this.src.slice(this.pos));
    return m === null ? null : m[0];
  }

  parseExpr(): Expr {
    let left = this.parseAnd();
    for (;;) {
      if (this.word() !== 'or') return left;
      this.pos += 2;
      left = { t: 'or', a: left, b: this.parseAnd() };
    }
  }

  private parseAnd(): Expr {
    let left = this.parsePrimary();
    for (;;) {
      if (this.word() !== 'and') return left;
      this.pos += 3;
      left = { t: 'and', a: left, b: this.parsePrimary() };
    }
  }

  private parsePrimary(): Expr {
    this.space();
    const c = this.src[this.pos];
    if (c === undefined) this.fail('missing expression');
    if (c === '"' || c === "'") return { t: 'lit', v: this.string() };
    if (c === '(') {
      this.pos++;
      const e = this.parseExpr();
      this.expect(')');
      return e;
    }
    const w = this.word();
    if (w === null) this.fail(`unsupported '${c}'`);
    if (w === 'nil' || w === 'true' || w === 'false') {
      this.pos += w.length;
      return { t: 'lit', v: w === 'nil' ? null : w === 'true' };
    }
    if (!ROOTS.has(w)) this.fail(`unsupported name '${w}'`);
    this.pos += w.length;
    const keys: string[] = [];
    for (;;) {
      this.space();
      const d = this.src[this.pos];
      if (d === '.') {
        if (this.src[this.pos + 1] === '.') this.fail(CONCAT);
        this.pos++;
        const k = this.word();
        if (k === null) this.fail("a name must follow '.'");
        this.pos += k.length;
        keys.push(k);
      } else if (d === '[') {
        this.pos++;
        this.space();
        const q = this.src[this.pos];
        if (q === '"' || q === "'") keys.push(this.string());
        else {
          const m = /^[0-9]+/.exec(this.src.slice(this.pos));
          if (m === null) this.fail('an index must be a string or an integer');
          keys.push(String(Number(m[0])));
          this.pos += m[0].length;
        }
        this.expect(']');
      } else if (d === '(' || d === ':') {
        this.fail('function calls are not supported');
      } else {
        break;
      }
    }
    if (keys.length === 0) this.fail(`'${w}' needs a name, e.g. ${w}.name or ${w}["name"]`);
    return { t: 'path', root: w as TemplateRoot, keys };
  }

  /** A Lua short string: '...' or "..." with the usual backslash escapes. */
  private string(): string {
    const quote = this.src[this.pos]!;
    this.pos++;
    let out = '';
    for (;;) {
      const c = this.src[this.pos];
      if (c === undefined || c === '\n') this.fail('unfinished string');
      this.pos++;
      if (c === quote) return out;
      if (c !== '\\') {
        out += c;
        continue;
      }
      const e = this.src[this.pos];
      this.pos++;
      switch (e) {
        case 'n':
          out += '\n';
          break;
        case 't':
          out += '\t';
          break;
        case 'r':
          out += '\r';
          break;
        case '\\':
        case '"':
        case "'":
          out += e;
          break;
        default:
          this.pos--;
          this.fail(`unsupported escape '\\${e ?? ''}' in a string`);
      }
    }
  }
}
