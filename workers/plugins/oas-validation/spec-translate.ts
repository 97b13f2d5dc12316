/**
 * OpenAPI schema objects -> JSON Schema 2020-12 (the dialect ajv's Ajv2020 compiles).
 *
 * - 3.1 schemas are 2020-12 already: only `$ref`s are rewritten (below) and `$schema` /
 *   `$id` dropped (a fragment of the spec is not a schema resource of its own).
 * - 3.0 schemas are an extended subset of draft 4/5: `nullable: true` becomes a type union
 *   (and `null` in an `enum`), boolean `exclusiveMinimum`/`exclusiveMaximum` become the
 *   numeric form, and a `$ref`'s siblings are ignored as 3.0 says.
 *
 * Every `$ref` must be internal (`#/...`). Its target, wherever it is in the document, is
 * translated once and kept in `defs` under a short id ("d0", "d1", ...); the `$ref` becomes
 * the LINK keyword naming that id. The compiler turns every def into a validator of its own
 * and LINK into a call to it (see spec-compile.ts): schemas are compiled, and later
 * evaluated by a worker, one by one, and each shared component exists once. Cycles (a Node
 * whose children are Nodes) are fine: a target is registered before its own translation,
 * so a reference back to it stays a link.
 */
import type { SpecDocument } from './spec-parse.js';

/**
 * The keyword a `$ref` becomes: its value is the id of a def. Users cannot write it: `x-`
 * keys of the spec are dropped before translation.
 */
export const LINK = 'x-portcullis-link';

/** A problem with the spec itself, with where it is (a JSON pointer into the spec). */
export class SpecError extends Error {}

const SCHEMA_MAPS = new Set(['properties', 'patternProperties', '$defs', 'definitions', 'dependentSchemas']);
const SCHEMA_LISTS = new Set(['allOf', 'anyOf', 'oneOf', 'prefixItems']);
const SCHEMA_VALUES = new Set([
  'additionalProperties',
  'not',
  'contains',
  'propertyNames',
  'if',
  'then',
  'else',
  'unevaluatedItems',
  'unevaluatedProperties',
  'additionalItems',
  'contentSchema',
]);
/** Not validation keywords, or meaningless inside a fragment: left out of the output. */
const DROPPED = new Set(['$ref', '$schema', '$id', '$anchor', '$dynamicAnchor', 'nullable', 'discriminator', 'xml', 'externalDocs', 'example', 'examples', 'description', 'title', '$comment']);

export function escapeToken(token: string): string {
  return token.replace(/~/g, '~0').replace(/\//g, '~1');
}

function unescapeToken(token: string): string {
  return token.replace(/~1/g, '/').replace(/~0/g, '~');
}

/** The value at a JSON pointer ("" is the whole document), or undefined. */
export function resolvePointer(doc: unknown, pointer: string): unknown {
  if (pointer === '') return doc;
  let cur: unknown = doc;
  for (const raw of pointer.slice(1).split('/')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    const token = unescapeToken(raw);
    if (Array.isArray(cur)) {
      if (!/^(0|[1-9][0-9]*)$/.test(token)) return undefined;
      cur = cur[Number(token)];
    } else {
      if (!Object.hasOwn(cur, token)) return undefined;
      cur = (cur as Record<string, unknown>)[token];
    }
  }
  return cur;
}

/** The JSON pointer an internal `$ref` names ("#/a/b" -> "/a/b"), or a SpecError. */
export function refPointer(ref: string, at: string): string {
  if (!ref.startsWith('#')) throw new SpecError(`${at}: external $ref '${ref}' is not supported (inline the referenced document into the spec)`);
  let pointer: string;
  try {
    pointer = decodeURIComponent(ref.slice(1));
  } catch {
    throw new SpecError(`${at}: $ref '${ref}' is not a valid URI fragment`);
  }
  if (pointer !== '' && !pointer.startsWith('/')) throw new SpecError(`${at}: $ref '${ref}' names an anchor; only JSON pointer references (#/...) are supported`);
  return pointer;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

export class SchemaTranslator {
  /** Translated reference targets by def id. */
  readonly defs = new Map<string, unknown>();
  /** Def id by the JSON pointer of its target, and back. */
  private readonly ids = new Map<string, string>();
  private readonly pointers = new Map<string, string>();

  constructor(
    private readonly doc: SpecDocument,
    readonly version: '3.0' | '3.1',
  ) {}

  /** Where a def's schema is in the spec ("#/components/schemas/Pet"), for messages. */
  defLocation(id: string): string {
    return `#${this.pointers.get(id) ?? ''}`;
  }

  /** The def id standing for the target of `ref` (translating the target on first use). */
  ref(ref: string, at: string): string {
    const pointer = refPointer(ref, at);
    let id = this.ids.get(pointer);
    if (id === undefined) {
      const target = resolvePointer(this.doc, pointer);
      if (target === undefined) throw new SpecError(`${at}: $ref '${ref}' points to nothing in the spec`);
      id = `d${this.ids.size}`;
      this.ids.set(pointer, id); // registered first: a cycle back to it stays a link
      this.pointers.set(id, pointer);
      this.defs.set(id, true);
      this.defs.set(id, this.schema(target, `#${pointer}`));
    }
    return id;
  }

  /** Translates the schema object `s` found at `at` (a "#/..." location, for messages). */
  schema(s: unknown, at: string): unknown {
    if (typeof s === 'boolean') {
      if (this.version === '3.0') throw new SpecError(`${at}: a schema must be an object in OpenAPI 3.0`);
      return s;
    }
    if (!isObject(s)) throw new SpecError(`${at}: a schema must be an object`);
    const ref = s.$ref;
    if (ref !== undefined) {
      if (typeof ref !== 'string') throw new SpecError(`${at}/$ref: must be a string`);
      // OpenAPI 3.0: "properties added [next to $ref] SHALL be ignored".
      if (this.version === '3.0') return { [LINK]: this.ref(ref, `${at}/$ref`) };
    }
    const out: Record<string, unknown> = {};
    if (typeof ref === 'string') out[LINK] = this.ref(ref, `${at}/$ref`);
    for (const [k, v] of Object.entries(s)) {
      if (DROPPED.has(k) || k.startsWith('x-')) continue;
      const here = `${at}/${escapeToken(k)}`;
      if (SCHEMA_MAPS.has(k)) {
        if (!isObject(v)) throw new SpecError(`${here}: must be a mapping of schemas`);
        const m: Record<string, unknown> = {};
        for (const [name, sub] of Object.entries(v)) {
          Object.defineProperty(m, name, { value: this.schema(sub, `${here}/${escapeToken(name)}`), enumerable: true, writable: true, configurable: true });
        }
        out[k] = m;
      } else if (SCHEMA_LISTS.has(k) || (k === 'items' && Array.isArray(v))) {
        if (!Array.isArray(v)) throw new SpecError(`${here}: must be a list of schemas`);
        out[k] = v.map((sub, i) => this.schema(sub, `${here}/${i}`));
      } else if (SCHEMA_VALUES.has(k) || k === 'items') {
        out[k] = typeof v === 'boolean' ? v : this.schema(v, here);
      } else {
        out[k] = v;
      }
    }
    if (this.version === '3.0') this.from30(s, out);
    return out;
  }

  private from30(s: Record<string, unknown>, out: Record<string, unknown>): void {
    for (const [flag, bound] of [
      ['exclusiveMinimum', 'minimum'],
      ['exclusiveMaximum', 'maximum'],
    ] as const) {
      if (typeof s[flag] !== 'boolean') continue;
      delete out[flag];
      if (s[flag] === true && typeof s[bound] === 'number') {
        out[flag] = s[bound];
        delete out[bound];
      }
    }
    if (s.nullable === true) {
      if (typeof out.type === 'string') out.type = [out.type, 'null'];
      if (Array.isArray(out.enum) && !out.enum.includes(null)) out.enum = [...out.enum, null];
    }
  }
}
