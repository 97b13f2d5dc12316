/**
 * The response codings the response-transformer can undo to edit a JSON body (RFC 9110
 * 8.4.1): gzip (x-gzip), deflate (zlib, or raw deflate as some servers send it) and br.
 * Decompression is bounded: a body that inflates past the limit throws before it is built
 * (a zip bomb costs at most `max` bytes).
 */
import { brotliDecompressSync, gunzipSync, inflateRawSync, inflateSync } from 'node:zlib';

export type Coding = 'gzip' | 'deflate' | 'br';

/** The coding of a Content-Encoding value: null for none/identity, 'unsupported' for anything else. */
export function codingOf(value: string | string[] | undefined): Coding | null | 'unsupported' {
  if (value === undefined) return null;
  if (Array.isArray(value)) {
    const codings = value.map((v) => codingOf(v)).filter((c) => c !== null);
    if (codings.length === 0) return null;
    return codings.length === 1 ? codings[0]! : 'unsupported';
  }
  const tokens = value
    .split(',')
    .map((t) => t.trim().toLowerCase())
    .filter((t) => t !== '' && t !== 'identity');
  if (tokens.length === 0) return null;
  if (tokens.length > 1) return 'unsupported'; // stacked codings
  switch (tokens[0]) {
    case 'gzip':
    case 'x-gzip':
      return 'gzip';
    case 'deflate':
      return 'deflate';
    case 'br':
      return 'br';
    default:
      return 'unsupported';
  }
}

/** Thrown when a decoded body would exceed the limit. */
export class DecodedTooLargeError extends Error {}

/** The decoded body; throws DecodedTooLargeError past `max` bytes, or zlib's error for a corrupt body. */
export function decodeBody(body: Buffer, coding: Coding, max: number): Buffer {
  const opts = { maxOutputLength: Math.max(1, max) };
  try {
    switch (coding) {
      case 'gzip':
        return gunzipSync(body, opts);
      case 'br':
        return brotliDecompressSync(body, opts);
      case 'deflate':
        try {
          return inflateSync(body, opts);
        } catch (err) {
          if (isTooLarge(err)) throw err;
          return inflateRawSync(body, opts);
        }
    }
  } catch (err) {
    if (isTooLarge(err)) throw new DecodedTooLargeError(`decoded body larger than ${max} bytes`);
    throw err;
  }
}

function isTooLarge(err: unknown): boolean {
  return (err as NodeJS.ErrnoException | null)?.code === 'ERR_BUFFER_TOO_LARGE';
}
