/**
 * Where values are taken from, decoded as the upstream will read them, and matched.
 *
 * - path: each segment of the path as received, percent-decoded (Kong: split on "/",
 *   ngx.unescape_uri each non-empty segment, `+` as a space). Segment by segment, so a
 *   rule anchored at the end of a value applies to the end of a segment.
 * - query: every argument's name and value, decoded (`%XX`, `+`). All of them: Kong's
 *   get_query stops at 100 arguments, which would leave the 101st unchecked.
 * - headers: every header's name and value as sent, and also its percent-decoded value
 *   when it holds escapes (cookies and Referer are routinely URL-encoded).
 * - body: see media.ts; JSON by its keys and string values (the quotes of the JSON syntax
 *   never reach a rule), forms and multipart by their fields, text as a whole.
 *
 * Each location is scanned twice at most: first all its values joined into one buffer and
 * matched at once (ValueJoiner: one native call), then, only when that matched, value by
 * value to name the rule and the field (RuleFinder). Nothing is allocated for a value that
 * needs no decoding; a Finding is built only when a rule fired. Never throws on client data.
 */
import { percentDecode } from './decode.js';
import type { InjectionMatcher, RuleFinder, ValueSink } from './matcher.js';
import { bodyText, headerParam, type MediaType } from './media.js';

export type Location = 'path' | 'query' | 'headers' | 'body';

export interface Finding {
  /** Index of the rule in the matcher. */
  readonly ruleIndex: number;
  readonly location: Location;
  /** Where in the location: the segment number, argument, header or field name (truncated). */
  readonly field: string;
  /** Whether the name of the field or its value matched. */
  readonly part: 'name' | 'value';
}

/** Longest field label put in a log line: names are client data too. */
export const FIELD_LABEL_MAX = 64;

export function label(s: string): string {
  return s.length <= FIELD_LABEL_MAX ? s : `${s.slice(0, FIELD_LABEL_MAX)}…`;
}

function finding(sink: ValueSink, location: Location, field: string, part: 'name' | 'value'): Finding {
  return { ruleIndex: (sink as RuleFinder).ruleIndex, location, field: label(field), part };
}

function scanPath(sink: ValueSink, rawPath: string): Finding | null {
  let start = 0;
  let segment = 0;
  const len = rawPath.length;
  while (start <= len) {
    let end = rawPath.indexOf('/', start);
    if (end < 0) end = len;
    if (end > start) {
      segment++;
      if (sink.check(percentDecode(rawPath, true, start, end))) return finding(sink, 'path', `segment ${segment}`, 'value');
    }
    start = end + 1;
  }
  return null;
}

/** Fields of a query string or a urlencoded form (`&`-separated, `+` is a space). */
function scanUrlEncoded(sink: ValueSink, s: string, location: Location): Finding | null {
  let start = 0;
  const len = s.length;
  while (start < len) {
    let end = s.indexOf('&', start);
    if (end < 0) end = len;
    if (end > start) {
      const eq = s.indexOf('=', start);
      const nameEnd = eq >= 0 && eq < end ? eq : end;
      const name = percentDecode(s, true, start, nameEnd);
      if (sink.check(name)) return finding(sink, location, name, 'name');
      if (nameEnd < end && sink.check(percentDecode(s, true, nameEnd + 1, end))) return finding(sink, location, name, 'value');
    }
    start = end + 1;
  }
  return null;
}

function scanHeaders(sink: ValueSink, headers: Record<string, string>): Finding | null {
  for (const name in headers) {
    if (sink.check(name)) return finding(sink, 'headers', name, 'name');
    const value = headers[name]!;
    if (sink.check(value) || (value.indexOf('%') >= 0 && sink.check(percentDecode(value, false)))) return finding(sink, 'headers', name, 'value');
  }
  return null;
}

// ---- bodies -------------------------------------------------------------------------------

interface Frame {
  readonly node: object;
  readonly keys: string[] | null;
  i: number;
}

function jsonPath(frames: readonly Frame[]): string {
  let p = '$';
  for (const f of frames) {
    const at = f.i - 1;
    p += f.keys === null ? `[${at}]` : `.${f.keys[at]}`;
    if (p.length > FIELD_LABEL_MAX) break;
  }
  return p;
}

/** Keys and string values of a parsed JSON document, depth first, without recursion. */
function scanJsonValue(sink: ValueSink, root: unknown, prefix: string): Finding | null {
  if (typeof root === 'string') return sink.check(root) ? finding(sink, 'body', prefix === '' ? '$' : prefix, 'value') : null;
  if (root === null || typeof root !== 'object') return null;
  const frames: Frame[] = [{ node: root, keys: Array.isArray(root) ? null : Object.keys(root), i: 0 }];
  while (frames.length > 0) {
    const f = frames[frames.length - 1]!;
    const keys = f.keys;
    const size = keys === null ? (f.node as unknown[]).length : keys.length;
    if (f.i >= size) {
      frames.pop();
      continue;
    }
    const at = f.i++;
    let child: unknown;
    if (keys === null) {
      child = (f.node as unknown[])[at];
    } else {
      const key = keys[at]!;
      if (sink.check(key)) return finding(sink, 'body', prefix + jsonPath(frames), 'name');
      child = (f.node as Record<string, unknown>)[key];
    }
    if (typeof child === 'string') {
      if (sink.check(child)) return finding(sink, 'body', prefix + jsonPath(frames), 'value');
    } else if (child !== null && typeof child === 'object') {
      frames.push({ node: child, keys: Array.isArray(child) ? null : Object.keys(child), i: 0 });
    }
  }
  return null;
}

function parseJson(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}

/** A JSON document; one that does not parse is matched as text (the upstream may be lenient). */
function scanJsonDocument(sink: ValueSink, doc: { ok: true; value: unknown } | { ok: false }, text: string, prefix: string): Finding | null {
  if (doc.ok) return scanJsonValue(sink, doc.value, prefix);
  return sink.check(text) ? finding(sink, 'body', prefix === '' ? '(body)' : prefix, 'value') : null;
}

function scanJsonText(sink: ValueSink, text: string, prefix: string): Finding | null {
  return scanJsonDocument(sink, parseJson(text), text, prefix);
}

function scanNdjson(sink: ValueSink, text: string): Finding | null {
  let start = 0;
  let line = 0;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    line++;
    const chunk = text.slice(start, end);
    if (chunk.trim() !== '') {
      const f = scanJsonText(sink, chunk, `line ${line} `);
      if (f !== null) return f;
    }
    start = end + 1;
  }
  return null;
}

function scanWholeText(sink: ValueSink, text: string): Finding | null {
  return sink.check(text) ? finding(sink, 'body', '(body)', 'value') : null;
}

const CRLF2 = Buffer.from('\r\n\r\n');

/**
 * multipart/form-data: each part's name and file name, and the value of parts that are not
 * files (by their own Content-Type: JSON parts are walked). File contents are data, not
 * parameters, and are not checked. A body that does not parse as multipart with this
 * boundary is matched as text.
 */
function scanMultipart(sink: ValueSink, body: Buffer, boundary: string | null, media: MediaType): Finding | null {
  const fallback = (): Finding | null => scanWholeText(sink, bodyText(body, media));
  if (boundary === null || boundary === '') return fallback();
  const delimiter = Buffer.from(`--${boundary}`);
  const next = Buffer.from(`\r\n--${boundary}`);
  let pos = body.indexOf(delimiter);
  if (pos < 0) return fallback();
  for (;;) {
    pos += delimiter.length;
    if (body[pos] === 0x2d && body[pos + 1] === 0x2d) return null; // closing delimiter
    const lineEnd = body.indexOf('\r\n', pos);
    if (lineEnd < 0) return fallback();
    const headEnd = body.indexOf(CRLF2, lineEnd);
    // A part without headers starts its content right after the delimiter line.
    const headStart = lineEnd + 2;
    const contentStart = headEnd === lineEnd ? lineEnd + 4 : headEnd + 4;
    if (headEnd < 0) return fallback();
    const contentEnd = body.indexOf(next, contentStart);
    if (contentEnd < 0) return fallback();
    const head = headEnd === lineEnd ? '' : body.toString('utf8', headStart, headEnd);
    const f = scanPart(sink, head, body.subarray(contentStart, contentEnd), media);
    if (f !== null) return f;
    pos = contentEnd + 2;
  }
}

function scanPart(sink: ValueSink, head: string, content: Buffer, media: MediaType): Finding | null {
  let disposition = '';
  let type: string | undefined;
  for (const line of head.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    if (name === 'content-disposition') disposition = line.slice(colon + 1);
    else if (name === 'content-type') type = line.slice(colon + 1).trim();
  }
  const field = headerParam(disposition, 'name') ?? '(unnamed part)';
  if (sink.check(field)) return finding(sink, 'body', field, 'name');
  const filename = headerParam(disposition, 'filename') ?? headerParam(disposition, 'filename*');
  if (filename !== null) return sink.check(percentDecode(filename, false)) ? finding(sink, 'body', `${field} (file name)`, 'value') : null;
  const text = bodyText(content, media);
  if (type !== undefined) {
    const semi = type.indexOf(';');
    const mt = (semi < 0 ? type : type.slice(0, semi)).trim().toLowerCase();
    if (mt === 'application/json' || mt.endsWith('+json')) return scanJsonText(sink, text, `${label(field)}: `);
  }
  return sink.check(text) ? finding(sink, 'body', field, 'value') : null;
}

/** A decoded (decompressed) body of an inspectable kind, as text or a parsed JSON document. */
export interface BodyView {
  readonly media: MediaType;
  readonly raw: Buffer;
  readonly text: string;
  /** For json and untyped JSON: the parse result (parsed once for both passes). */
  readonly json: { ok: true; value: unknown } | { ok: false } | null;
}

/** Turns a decompressed body into what its scan needs. Throws BodyUndecodable for an unsupported charset. */
export function bodyView(raw: Buffer, media: MediaType): BodyView {
  const text = media.kind === 'multipart' || media.kind === 'skip' ? '' : bodyText(raw, media);
  let json: BodyView['json'] = null;
  if (media.kind === 'json') json = parseJson(text);
  else if (media.kind === 'untyped') {
    // No Content-Type: an upstream may still parse it as JSON; check it as such when it is JSON.
    const first = text.trimStart()[0];
    if (first === '{' || first === '[') json = parseJson(text);
  }
  return { media, raw, text, json };
}

function scanBody(sink: ValueSink, b: BodyView): Finding | null {
  if (b.raw.length === 0) return null;
  switch (b.media.kind) {
    case 'json':
      return scanJsonDocument(sink, b.json!, b.text, '');
    case 'ndjson':
      return scanNdjson(sink, b.text);
    case 'form':
      return scanUrlEncoded(sink, b.text, 'body');
    case 'multipart':
      return scanMultipart(sink, b.raw, b.media.boundary, b.media);
    case 'untyped':
      return b.json !== null ? scanJsonDocument(sink, b.json, b.text, '') : scanWholeText(sink, b.text);
    case 'text':
      return scanWholeText(sink, b.text);
    case 'skip':
      return null;
  }
}

// ---- the two passes ---------------------------------------------------------------------

export function findInPath(m: InjectionMatcher, rawPath: string): Finding | null {
  const { joiner, finder } = m;
  joiner.reset();
  scanPath(joiner, rawPath);
  return joiner.matched() ? scanPath(finder, rawPath) : null;
}

/** A query string (location 'query') or a urlencoded form. */
export function findInQuery(m: InjectionMatcher, query: string): Finding | null {
  const { joiner, finder } = m;
  joiner.reset();
  scanUrlEncoded(joiner, query, 'query');
  return joiner.matched() ? scanUrlEncoded(finder, query, 'query') : null;
}

export function findInHeaders(m: InjectionMatcher, headers: Record<string, string>): Finding | null {
  const { joiner, finder } = m;
  joiner.reset();
  scanHeaders(joiner, headers);
  return joiner.matched() ? scanHeaders(finder, headers) : null;
}

export function findInBody(m: InjectionMatcher, body: BodyView): Finding | null {
  const { joiner, finder } = m;
  joiner.reset();
  scanBody(joiner, body);
  return joiner.matched() ? scanBody(finder, body) : null;
}
