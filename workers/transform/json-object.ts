/**
 * Top-level member edits of a JSON object document, for the transformer plugins.
 *
 * The document is validated with JSON.parse, then split into its top-level members, each
 * value kept as the exact JSON text the sender wrote. Edits replace, add or drop members;
 * serialising writes every untouched value back byte for byte. So a transformer that
 * removes one field never changes another: large integers (IDs above 2^53), number
 * spellings (`1.0`, `1e3`), string escapes and nested whitespace survive, which a
 * parse/stringify round trip (and Kong's cjson, 14 significant digits) would not.
 *
 * Repeated names are merged the way JSON.parse reads them (the last value wins, at the
 * first name's position), so an edited document never carries a duplicate: removing
 * `role` from `{"role":"a","role":"b"}` removes both. A name is compared after decoding
 * its escapes (`"rol\u0065"` is `role`). Members live in a Map, so `__proto__` and
 * `constructor` are plain names.
 */

export type JsonKind = 'string' | 'number' | 'boolean' | 'null' | 'array' | 'object';

export class JsonMembers {
  private readonly members: Map<string, string>;
  /** Whether any edit was made (the document must be written out again). */
  changed = false;

  constructor(members: Map<string, string>) {
    this.members = members;
  }

  has(name: string): boolean {
    return this.members.has(name);
  }

  /** The JSON text of a member's value, or undefined when absent. */
  raw(name: string): string | undefined {
    return this.members.get(name);
  }

  kind(name: string): JsonKind | undefined {
    const raw = this.members.get(name);
    return raw === undefined ? undefined : kindOfRaw(raw);
  }

  /** Sets a member to a JSON text (added at the end when new). */
  set(name: string, rawValue: string): void {
    this.members.set(name, rawValue);
    this.changed = true;
  }

  delete(name: string): boolean {
    const had = this.members.delete(name);
    if (had) this.changed = true;
    return had;
  }

  /** Moves a member to a new name (replacing a member of that name); false when absent. */
  rename(from: string, to: string): boolean {
    if (from === to) return false;
    const raw = this.members.get(from);
    if (raw === undefined) return false;
    this.members.delete(from);
    this.members.set(to, raw);
    this.changed = true;
    return true;
  }

  get size(): number {
    return this.members.size;
  }

  toString(): string {
    let out = '{';
    let first = true;
    for (const [name, raw] of this.members) {
      if (!first) out += ',';
      first = false;
      out += JSON.stringify(name);
      out += ':';
      out += raw;
    }
    return out + '}';
  }
}

export type JsonObjectParse = JsonMembers | 'not-object' | 'invalid';

/**
 * Splits a JSON document into its top-level members: 'invalid' when it is not JSON (RFC
 * 8259, as JSON.parse reads it), 'not-object' for a valid document of another type.
 */
export function parseJsonObject(text: string): JsonObjectParse {
  try {
    JSON.parse(text);
  } catch {
    return 'invalid';
  }
  let i = skipSpace(text, 0);
  if (text.charCodeAt(i) !== 0x7b /* { */) return 'not-object';
  const members = new Map<string, string>();
  i = skipSpace(text, i + 1);
  if (text.charCodeAt(i) === 0x7d /* } */) return new JsonMembers(members);
  // The text is valid JSON: the scan below only finds boundaries, it checks nothing.
  for (;;) {
    const keyEnd = endOfString(text, i);
    const rawKey = text.slice(i, keyEnd);
    const name = rawKey.indexOf('\\') < 0 ? rawKey.slice(1, -1) : (JSON.parse(rawKey) as string);
    i = skipSpace(text, keyEnd) + 1; // past ':'
    const start = skipSpace(text, i);
    const end = endOfValue(text, start);
    members.set(name, text.slice(start, end));
    i = skipSpace(text, end);
    if (text.charCodeAt(i) === 0x7d /* } */) return new JsonMembers(members);
    i = skipSpace(text, i + 1); // past ','
  }
}

/** The JSON text of a string. */
export function jsonString(value: string): string {
  return JSON.stringify(value);
}

/** A JSON array text with one more element (given as JSON text) at its end. */
export function appendToArray(rawArray: string, rawElement: string): string {
  const close = rawArray.lastIndexOf(']');
  const empty = skipSpace(rawArray, 1) === close;
  return `${rawArray.slice(0, close)}${empty ? '' : ','}${rawElement}]`;
}

export function kindOfRaw(raw: string): JsonKind {
  switch (raw.charCodeAt(0)) {
    case 0x22:
      return 'string';
    case 0x7b:
      return 'object';
    case 0x5b:
      return 'array';
    case 0x74: // true
    case 0x66: // false
      return 'boolean';
    case 0x6e:
      return 'null';
    default:
      return 'number';
  }
}

function skipSpace(text: string, i: number): number {
  for (;;) {
    const c = text.charCodeAt(i);
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return i;
    i++;
  }
}

/** Index just past the string that opens at `i`. */
function endOfString(text: string, i: number): number {
  let j = i + 1;
  for (;;) {
    const c = text.charCodeAt(j);
    if (c === 0x5c /* \ */) j += 2;
    else if (c === 0x22 /* " */) return j + 1;
    else j++;
  }
}

/** Index just past the value that starts at `i`. */
function endOfValue(text: string, i: number): number {
  const c = text.charCodeAt(i);
  if (c === 0x22) return endOfString(text, i);
  if (c === 0x7b || c === 0x5b) {
    let depth = 0;
    let j = i;
    for (;;) {
      const d = text.charCodeAt(j);
      if (d === 0x22) {
        j = endOfString(text, j);
        continue;
      }
      if (d === 0x7b || d === 0x5b) depth++;
      else if (d === 0x7d || d === 0x5d) {
        depth--;
        if (depth === 0) return j + 1;
      }
      j++;
    }
  }
  let j = i;
  for (;;) {
    const d = text.charCodeAt(j);
    if (d === 0x2c || d === 0x7d || d === 0x5d || d === 0x20 || d === 0x0a || d === 0x0d || d === 0x09 || Number.isNaN(d)) return j;
    j++;
  }
}
