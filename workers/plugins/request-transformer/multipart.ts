/**
 * A multipart/form-data body (RFC 7578) for request-transformer's body edits, on raw bytes:
 * file parts are never decoded, and every part no edit touched is written back byte for
 * byte (headers and content). Kong uses lua-multipart, which rebuilds every part.
 *
 * Parsing is strict, because the upstream's parser decides what it reads: a body whose
 * framing is broken (no opening or closing delimiter, a part without its blank line), or
 * a part whose field name is ambiguous (two Content-Disposition headers, two `name`
 * parameters, a `name*` parameter), is refused instead of being guessed at. A lenient
 * upstream could otherwise read a field this transformer was told to remove.
 */

const CRLF = Buffer.from('\r\n');
const HEAD_END = Buffer.from('\r\n\r\n');

interface Part {
  /** Header block without its final blank line (may be empty). */
  head: Buffer;
  body: Buffer;
  /** The form field name (from Content-Disposition), or null when the part has none. */
  name: string | null;
}

export class Multipart {
  private parts: Part[];
  changed = false;

  private constructor(
    private readonly boundary: string,
    parts: Part[],
  ) {
    this.parts = parts;
  }

  /** An empty form with the boundary of `contentType`, or null when it names none. */
  static empty(contentType: string): Multipart | null {
    const boundary = boundaryOf(contentType);
    return boundary === null ? null : new Multipart(boundary, []);
  }

  /** Parses a body; null when it is not a well-formed multipart body for `contentType`. */
  static parse(body: Buffer, contentType: string): Multipart | null {
    const boundary = boundaryOf(contentType);
    if (boundary === null) return null;
    const dash = Buffer.from(`--${boundary}`);
    const delimiter = Buffer.from(`\r\n--${boundary}`);
    // The first delimiter opens the body or a line (what precedes it is a preamble).
    let at = body.indexOf(dash);
    while (at > 0 && !(body[at - 2] === 13 && body[at - 1] === 10)) at = body.indexOf(dash, at + 1);
    if (at < 0) return null;
    let pos = at + dash.length;
    const parts: Part[] = [];
    for (;;) {
      if (body[pos] === 45 && body[pos + 1] === 45) return new Multipart(boundary, parts); // "--": the end
      pos = afterLineEnd(body, pos);
      if (pos < 0) return null;
      const next = body.indexOf(delimiter, pos);
      if (next < 0) return null;
      const part = body.subarray(pos, next);
      let head: Buffer;
      let content: Buffer;
      if (part[0] === 13 && part[1] === 10) {
        head = part.subarray(0, 0);
        content = part.subarray(2);
      } else {
        const headEnd = part.indexOf(HEAD_END);
        if (headEnd < 0) return null;
        head = part.subarray(0, headEnd);
        content = part.subarray(headEnd + 4);
      }
      const name = fieldName(head);
      if (name === undefined) return null;
      parts.push({ head, body: content, name });
      pos = next + delimiter.length;
    }
  }

  has(name: string): boolean {
    return this.parts.some((p) => p.name === name);
  }

  /** Removes every part of that name. */
  remove(name: string): boolean {
    const kept = this.parts.filter((p) => p.name !== name);
    if (kept.length === this.parts.length) return false;
    this.parts = kept;
    this.changed = true;
    return true;
  }

  /**
   * Gives the parts of `from` the name `to`, keeping their other headers (filename,
   * Content-Type) and content. Parts already named `to` are dropped.
   */
  rename(from: string, to: string): boolean {
    if (from === to || !this.has(from)) return false;
    this.parts = this.parts.filter((p) => p.name !== to);
    for (const p of this.parts) {
      if (p.name !== from) continue;
      p.head = renamedHead(p.head, to);
      p.name = to;
    }
    this.changed = true;
    return true;
  }

  /** Replaces the parts of an existing field by one text part (at the end, as lua-multipart). */
  replace(name: string, value: string): boolean {
    if (!this.remove(name)) return false;
    this.parts.push(simplePart(name, value));
    return true;
  }

  /** Adds a text part for a field that is not there. */
  add(name: string, value: string): boolean {
    if (this.has(name)) return false;
    this.parts.push(simplePart(name, value));
    this.changed = true;
    return true;
  }

  toBuffer(): Buffer {
    const open = Buffer.from(`--${this.boundary}\r\n`);
    const chunks: Buffer[] = [];
    for (const p of this.parts) {
      chunks.push(open);
      if (p.head.length > 0) chunks.push(p.head, HEAD_END);
      else chunks.push(CRLF);
      chunks.push(p.body, CRLF);
    }
    chunks.push(Buffer.from(`--${this.boundary}--\r\n`));
    return Buffer.concat(chunks);
  }
}

/** The boundary parameter of a multipart Content-Type (quoted or not), or null. */
export function boundaryOf(contentType: string): string | null {
  const m = /;\s*boundary\s*=\s*(?:"([^"]{1,70})"|([^\s;"]{1,70}))/i.exec(contentType);
  if (m === null) return null;
  return m[1] ?? m[2]!;
}

/** Index after the CRLF ending a delimiter line (transport padding allowed), or -1. */
function afterLineEnd(body: Buffer, pos: number): number {
  while (body[pos] === 32 || body[pos] === 9) pos++;
  return body[pos] === 13 && body[pos + 1] === 10 ? pos + 2 : -1;
}

const DISPOSITION = /^content-disposition[ \t]*:/i;

/** The field name of a part: null when it has none, undefined when it is ambiguous. */
function fieldName(head: Buffer): string | null | undefined {
  if (head.length === 0) return null;
  const lines = head.toString('utf8').split('\r\n');
  const dispositions = lines.filter((l) => DISPOSITION.test(l));
  if (dispositions.length === 0) return null;
  if (dispositions.length > 1) return undefined;
  const params = dispositionParams(dispositions[0]!);
  if (params === null) return undefined;
  const names = params.filter(([k]) => k === 'name' || k === 'name*');
  if (names.length === 0) return null;
  if (names.length > 1 || names[0]![0] === 'name*') return undefined;
  return names[0]![1];
}

/** The parameters of a Content-Disposition line, lowercased names; null when malformed. */
function dispositionParams(line: string): Array<[string, string]> | null {
  const value = line.slice(line.indexOf(':') + 1);
  const out: Array<[string, string]> = [];
  const re = /;\s*([^\s=;]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s;"]*))\s*/gy;
  const start = value.indexOf(';');
  if (start < 0) return out;
  re.lastIndex = start;
  while (re.lastIndex < value.length) {
    const m = re.exec(value);
    if (m === null) return null;
    out.push([m[1]!.toLowerCase(), m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : m[3]!]);
  }
  return out;
}

/** A field name as browsers write it in a quoted string (WHATWG): `"`, CR and LF escaped. */
function quoteName(name: string): string {
  return `"${name.replace(/"/g, '%22').replace(/\r/g, '%0D').replace(/\n/g, '%0A')}"`;
}

function simplePart(name: string, value: string): Part {
  return { head: Buffer.from(`Content-Disposition: form-data; name=${quoteName(name)}`), body: Buffer.from(value), name };
}

/** The header block with the `name` parameter of its Content-Disposition set to `to`. */
function renamedHead(head: Buffer, to: string): Buffer {
  const lines = head.toString('utf8').split('\r\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (!DISPOSITION.test(line)) continue;
    lines[i] = line.replace(/(;\s*name\s*=\s*)(?:"(?:[^"\\]|\\.)*"|[^\s;"]*)/i, (_m, lead: string) => `${lead}${quoteName(to)}`);
  }
  return Buffer.from(lines.join('\r\n'));
}
