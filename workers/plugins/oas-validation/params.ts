/**
 * Parameter values as OpenAPI serialises them (the "style" and "explode" table of the spec),
 * from the request's path, query, headers and cookies, into the value their schema sees:
 * a string, a list of strings or an object of strings. The validator then coerces those
 * strings to the schema's types (ajv's coerceTypes: "array").
 *
 * Supported: path simple/label/matrix, query form/spaceDelimited/pipeDelimited/deepObject,
 * header simple, cookie form, each with explode true or false, and parameters given as
 * JSON (`content: {application/json: ...}`).
 */
import type { QueryArgs, QueryValue } from '../../http/query.js';
import type { ParamPlan } from './plan.js';
import type { AjvError } from './spec-runtime.js';

/** A value that is present but cannot be read as its style says; the string is why. */
export class Malformed {
  constructor(readonly why: string) {}
}

export type ParamValue = string | string[] | Record<string, string> | unknown;

function decode(s: string): string {
  if (s.indexOf('%') < 0) return s;
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** "k1,v1,k2,v2" parts -> {k1: v1, k2: v2}; an odd count is malformed. */
function pairs(parts: string[], dec: (s: string) => string): Record<string, string> | Malformed {
  if (parts.length % 2 !== 0) return new Malformed('an object must be serialised as name,value pairs');
  const out: Record<string, string> = Object.create(null);
  for (let i = 0; i < parts.length; i += 2) out[dec(parts[i]!)] = dec(parts[i + 1]!);
  return out;
}

/** ["k1=v1", "k2=v2"] -> {k1: v1, k2: v2}. */
function assignments(parts: string[], dec: (s: string) => string): Record<string, string> | Malformed {
  const out: Record<string, string> = Object.create(null);
  for (const part of parts) {
    const eq = part.indexOf('=');
    if (eq < 0) return new Malformed('an exploded object must be serialised as name=value');
    out[dec(part.slice(0, eq))] = dec(part.slice(eq + 1));
  }
  return out;
}

const identity = (s: string): string => s;

/** A path variable's raw (percent-encoded) value -> the parameter value. */
export function pathValue(p: ParamPlan, raw: string): ParamValue | Malformed {
  let body = raw;
  if (p.style === 'label') {
    if (!raw.startsWith('.')) return new Malformed("a label-style value must start with '.'");
    body = raw.slice(1);
  } else if (p.style === 'matrix') {
    return matrixValue(p, raw);
  }
  const sep = p.style === 'label' && p.explode ? '.' : ',';
  switch (p.shape) {
    case 'array':
      return body.split(sep).map(decode);
    case 'object':
      return p.explode ? assignments(body.split(sep), decode) : pairs(body.split(','), decode);
    case 'json':
      return json(decode(body));
    default:
      return decode(body);
  }
}

function matrixValue(p: ParamPlan, raw: string): ParamValue | Malformed {
  if (!raw.startsWith(';')) return new Malformed("a matrix-style value must start with ';'");
  const parts = raw.slice(1).split(';');
  const prefix = `${p.name}=`;
  const own = (part: string): string | null => (part === p.name ? '' : part.startsWith(prefix) ? part.slice(prefix.length) : null);
  if (p.shape === 'object' && p.explode) return assignments(parts, decode);
  if (p.shape === 'array' && p.explode) {
    const out: string[] = [];
    for (const part of parts) {
      const v = own(part);
      if (v === null) return new Malformed(`expected ;${p.name}=value for each item`);
      out.push(decode(v));
    }
    return out;
  }
  if (parts.length !== 1) return new Malformed(`expected one ;${p.name}=value`);
  const v = own(parts[0]!);
  if (v === null) return new Malformed(`expected ;${p.name}=value`);
  if (p.shape === 'array') return v.split(',').map(decode);
  if (p.shape === 'object') return pairs(v.split(','), decode);
  if (p.shape === 'json') return json(decode(v));
  return decode(v);
}

function json(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return new Malformed('the value is not valid JSON');
  }
}

function scalar(v: QueryValue): string | string[] {
  if (v === true) return '';
  if (Array.isArray(v)) return v.map((x) => (typeof x === 'string' ? x : ''));
  return v as string;
}

function list(v: string | string[]): string[] {
  return Array.isArray(v) ? v : [v];
}

/**
 * The query value of `p`, or undefined when absent. `claimed` marks the argument names it
 * consumed (for query_parameter_check); `declared` are every declared query parameter of
 * the operation, which a free-form exploded object leaves to their owners.
 */
export function queryValue(p: ParamPlan, args: QueryArgs, declared: ReadonlySet<string>, claimed: Set<string> | null): ParamValue | Malformed | undefined {
  if (p.style === 'deepObject') {
    const out: Record<string, string> = Object.create(null);
    let any = false;
    const prefix = `${p.name}[`;
    for (const key in args) {
      if (!key.startsWith(prefix) || !key.endsWith(']')) continue;
      const v = scalar(args[key]!);
      if (Array.isArray(v)) return new Malformed(`'${key}' is repeated`);
      out[key.slice(prefix.length, -1)] = v;
      claimed?.add(key);
      any = true;
    }
    return any ? out : undefined;
  }
  if (p.shape === 'object' && p.explode) {
    // form + explode: the object's properties are query arguments of their own.
    const out: Record<string, string> = Object.create(null);
    let any = false;
    const names = p.props ?? Object.keys(args).filter((k) => !declared.has(k));
    for (const k of names) {
      const raw = args[k];
      if (raw === undefined) continue;
      const v = scalar(raw);
      if (Array.isArray(v)) return new Malformed(`'${k}' is repeated`);
      out[k] = v;
      claimed?.add(k);
      any = true;
    }
    return any ? out : undefined;
  }
  const raw = args[p.name];
  if (raw === undefined) return undefined;
  claimed?.add(p.name);
  const v = scalar(raw);
  switch (p.shape) {
    case 'array': {
      if (p.explode) return list(v);
      const sep = p.style === 'spaceDelimited' ? ' ' : p.style === 'pipeDelimited' ? '|' : ',';
      const out: string[] = [];
      for (const x of list(v)) for (const item of x.split(sep)) out.push(item);
      return out;
    }
    case 'object':
      if (Array.isArray(v)) return new Malformed('the parameter is repeated');
      return pairs(v.split(','), identity);
    case 'json':
      if (Array.isArray(v)) return new Malformed('the parameter is repeated');
      return json(v);
    default:
      return v;
  }
}

/** A header's value as a parameter (style simple), or undefined when absent. */
export function headerValue(p: ParamPlan, raw: string | undefined): ParamValue | Malformed | undefined {
  if (raw === undefined) return undefined;
  switch (p.shape) {
    case 'array':
      return raw.split(',').map((s) => s.trim());
    case 'object': {
      const parts = raw.split(',').map((s) => s.trim());
      return p.explode ? assignments(parts, identity) : pairs(parts, identity);
    }
    case 'json':
      return json(raw);
    default:
      return raw.trim();
  }
}

/** name -> value of a Cookie header (the first of a repeated name wins). */
export function parseCookies(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = Object.create(null);
  if (header === undefined) return out;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim();
    if (name !== '' && out[name] === undefined) out[name] = part.slice(eq + 1).trim();
  }
  return out;
}

/** A cookie's value as a parameter (style form), or undefined when absent. */
export function cookieValue(p: ParamPlan, cookies: Record<string, string>): ParamValue | Malformed | undefined {
  const raw = cookies[p.name];
  if (raw === undefined) return undefined;
  switch (p.shape) {
    case 'array':
      return raw.split(',').map(decode);
    case 'object':
      return pairs(raw.split(','), decode);
    case 'json':
      return json(decode(raw));
    default:
      return decode(raw);
  }
}

const INTEGER = /^-?(?:0|[1-9][0-9]*)$/;
const NUMBER = /^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?$/;

/**
 * For parameters whose schema wants nothing but numbers: the strings must be plain decimal
 * numbers. JavaScript's coercion (which ajv uses) also reads "0x10", " 5" or "1e3" as
 * numbers, which an upstream may parse differently. Empty strings are left to the schema
 * (a nullable number accepts one). Returns the failure as ajv would word it, or null.
 */
export function strictNumberProblem(p: ParamPlan, value: ParamValue): AjvError | null {
  const kind = p.numeric;
  if (kind === null) return null;
  const re = kind === 'integer' ? INTEGER : NUMBER;
  if (typeof value === 'string') return value === '' || re.test(value) ? null : typeError('', '#/type', kind);
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const v = value[i];
      if (typeof v === 'string' && v !== '' && !re.test(v)) return typeError(`/${i}`, '#/items/type', kind);
    }
  }
  return null;
}

function typeError(instancePath: string, schemaPath: string, kind: string): AjvError {
  return { instancePath, schemaPath, keyword: 'type', params: { type: kind }, message: `must be ${kind}` };
}
