/**
 * A small typed schema engine in the spirit of Kong's schema typedefs (kong/db/schema):
 * entity and plugin schemas are declared as data, validation collects every issue with
 * its field path, and the result is a fresh, plain-JSON value with defaults applied.
 *
 *   export const schema = record({
 *     status_code: integer({ default: 503, between: [100, 599] }),
 *     message: string(),
 *   }, { checks: [{ mutually_exclusive: ['message', 'body'] }] });
 *   export type Config = Infer<typeof schema>;   // { status_code: number; message: string | null }
 *
 * Semantics worth knowing (they follow Kong unless noted):
 * - A field that is absent or explicitly null gets its default; without one it is an
 *   error when `required`, else it becomes null. (Kong keeps an explicit null; treating
 *   it like absence keeps the output types honest.)
 * - A missing `required` record is filled from `{}`, so its own defaults apply (Kong).
 * - Strings must be non-empty unless `len_min: 0` (Kong's implicit len_min = 1).
 * - Unknown record fields are errors. Sets drop repeated elements.
 * - Entity checks of a record run only when its fields validated cleanly, so one mistake
 *   does not cascade into a second, confusing message.
 */

export type PathSegment = string | number;
export type Path = PathSegment[];

export interface Issue {
  path: Path;
  message: string;
  /** Blame the key of the last path segment rather than its value (unknown fields). */
  at?: 'key';
}

/** Resolves a `{vault://...}` reference found in a referenceable field. */
export type ReferenceResolver = (reference: string, path: Path) => { value: string } | { error: string };

export interface ValidateOptions {
  /** Path of the value inside the document, prefixed to every issue. */
  path?: Path;
  /** Without a resolver, references in referenceable fields are kept as written. */
  resolveReference?: ReferenceResolver;
}

export type ValidateResult<T> = { ok: true; value: T; issues: [] } | { ok: false; value: undefined; issues: Issue[] };

const INVALID: unique symbol = Symbol('invalid');
type Out<T> = T | typeof INVALID;

class Ctx {
  readonly issues: Issue[] = [];
  constructor(readonly resolveReference: ReferenceResolver | undefined) {}
  push(path: Path, message: string, at?: 'key'): void {
    this.issues.push(at === undefined ? { path, message } : { path, message, at });
  }
}

const REFERENCE = /^\{vault:\/\/.*\}$/s;

/** Kong's kong.vault.is_reference: `{vault://...}`. */
export function isReference(value: unknown): value is string {
  return typeof value === 'string' && REFERENCE.test(value);
}

type SchemaKind = 'string' | 'integer' | 'number' | 'boolean' | 'array' | 'set' | 'map' | 'record' | 'any' | 'forbidden';

interface BaseOpts<T> {
  required?: boolean;
  default?: T;
  description?: string;
}

/**
 * A schema for values of type T. P records whether a record field using it is always
 * present in the output (required or defaulted); otherwise the field may be null.
 */
export abstract class Schema<T, P extends boolean = boolean> {
  declare readonly __value: T;
  declare readonly __present: P;
  abstract readonly kind: SchemaKind;
  readonly required: boolean;
  readonly defaultValue: unknown;
  readonly description: string | undefined;

  constructor(opts: BaseOpts<unknown>) {
    this.required = opts.required === true;
    this.defaultValue = opts.default;
    this.description = opts.description;
  }

  /** Validates a present, non-null value. */
  abstract parse(value: unknown, path: Path, ctx: Ctx): Out<T>;

  /** The message for a value of the wrong type, e.g. "expected an integer". */
  abstract readonly typeMessage: string;

  /** A field that is absent or null: default, error or null. */
  missing(path: Path, ctx: Ctx): Out<T | null> {
    if (this.defaultValue !== undefined) return this.parse(structuredClone(this.defaultValue), path, ctx);
    if (this.required) {
      ctx.push(path, 'required field missing');
      return INVALID;
    }
    return null;
  }

  run(value: unknown, path: Path, ctx: Ctx): Out<T | null> {
    return value === undefined || value === null ? this.missing(path, ctx) : this.parse(value, path, ctx);
  }
}

/** The validated value type of a schema. */
export type Infer<S> = S extends Schema<infer T, any> ? T : never;

/** The type a record field has in the output: null when neither required nor defaulted. */
export type FieldValue<S> = S extends Schema<infer T, infer P> ? (P extends true ? T : T | null) : never;

type Present<O> = O extends { required: true } ? true : O extends { default: unknown } ? true : false;

function fail(ctx: Ctx, path: Path, message: string): typeof INVALID {
  ctx.push(path, message);
  return INVALID;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Sets an own property even for keys like `__proto__`, which plain assignment would not. */
export function setOwn<V>(target: Record<string, V>, key: string, value: V): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}

function formatList(values: readonly unknown[]): string {
  return values.map((v) => String(v)).join(', ');
}

function quoteFields(names: readonly string[]): string {
  return names.map((n) => `'${n}'`).join(', ');
}

// Builders take `opts?: O & XOpts` rather than `opts?: O`: O captures literal types
// (one_of, required, default) while XOpts gives `check` callbacks their parameter types,
// which inference from O alone would leave as implicit any.

// ---------------------------------------------------------------------------------------
// strings

export interface StringOpts extends BaseOpts<string> {
  one_of?: readonly string[];
  not_one_of?: readonly string[];
  len_eq?: number;
  len_min?: number;
  len_max?: number;
  starts_with?: string;
  /** Our own patterns only (never user-supplied): JS RegExp, not RE2. */
  pattern?: RegExp;
  /** Message when `pattern` does not match; default "invalid value: <value>". */
  pattern_err?: string;
  /** Patterns that must not match, each with its message (Kong's match_none). */
  match_none?: ReadonlyArray<{ pattern: RegExp; err: string }>;
  uuid?: boolean;
  /** Accepts `{vault://...}` references, resolved at load (Kong's referenceable). */
  referenceable?: boolean;
  /** Last check: returns an error message, or nothing when the value is fine. */
  check?: (value: string) => string | undefined | null | void;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export class StringSchema<T extends string, P extends boolean> extends Schema<T, P> {
  readonly kind = 'string';
  readonly typeMessage = 'expected a string';
  constructor(readonly opts: StringOpts) {
    super(opts);
  }

  parse(value: unknown, path: Path, ctx: Ctx): Out<T> {
    if (typeof value !== 'string') return fail(ctx, path, this.typeMessage);
    if (isReference(value)) return this.reference(value, path, ctx);
    const message = this.problem(value);
    return message === undefined ? (value as T) : fail(ctx, path, message);
  }

  private reference(ref: string, path: Path, ctx: Ctx): Out<T> {
    if (this.opts.referenceable !== true) {
      return fail(ctx, path, `vault reference '${ref}' is not allowed here: this field is not referenceable`);
    }
    if (ctx.resolveReference === undefined) return ref as T;
    const resolved = ctx.resolveReference(ref, path);
    if ('error' in resolved) return fail(ctx, path, resolved.error);
    const message = this.problem(resolved.value);
    if (message === undefined) return resolved.value as T;
    // Never echo a secret into an error message (they end up in logs and CI output).
    const masked = resolved.value === '' ? message : message.split(resolved.value).join('***');
    return fail(ctx, path, `the value of vault reference '${ref}' is invalid: ${masked}`);
  }

  /** The first problem with a string value, Kong's order: length, enum, pattern, custom. */
  problem(value: string): string | undefined {
    const o = this.opts;
    const len = [...value].length;
    if (o.len_eq !== undefined && len !== o.len_eq) return `length must be ${o.len_eq}`;
    const min = o.len_min ?? 1;
    if (len < min) return `length must be at least ${min}`;
    if (o.len_max !== undefined && len > o.len_max) return `length must be at most ${o.len_max}`;
    if (o.one_of !== undefined && !o.one_of.includes(value)) return `expected one of: ${formatList(o.one_of)}`;
    if (o.not_one_of !== undefined && o.not_one_of.includes(value)) return `must not be one of: ${formatList(o.not_one_of)}`;
    if (o.uuid === true && !UUID.test(value)) return 'expected a valid UUID';
    if (o.starts_with !== undefined && !value.startsWith(o.starts_with)) return `should start with: ${o.starts_with}`;
    if (o.pattern !== undefined && !o.pattern.test(value)) return o.pattern_err ?? `invalid value: ${value}`;
    for (const m of o.match_none ?? []) if (m.pattern.test(value)) return m.err;
    return o.check?.(value) ?? undefined;
  }
}

type StringValue<O> = O extends { one_of: readonly (infer U extends string)[] } ? U : string;

export function string<const O extends StringOpts = {}>(opts?: O & StringOpts): StringSchema<StringValue<O>, Present<O>> {
  return new StringSchema(opts ?? {});
}

// ---------------------------------------------------------------------------------------
// numbers

export interface NumberOpts extends BaseOpts<number> {
  between?: readonly [number, number];
  one_of?: readonly number[];
  gt?: number;
  check?: (value: number) => string | undefined | null | void;
}

export class NumberSchema<T extends number, P extends boolean> extends Schema<T, P> {
  readonly typeMessage: string;
  constructor(
    readonly kind: 'integer' | 'number',
    readonly opts: NumberOpts,
  ) {
    super(opts);
    this.typeMessage = kind === 'integer' ? 'expected an integer' : 'expected a number';
  }

  parse(value: unknown, path: Path, ctx: Ctx): Out<T> {
    if (typeof value !== 'number' || !Number.isFinite(value)) return fail(ctx, path, this.typeMessage);
    if (this.kind === 'integer' && !Number.isInteger(value)) return fail(ctx, path, this.typeMessage);
    const o = this.opts;
    if (o.between !== undefined && (value < o.between[0] || value > o.between[1])) {
      return fail(ctx, path, `value should be between ${o.between[0]} and ${o.between[1]}`);
    }
    if (o.gt !== undefined && !(value > o.gt)) return fail(ctx, path, `value must be greater than ${o.gt}`);
    if (o.one_of !== undefined && !o.one_of.includes(value)) return fail(ctx, path, `expected one of: ${formatList(o.one_of)}`);
    const message = o.check?.(value);
    return typeof message === 'string' ? fail(ctx, path, message) : (value as T);
  }
}

type NumberValue<O> = O extends { one_of: readonly (infer U extends number)[] } ? U : number;

export function integer<const O extends NumberOpts = {}>(opts?: O & NumberOpts): NumberSchema<NumberValue<O>, Present<O>> {
  return new NumberSchema('integer', opts ?? {});
}

export function number<const O extends NumberOpts = {}>(opts?: O & NumberOpts): NumberSchema<NumberValue<O>, Present<O>> {
  return new NumberSchema('number', opts ?? {});
}

// ---------------------------------------------------------------------------------------
// boolean, any, forbidden

export class BooleanSchema<P extends boolean> extends Schema<boolean, P> {
  readonly kind = 'boolean';
  readonly typeMessage = 'expected a boolean';
  parse(value: unknown, path: Path, ctx: Ctx): Out<boolean> {
    return typeof value === 'boolean' ? value : fail(ctx, path, this.typeMessage);
  }
}

export function boolean<const O extends BaseOpts<boolean> = {}>(opts?: O & BaseOpts<boolean>): BooleanSchema<Present<O>> {
  return new BooleanSchema(opts ?? {});
}

/** Anything, copied as plain data (for `_ignore` and pass-through metadata). */
export class AnySchema extends Schema<unknown, false> {
  readonly kind = 'any';
  readonly typeMessage = 'expected a value';
  parse(value: unknown): Out<unknown> {
    return structuredClone(value);
  }
}

export function any(opts?: { description?: string }): AnySchema {
  return new AnySchema(opts ?? {});
}

/** A field that must stay unset, with the message saying why (Kong's `eq = null`). */
export class ForbiddenSchema extends Schema<null, false> {
  readonly kind = 'forbidden';
  readonly typeMessage: string;
  constructor(message: string) {
    super({});
    this.typeMessage = message;
  }
  parse(_value: unknown, path: Path, ctx: Ctx): Out<null> {
    return fail(ctx, path, this.typeMessage);
  }
}

export function forbidden(message: string): ForbiddenSchema {
  return new ForbiddenSchema(message);
}

// ---------------------------------------------------------------------------------------
// arrays, sets, maps

export interface ArrayOpts<E> extends BaseOpts<readonly E[]> {
  len_min?: number;
  len_max?: number;
  /** Runs on the validated elements; returns an error message for the whole array. */
  check?: (value: E[]) => string | undefined | null | void;
}

export class ArraySchema<E, P extends boolean> extends Schema<E[], P> {
  readonly typeMessage: string;
  constructor(
    readonly kind: 'array' | 'set',
    readonly elements: Schema<E, any>,
    readonly opts: ArrayOpts<E>,
  ) {
    super(opts);
    this.typeMessage = kind === 'array' ? 'expected an array' : 'expected a set';
  }

  parse(value: unknown, path: Path, ctx: Ctx): Out<E[]> {
    if (!Array.isArray(value)) return fail(ctx, path, this.typeMessage);
    const o = this.opts;
    if (o.len_min !== undefined && value.length < o.len_min) return fail(ctx, path, `length must be at least ${o.len_min}`);
    if (o.len_max !== undefined && value.length > o.len_max) return fail(ctx, path, `length must be at most ${o.len_max}`);
    const before = ctx.issues.length;
    const out: E[] = [];
    const seen = this.kind === 'set' ? new Set<string>() : null;
    value.forEach((element: unknown, i) => {
      const p = [...path, i];
      if (element === null || element === undefined) {
        if (this.elements.kind === 'any') out.push(null as E);
        else ctx.push(p, this.elements.typeMessage);
        return;
      }
      const v = this.elements.parse(element, p, ctx);
      if (v === INVALID) return;
      if (seen !== null) {
        const key = JSON.stringify(v);
        if (seen.has(key)) return;
        seen.add(key);
      }
      out.push(v);
    });
    if (ctx.issues.length > before) return INVALID;
    const message = o.check?.(out);
    return typeof message === 'string' ? fail(ctx, path, message) : out;
  }
}

export function array<E extends Schema<any, any>, const O extends ArrayOpts<Infer<E>> = {}>(
  elements: E,
  opts?: O & ArrayOpts<Infer<E>>,
): ArraySchema<Infer<E>, Present<O>> {
  return new ArraySchema('array', elements, opts ?? {});
}

/** An array whose repeated elements are dropped (first occurrence kept). */
export function set<E extends Schema<any, any>, const O extends ArrayOpts<Infer<E>> = {}>(
  elements: E,
  opts?: O & ArrayOpts<Infer<E>>,
): ArraySchema<Infer<E>, Present<O>> {
  return new ArraySchema('set', elements, opts ?? {});
}

export interface MapOpts<V> extends BaseOpts<Readonly<Record<string, V>>> {
  len_min?: number;
}

export class MapSchema<V, P extends boolean> extends Schema<Record<string, V>, P> {
  readonly kind = 'map';
  readonly typeMessage = 'expected a map';
  constructor(
    readonly keys: Schema<string, any>,
    readonly values: Schema<V, any>,
    readonly opts: MapOpts<V>,
  ) {
    super(opts);
  }

  parse(value: unknown, path: Path, ctx: Ctx): Out<Record<string, V>> {
    if (!isPlainObject(value)) return fail(ctx, path, this.typeMessage);
    const entries = Object.entries(value);
    if (this.opts.len_min !== undefined && entries.length < this.opts.len_min) {
      return fail(ctx, path, `length must be at least ${this.opts.len_min}`);
    }
    const before = ctx.issues.length;
    const out: Record<string, V> = {};
    for (const [key, raw] of entries) {
      const p = [...path, key];
      const keyCtx = new Ctx(undefined);
      if (this.keys.parse(key, p, keyCtx) === INVALID) {
        for (const i of keyCtx.issues) ctx.push(i.path, i.message, 'key');
        continue;
      }
      if (raw === null || raw === undefined) {
        ctx.push(p, this.values.typeMessage);
        continue;
      }
      const v = this.values.parse(raw, p, ctx);
      if (v !== INVALID) setOwn(out, key, v);
    }
    return ctx.issues.length > before ? INVALID : out;
  }
}

export function map<V extends Schema<any, any>, const O extends MapOpts<Infer<V>> = {}>(
  keys: Schema<string, any>,
  values: V,
  opts?: O & MapOpts<Infer<V>>,
): MapSchema<Infer<V>, Present<O>> {
  return new MapSchema(keys, values, opts ?? {});
}

// ---------------------------------------------------------------------------------------
// records

export type Fields = Readonly<Record<string, Schema<any, any>>>;

type Simplify<T> = { [K in keyof T]: T[K] } & {};
export type RecordValue<F extends Fields> = Simplify<{ -readonly [K in keyof F]: FieldValue<F[K]> }>;

/** A failed custom check: blame one field (relative path) or the whole record. */
export interface CheckFailure {
  field?: string | Path;
  message: string;
}

export type RecordCheck<V> =
  /** Kong's at_least_one_of: one of the fields must be non-empty. */
  | { at_least_one_of: readonly (keyof V & string)[] }
  /** Kong's only_one_of: exactly one of the fields must be non-empty. */
  | { only_one_of: readonly (keyof V & string)[] }
  /** Kong's mutually_exclusive: at most one of the fields may be non-empty. */
  | { mutually_exclusive: readonly (keyof V & string)[] }
  /** Kong's mutually_required: all of the fields, or none. */
  | { mutually_required: readonly (keyof V & string)[] }
  | { custom: (value: V) => CheckFailure | readonly CheckFailure[] | string | undefined | null | void };

/**
 * A sugar field expanded before validation (Kong's shorthands, e.g. a service `url`).
 * `expand` returns values for some of `fields`, or an error message about the shorthand
 * itself; after such an error the fields it stands for are not reported missing too.
 */
export interface Shorthand {
  fields: readonly string[];
  expand: (value: unknown) => Record<string, unknown> | string;
}

/** Fields and checks that depend on the raw record (Kong's subschema_key, e.g. a plugin's name). */
export interface Subschema {
  fields?: Readonly<Record<string, Schema<any, any>>>;
  checks?: ReadonlyArray<RecordCheck<any>>;
  /** Rejects the record outright, blaming one of its fields. */
  error?: { field: string; message: string };
}

export interface RecordOpts<V> extends BaseOpts<Readonly<Record<string, unknown>>> {
  checks?: ReadonlyArray<RecordCheck<V>>;
  shorthands?: Readonly<Record<string, Shorthand>>;
  subschema?: (raw: Readonly<Record<string, unknown>>) => Subschema | undefined;
}

function nonEmpty(v: unknown): boolean {
  if (v === null || v === undefined || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  if (isPlainObject(v)) return Object.keys(v).length > 0;
  return true;
}

export class RecordSchema<T, P extends boolean = boolean> extends Schema<T, P> {
  readonly kind = 'record';
  readonly typeMessage = 'expected a record';
  constructor(
    readonly fields: Fields,
    readonly opts: RecordOpts<any>,
  ) {
    super(opts);
  }

  override missing(path: Path, ctx: Ctx): Out<T | null> {
    if (this.defaultValue === undefined && this.required) return this.parse({}, path, ctx);
    return super.missing(path, ctx);
  }

  parse(value: unknown, path: Path, ctx: Ctx): Out<T> {
    if (!isPlainObject(value)) return fail(ctx, path, this.typeMessage);
    const before = ctx.issues.length;
    const input: Record<string, unknown> = { ...value };
    // field -> shorthand key it came from, so issues about it point at what was written
    const expandedFrom = new Map<string, string>();
    const unreported = new Set<string>();
    for (const [key, shorthand] of Object.entries(this.opts.shorthands ?? {})) {
      if (!Object.hasOwn(input, key)) continue;
      const raw = input[key];
      delete input[key];
      if (raw === null || raw === undefined) continue;
      const expansion = shorthand.expand(raw);
      const clash = typeof expansion === 'string' ? [] : Object.keys(expansion).filter((f) => value[f] !== undefined && value[f] !== null);
      if (typeof expansion === 'string' || clash.length > 0) {
        ctx.push([...path, key], typeof expansion === 'string' ? expansion : `cannot be combined with ${quoteFields(clash)}`);
        for (const f of shorthand.fields) unreported.add(f);
        continue;
      }
      for (const [f, v] of Object.entries(expansion)) {
        input[f] = v;
        expandedFrom.set(f, key);
      }
    }

    const sub = this.opts.subschema?.(input);
    if (sub?.error !== undefined) {
      ctx.push([...path, sub.error.field], sub.error.message);
    }
    const fields: Record<string, Schema<any, any>> = sub?.fields === undefined ? this.fields : { ...this.fields, ...sub.fields };

    for (const key of Object.keys(input)) {
      // hasOwn, not `in`: `constructor` or `__proto__` must be unknown fields too.
      if (!Object.hasOwn(fields, key)) ctx.push([...path, key], 'unknown field', 'key');
    }

    const out: Record<string, unknown> = {};
    for (const [name, schema] of Object.entries(fields)) {
      const raw = Object.hasOwn(input, name) ? input[name] : undefined;
      if (unreported.has(name) && raw === undefined) continue;
      const shorthand = expandedFrom.get(name);
      if (shorthand === undefined) {
        const v = schema.run(raw, [...path, name], ctx);
        if (v !== INVALID) out[name] = v;
        continue;
      }
      const local = new Ctx(ctx.resolveReference);
      const v = schema.run(raw, [...path, name], local);
      for (const i of local.issues) ctx.push([...path, shorthand], `${name}: ${i.message}`);
      if (v !== INVALID) out[name] = v;
    }

    if (ctx.issues.length > before) return INVALID;
    for (const check of [...(this.opts.checks ?? []), ...(sub?.checks ?? [])]) runCheck(check, out, path, ctx);
    return ctx.issues.length > before ? INVALID : (out as T);
  }
}

function runCheck(check: RecordCheck<any>, value: Record<string, unknown>, path: Path, ctx: Ctx): void {
  if ('custom' in check) {
    const result = check.custom(value);
    if (result === undefined || result === null) return;
    const failures: readonly CheckFailure[] =
      typeof result === 'string' ? [{ message: result }] : Array.isArray(result) ? result : [result as CheckFailure];
    for (const f of failures) {
      const rel = f.field === undefined ? [] : typeof f.field === 'string' ? [f.field] : f.field;
      ctx.push([...path, ...rel], f.message);
    }
    return;
  }
  if ('at_least_one_of' in check) {
    const names = check.at_least_one_of;
    if (!names.some((n) => nonEmpty(value[n]))) ctx.push(path, `at least one of these fields must be non-empty: ${quoteFields(names)}`);
  } else if ('only_one_of' in check) {
    const names = check.only_one_of;
    if (names.filter((n) => nonEmpty(value[n])).length !== 1) {
      ctx.push(path, `exactly one of these fields must be non-empty: ${quoteFields(names)}`);
    }
  } else if ('mutually_exclusive' in check) {
    const names = check.mutually_exclusive;
    if (names.filter((n) => nonEmpty(value[n])).length > 1) {
      ctx.push(path, `only one or none of these fields must be set: ${quoteFields(names)}`);
    }
  } else {
    const names = check.mutually_required;
    const set = names.filter((n) => nonEmpty(value[n])).length;
    if (set !== 0 && set !== names.length) ctx.push(path, `all or none of these fields must be set: ${quoteFields(names)}`);
  }
}

// Overloads rather than an inferred options type: inferring the options would leave the
// parameters of `custom` checks untyped.
export function record<F extends Fields>(
  fields: F,
  opts: RecordOpts<RecordValue<F>> & ({ required: true } | { default: Readonly<Record<string, unknown>> }),
): RecordSchema<RecordValue<F>, true>;
export function record<F extends Fields>(fields: F, opts?: RecordOpts<RecordValue<F>>): RecordSchema<RecordValue<F>, false>;
export function record<F extends Fields>(fields: F, opts?: RecordOpts<RecordValue<F>>): RecordSchema<RecordValue<F>, boolean> {
  return new RecordSchema(fields, opts ?? {});
}

// ---------------------------------------------------------------------------------------
// entry point

/**
 * Validates `value` against `schema`. Never mutates the input; the returned value is a
 * fresh plain-JSON object with defaults applied. A missing top-level record is validated
 * as `{}` (so a plugin without `config` gets its defaults).
 */
export function validate<T>(schema: Schema<T, any>, value: unknown, options: ValidateOptions = {}): ValidateResult<T> {
  const ctx = new Ctx(options.resolveReference);
  const path = options.path ?? [];
  const input = (value === undefined || value === null) && schema.kind === 'record' ? {} : value;
  const out = schema.run(input, path, ctx);
  if (ctx.issues.length > 0 || out === INVALID) {
    if (ctx.issues.length === 0) ctx.push(path, 'invalid value');
    return { ok: false, value: undefined, issues: ctx.issues };
  }
  if (out === null) return { ok: false, value: undefined, issues: [{ path, message: 'required field missing' }] };
  return { ok: true, value: out, issues: [] };
}

/** Formats a field path as `services[0].routes[1].headers["x-api-version"]`. */
export function formatPath(path: readonly PathSegment[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(seg)) out += out === '' ? seg : `.${seg}`;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}
