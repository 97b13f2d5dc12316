/**
 * The JSON body edits of the response-transformer (kong/plugins/response-transformer/
 * body_transformer.lua): remove, rename, replace, add, append on top-level properties,
 * with each value's type from json_types. Values are turned into JSON text once, at
 * create(); the document is edited member by member (transform/json-object.ts), so every
 * untouched value leaves byte for byte.
 */
import { isUtf8 } from 'node:buffer';
import { splitPair } from '../../transform/colon-pair.js';
import { appendToArray, parseJsonObject } from '../../transform/json-object.js';
import type { JsonType, ResponseTransformerConfig } from './schema.js';

interface ValueOp {
  readonly name: string;
  /** The JSON text of the value, or null when it cannot have its type (the entry is skipped, as in Kong). */
  readonly json: string | null;
}

export interface JsonEdits {
  readonly remove: readonly string[];
  readonly rename: ReadonlyArray<readonly [string, string]>;
  readonly replace: readonly ValueOp[];
  readonly add: readonly ValueOp[];
  readonly append: readonly ValueOp[];
}

const JSON_NUMBER = /^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?$/;

/**
 * Kong's json_value + cast_value: a string by default; `number` is the number the text
 * spells (Lua's tonumber: JSON numbers and 0x hex), else nothing; `boolean` is true for
 * "true" and false for anything else.
 */
export function jsonValue(value: string, type: JsonType | undefined): string | null {
  switch (type) {
    case 'boolean':
      return value === 'true' ? 'true' : 'false';
    case 'number': {
      const t = value.trim();
      if (JSON_NUMBER.test(t)) return t;
      if (/^-?0x[0-9a-f]+$/i.test(t)) return String(Number.parseInt(t, 16));
      return null;
    }
    default:
      return JSON.stringify(value);
  }
}

function valueOps(entries: readonly string[], types: readonly JsonType[]): ValueOp[] {
  return entries.map((e, i) => {
    const { name, value } = splitPair(e)!;
    return { name, json: jsonValue(value, types[i]) };
  });
}

export function jsonEdits(conf: ResponseTransformerConfig): JsonEdits {
  return {
    remove: conf.remove.json.map((e) => splitPair(e)?.name ?? e),
    rename: conf.rename.json.map((e) => {
      const { name, value } = splitPair(e)!;
      return [name, value] as const;
    }),
    replace: valueOps(conf.replace.json, conf.replace.json_types),
    add: valueOps(conf.add.json, conf.add.json_types),
    append: valueOps(conf.append.json, conf.append.json_types),
  };
}

export function hasJsonEdits(e: JsonEdits): boolean {
  return e.remove.length + e.rename.length + e.replace.length + e.add.length + e.append.length > 0;
}

/**
 * The edited body, or `body` itself when nothing changed or it is not a JSON object (Kong
 * leaves a body it cannot decode as it is). `notJson` is called for a body that is not
 * JSON at all.
 */
export function editJsonBody(body: Buffer, e: JsonEdits, notJson?: () => void): Buffer {
  if (body.length === 0) return body;
  const doc = isUtf8(body) ? parseJsonObject(body.toString('utf8')) : 'invalid';
  if (doc === 'invalid') {
    notJson?.();
    return body;
  }
  if (doc === 'not-object') return body;
  for (const name of e.remove) doc.delete(name);
  for (const [from, to] of e.rename) doc.rename(from, to);
  for (const op of e.replace) if (op.json !== null && doc.has(op.name)) doc.set(op.name, op.json);
  for (const op of e.add) if (op.json !== null && !doc.has(op.name)) doc.set(op.name, op.json);
  for (const op of e.append) {
    if (op.json === null) continue;
    const old = doc.raw(op.name);
    if (old === undefined) doc.set(op.name, `[${op.json}]`);
    else if (doc.kind(op.name) === 'array') doc.set(op.name, appendToArray(old, op.json));
    else doc.set(op.name, `[${old},${op.json}]`);
  }
  return doc.changed ? Buffer.from(doc.toString(), 'utf8') : body;
}
