/**
 * What a request body is, from its Content-Type and Content-Encoding, and how to turn its
 * bytes into the text an upstream parser would see.
 *
 * - JSON (`application/json`, `*\/json`, `*+json`): parsed, keys and string values checked;
 *   NDJSON (`application/x-ndjson`, `application/jsonl`): each line likewise.
 * - Forms (`application/x-www-form-urlencoded`): names and values, percent- and `+`-decoded.
 * - `multipart/form-data`: part names, file names, and the values of non-file parts.
 * - Text (`text/*`, XML, JavaScript, GraphQL) and bodies without a Content-Type: the text.
 * - Anything else (octet-stream, images, audio, video, archives, PDF, gRPC/protobuf) is data
 *   no interpreter reads injections from: not checked.
 *
 * Compressed bodies (gzip, deflate, br) are decompressed first, up to the inspection limit;
 * a charset other than UTF-8 is honoured for UTF-16 and Latin-1. A body the plugin cannot
 * turn into text (an unknown coding or charset, a corrupt stream) is "undecodable", never
 * silently passed unchecked (see handler.ts).
 */
import { brotliDecompressSync, gunzipSync, inflateRawSync, inflateSync } from 'node:zlib';

export type BodyKind = 'json' | 'ndjson' | 'form' | 'multipart' | 'text' | 'untyped' | 'skip';

export interface MediaType {
  readonly kind: BodyKind;
  /** Node encoding for the text, or null when the charset is not one we can decode. */
  readonly encoding: BufferEncoding | 'utf16be' | null;
  /** The charset as sent (lowercase), for logs; '' when absent. */
  readonly charset: string;
  /** multipart boundary, or null. */
  readonly boundary: string | null;
}

const JSON_SEQ = new Set(['application/x-ndjson', 'application/ndjson', 'application/jsonl', 'application/x-jsonlines', 'application/jsonlines']);
const TEXT_APPS = new Set(['application/xml', 'application/javascript', 'application/x-javascript', 'application/ecmascript', 'application/graphql', 'application/sql', 'application/x-sh', 'application/xhtml+xml', 'application/soap+xml']);

const CHARSETS: Readonly<Record<string, BufferEncoding | 'utf16be'>> = {
  'utf-8': 'utf8',
  utf8: 'utf8',
  'us-ascii': 'utf8',
  ascii: 'utf8',
  'iso-8859-1': 'latin1',
  latin1: 'latin1',
  'windows-1252': 'latin1',
  cp1252: 'latin1',
  'utf-16': 'utf16le',
  'utf-16le': 'utf16le',
  'utf-16be': 'utf16be',
};

/** The value of parameter `name` in a header like `type/sub; a=b; name="v"` (lowercase name). */
export function headerParam(value: string, name: string): string | null {
  let i = value.indexOf(';');
  while (i >= 0 && i < value.length) {
    let j = i + 1;
    while (j < value.length && (value[j] === ' ' || value[j] === '\t')) j++;
    const eq = value.indexOf('=', j);
    if (eq < 0) return null;
    const key = value.slice(j, eq).trim().toLowerCase();
    let v: string;
    let next: number;
    if (value[eq + 1] === '"') {
      let k = eq + 2;
      let out = '';
      while (k < value.length && value[k] !== '"') {
        if (value[k] === '\\' && k + 1 < value.length) k++;
        out += value[k];
        k++;
      }
      v = out;
      next = value.indexOf(';', k);
    } else {
      next = value.indexOf(';', eq);
      v = value.slice(eq + 1, next < 0 ? value.length : next).trim();
    }
    if (key === name) return v;
    i = next;
  }
  return null;
}

export function mediaTypeOf(contentType: string | undefined): MediaType {
  if (contentType === undefined || contentType.trim() === '') return { kind: 'untyped', encoding: 'utf8', charset: '', boundary: null };
  const semi = contentType.indexOf(';');
  const mt = (semi < 0 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
  const charset = (semi < 0 ? null : headerParam(contentType, 'charset'))?.toLowerCase() ?? '';
  const encoding = charset === '' ? 'utf8' : (CHARSETS[charset] ?? null);
  const slash = mt.indexOf('/');
  const type = slash < 0 ? mt : mt.slice(0, slash);
  const sub = slash < 0 ? '' : mt.slice(slash + 1);
  let kind: BodyKind;
  if (sub === 'json' || sub.endsWith('+json')) kind = 'json';
  else if (JSON_SEQ.has(mt)) kind = 'ndjson';
  else if (mt === 'application/x-www-form-urlencoded') kind = 'form';
  else if (mt === 'multipart/form-data') kind = 'multipart';
  else if (type === 'text' || sub.endsWith('+xml') || TEXT_APPS.has(mt)) kind = 'text';
  else kind = 'skip';
  const boundary = kind === 'multipart' ? headerParam(contentType, 'boundary') : null;
  return { kind, encoding, charset, boundary };
}

export class BodyTooLargeToInspect extends Error {}
export class BodyUndecodable extends Error {}

/**
 * Undoes Content-Encoding (listed in the order applied, so undone from the last), never
 * producing more than `limit` bytes (a decompression bomb stops there).
 */
export function decodeContent(body: Buffer, contentEncoding: string | undefined, limit: number): Buffer {
  if (contentEncoding === undefined) return body;
  const codings = contentEncoding
    .split(',')
    .map((c) => c.trim().toLowerCase())
    .filter((c) => c !== '' && c !== 'identity');
  let out = body;
  for (let i = codings.length - 1; i >= 0; i--) {
    const coding = codings[i]!;
    const opts = { maxOutputLength: limit };
    try {
      if (coding === 'gzip' || coding === 'x-gzip') out = gunzipSync(out, opts);
      else if (coding === 'deflate') out = inflateDeflate(out, opts);
      else if (coding === 'br') out = brotliDecompressSync(out, opts);
      else throw new BodyUndecodable(`content coding '${coding}' is not supported`);
    } catch (err) {
      if (err instanceof BodyUndecodable) throw err;
      if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw new BodyTooLargeToInspect(`decompressed body over ${limit} bytes`);
      throw new BodyUndecodable(`corrupt ${coding} body`);
    }
  }
  return out;
}

/** `deflate` is zlib-wrapped by the RFC, raw in some clients: accept both. */
function inflateDeflate(data: Buffer, opts: { maxOutputLength: number }): Buffer {
  try {
    return inflateSync(data, opts);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw err;
    return inflateRawSync(data, opts);
  }
}

/** The body as text in its declared charset. */
export function bodyText(body: Buffer, media: MediaType): string {
  const enc = media.encoding;
  if (enc === null) throw new BodyUndecodable(`charset '${media.charset}' is not supported`);
  if (enc === 'utf16be') {
    const swapped = Buffer.from(body.subarray(0, body.length & ~1));
    swapped.swap16();
    return swapped.toString('utf16le');
  }
  if (enc === 'utf16le' && media.charset === 'utf-16' && body.length >= 2 && body[0] === 0xfe && body[1] === 0xff) {
    // utf-16 with a big-endian byte order mark.
    const swapped = Buffer.from(body.subarray(2, 2 + ((body.length - 2) & ~1)));
    swapped.swap16();
    return swapped.toString('utf16le');
  }
  return body.toString(enc);
}
