/**
 * Incremental HTTP/1.1 response parser for the upstream client: status line and header
 * block, then the body framed by Content-Length, chunked coding, or the connection's end.
 *
 * Built for the proxy's needs and nothing more: header names (tokens) and values are
 * handed over as latin1 strings cut from one decoding of the head (the listener then
 * writes them all in one call), a value as a Buffer when it carries bytes above 0x7F (so it
 * goes out byte for byte); body bytes are passed through without copying, and the caller
 * can stop between two pieces of body (backpressure) and feed the rest later.
 *
 * Strict where a lenient reading would let an upstream desynchronise the connection
 * (RFC 9112 section 6.3): Content-Length together with Transfer-Encoding, differing or
 * malformed Content-Lengths, a Transfer-Encoding that does not end in chunked (read to the
 * end of the connection, never reused), bad chunk sizes. Any such error is final: the
 * connection is closed and never reused.
 */

export const enum BodyKind {
  /** HEAD, 1xx, 204, 304: no body, the message ends with its head. */
  None = 0,
  Fixed = 1,
  Chunked = 2,
  /** No framing: the body runs until the connection closes (never reusable). */
  UntilClose = 3,
}

export class ResponseParseError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
    this.name = 'ResponseParseError';
  }
}

/** What the parser reports; implemented by the connection. */
export interface ResponseEvents {
  /** A complete head. Return false to stop feeding (the caller resumes with feed()). */
  /** `contentLength`: the response's Content-Length (also on HEAD, 204, 304), -1 when it has none. */
  onHead(status: number, headers: Array<string | Buffer>, kind: BodyKind, keepAlive: boolean, keepAliveHintMs: number, contentLength: number): boolean;
  /** A piece of body. Return false to stop after it (backpressure). */
  onBody(chunk: Buffer): boolean;
  /** The message is complete (for UntilClose: on end()). */
  onEnd(): void;
}

const S_HEAD = 0;
const S_FIXED = 1;
const S_CHUNK_SIZE = 2;
const S_CHUNK_DATA = 3;
const S_CHUNK_DATA_CRLF = 4;
const S_TRAILERS = 5;
const S_UNTIL_CLOSE = 6;
const S_DONE = 7;

const CR = 13;
const LF = 10;
const MAX_CHUNK_LINE = 1024;
/** The characters of a header name (an RFC 9110 token), by char code: char-code loops beat regexes on these short strings. */
const TOKEN_CHARS = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") TOKEN_CHARS[c.charCodeAt(0)] = 1;
/** Control bytes a value must not have (everything below 0x20 but HTAB, and DEL). */
const CONTROL = /[\x00-\x08\x0a-\x1f\x7f]/;
/** Bytes decoded at once to find the end of a response head (most heads are shorter). */
const HEAD_WINDOW = 1024;
const MAX_TRAILERS = 16 * 1024;

export class ResponseParser {
  /** Longest accepted response head (status line + headers). */
  maxHeadBytes = 64 * 1024;
  private state = S_DONE;
  private events: ResponseEvents;
  private headOnly = false;
  /** Bytes of an incomplete head (or chunk-size line / trailers) kept across feeds. */
  private partial: Buffer | null = null;
  private remaining = 0;
  /** The status of the final response, once its head was parsed. */
  status = 0;

  constructor(events: ResponseEvents) {
    this.events = events;
  }

  /** Starts a new response; `headOnly` when the request was HEAD. */
  reset(headOnly: boolean): void {
    this.state = S_HEAD;
    this.headOnly = headOnly;
    this.partial = null;
    this.remaining = 0;
    this.status = 0;
  }

  get done(): boolean {
    return this.state === S_DONE;
  }

  /** True while the body runs until the connection's end. */
  get untilClose(): boolean {
    return this.state === S_UNTIL_CLOSE;
  }

  /**
   * Feeds bytes read from the connection. Returns the offset up to which `buf` was
   * consumed: buf.length when all of it was, less when a callback asked to stop (feed the
   * rest later) or the response ended (the rest is extra bytes after the message, which
   * an upstream must not send unasked). Throws ResponseParseError on malformed input.
   */
  feed(buf: Buffer): number {
    let pos = 0;
    const len = buf.length;
    while (pos < len) {
      switch (this.state) {
        case S_HEAD: {
          const r = this.parseHead(buf, pos);
          if (r < 0) return len; // kept as partial
          pos = r;
          if (this.stopAfterHead) {
            this.stopAfterHead = false;
            return pos;
          }
          break;
        }
        case S_FIXED: {
          const n = Math.min(this.remaining, len - pos);
          const piece = pos === 0 && n === len ? buf : buf.subarray(pos, pos + n);
          pos += n;
          this.remaining -= n;
          let go = this.events.onBody(piece);
          if (this.remaining === 0) {
            this.state = S_DONE;
            this.events.onEnd();
            return pos;
          }
          if (!go) return pos;
          break;
        }
        case S_CHUNK_SIZE: {
          const r = this.parseChunkSize(buf, pos);
          if (r < 0) return len;
          pos = r;
          break;
        }
        case S_CHUNK_DATA: {
          const n = Math.min(this.remaining, len - pos);
          const piece = buf.subarray(pos, pos + n);
          pos += n;
          this.remaining -= n;
          if (this.remaining === 0) {
            this.state = S_CHUNK_DATA_CRLF;
            this.remaining = 2;
          }
          if (!this.events.onBody(piece)) return pos;
          break;
        }
        case S_CHUNK_DATA_CRLF: {
          const b = buf[pos]!;
          if ((this.remaining === 2 && b !== CR) || (this.remaining === 1 && b !== LF)) {
            throw new ResponseParseError('HPE_INVALID_CHUNK_SIZE', 'chunk data not followed by CRLF');
          }
          pos++;
          if (--this.remaining === 0) this.state = S_CHUNK_SIZE;
          break;
        }
        case S_TRAILERS: {
          const r = this.parseTrailers(buf, pos);
          if (r < 0) return len;
          pos = r;
          this.state = S_DONE;
          this.events.onEnd();
          return pos;
        }
        case S_UNTIL_CLOSE: {
          const piece = pos === 0 ? buf : buf.subarray(pos);
          pos = len;
          if (!this.events.onBody(piece)) return pos;
          break;
        }
        default:
          // S_DONE: bytes after a complete response.
          return pos;
      }
    }
    return pos;
  }

  /** The connection ended: completes a body that runs until close, else reports truncation. */
  end(): void {
    if (this.state === S_UNTIL_CLOSE) {
      this.state = S_DONE;
      this.events.onEnd();
      return;
    }
    if (this.state !== S_DONE) throw new ResponseParseError('UND_ERR_SOCKET', 'other side closed');
  }

  private stopAfterHead = false;

  /** Returns the offset after the head, or -1 when more bytes are needed. */
  private parseHead(buf: Buffer, pos: number): number {
    let data = buf;
    let start = pos;
    const partial = this.partial;
    if (partial !== null) {
      data = Buffer.concat([partial, buf.subarray(pos)]);
      start = 0;
    }
    // Most heads fit in a small window: decoded once, its text gives the end of the head (a
    // builtin string search) and every name and value (slices of it). A longer head is
    // searched in the bytes beyond the window and decoded whole.
    const avail = data.length - start;
    const w = avail < HEAD_WINDOW ? avail : HEAD_WINDOW;
    let text = data.toString('latin1', start, start + w);
    const rel = text.indexOf('\r\n\r\n');
    let end = rel >= 0 ? start + rel : -1;
    if (end < 0 && avail > w) {
      end = data.indexOf('\r\n\r\n', start + w - 3, 'latin1');
      if (end >= 0) text = data.toString('latin1', start, end);
    }
    if (end < 0) {
      if (data.length - start > this.maxHeadBytes) throw new ResponseParseError('HPE_HEADER_OVERFLOW', 'response head too large');
      this.partial = start === 0 && data !== buf ? data : Buffer.from(data.subarray(start));
      return -1;
    }
    if (end - start > this.maxHeadBytes) throw new ResponseParseError('HPE_HEADER_OVERFLOW', 'response head too large');
    this.partial = null;
    const consumedInBuf = partial !== null ? end + 4 - partial.length + pos : end + 4;
    this.parseHeadBlock(data, start, end - start, text);
    return consumedInBuf;
  }

  /**
   * Parses the head at `data[start]`, `headLength` bytes long (without the blank line);
   * `text` is those bytes decoded as latin1 (it may run on past the head). Offsets below
   * are relative to `start`; the char codes of `text` are the bytes.
   */
  private parseHeadBlock(data: Buffer, start: number, headLength: number, text: string): void {
    // Status line: HTTP/1.x SP 3DIGIT [SP reason]
    const tl = headLength;
    let lineEnd = text.indexOf('\r');
    if (lineEnd < 0 || lineEnd > tl) lineEnd = tl;
    if (
      lineEnd < 12 ||
      text.charCodeAt(0) !== 0x48 || // H
      text.charCodeAt(1) !== 0x54 ||
      text.charCodeAt(2) !== 0x54 ||
      text.charCodeAt(3) !== 0x50 ||
      text.charCodeAt(4) !== 0x2f || // /
      text.charCodeAt(5) !== 0x31 || // 1
      text.charCodeAt(6) !== 0x2e ||
      text.charCodeAt(8) !== 0x20
    ) {
      throw new ResponseParseError('HPE_INVALID_CONSTANT', 'malformed status line');
    }
    const minor = text.charCodeAt(7) - 0x30;
    const d0 = text.charCodeAt(9) - 0x30;
    const d1 = text.charCodeAt(10) - 0x30;
    const d2 = text.charCodeAt(11) - 0x30;
    if ((minor !== 0 && minor !== 1) || d0 < 1 || d0 > 5 || d1 < 0 || d1 > 9 || d2 < 0 || d2 > 9) {
      throw new ResponseParseError('HPE_INVALID_STATUS', 'malformed status line');
    }
    if (lineEnd > 12 && text.charCodeAt(12) !== 0x20) throw new ResponseParseError('HPE_INVALID_STATUS', 'malformed status line');
    const status = d0 * 100 + d1 * 10 + d2;

    // ASCII names and values are cut from the decoded text (see top).
    const headers: Array<string | Buffer> = [];
    let contentLength = -1;
    let chunked = false;
    let hasTE = false;
    let close = minor === 0;
    let keepAliveSeen = false;
    let hintMs = 0;
    // Walked on the text: String indexOf and charCodeAt are V8 builtins, where Buffer.indexOf
    // is a call through node's binding.
    let p = lineEnd + 2;
    while (p < tl) {
      let e = text.indexOf('\r', p);
      if (e < 0 || e > tl) e = tl;
      // The last line's CR is the one that starts the blank line after the block.
      if (e < tl && text.charCodeAt(e + 1) !== LF) throw new ResponseParseError('HPE_LF_EXPECTED', 'bare CR in response head');
      const colon = text.indexOf(':', p);
      if (colon <= p || colon > e) throw new ResponseParseError('HPE_INVALID_HEADER_TOKEN', 'malformed response header line');
      // The name must be a token (RFC 9110 5.1), as llhttp and nginx require: this also
      // refuses obs-fold (a line starting with whitespace, RFC 9112 5.2), whitespace before
      // the colon (a classic smuggling vector, RFC 9112 5.1), and a bare LF or any other
      // byte that would reach the client's connection inside a name.
      for (let i = p; i < colon; i++) {
        const ch = text.charCodeAt(i);
        if (ch > 0x7e || TOKEN_CHARS[ch] !== 1) throw new ResponseParseError('HPE_INVALID_HEADER_TOKEN', 'invalid response header name');
      }
      const name = text.slice(p, colon);
      let vs = colon + 1;
      let c = text.charCodeAt(vs);
      while (vs < e && (c === 0x20 || c === 0x09)) c = text.charCodeAt(++vs);
      let ve = e;
      c = text.charCodeAt(ve - 1);
      while (ve > vs && (c === 0x20 || c === 0x09)) c = text.charCodeAt(--ve - 1);
      let value: string | Buffer = text.slice(vs, ve);
      let plain = true;
      for (let i = vs; i < ve; i++) {
        const ch = text.charCodeAt(i);
        if ((ch < 0x20 && ch !== 0x09) || ch > 0x7e) {
          plain = false;
          break;
        }
      }
      if (!plain) {
        // Not all HTAB and visible ASCII. No control byte but HTAB (a bare LF included);
        // bytes above 0x7F pass through as bytes.
        if (CONTROL.test(value)) throw new ResponseParseError('HPE_INVALID_HEADER_TOKEN', 'control byte in response header');
        value = data.subarray(start + vs, start + ve);
      }
      const nl = colon - p;
      // Framing headers are examined; everything else passes through untouched.
      if (nl === 14 && equalsLowerAt(text, p, 'content-length')) {
        const v = parseDigits(text, vs, ve);
        if (v < 0 || (contentLength >= 0 && v !== contentLength)) throw new ResponseParseError('HPE_UNEXPECTED_CONTENT_LENGTH', 'bad Content-Length');
        contentLength = v;
      } else if (nl === 17 && equalsLowerAt(text, p, 'transfer-encoding')) {
        hasTE = true;
        chunked = endsWithChunked(value);
      } else if (nl === 10 && equalsLowerAt(text, p, 'connection')) {
        // The usual single values without a lowercased copy and two regexes.
        if (ve - vs === 10 && equalsLowerAt(text, vs, 'keep-alive')) keepAliveSeen = true;
        else if (ve - vs === 5 && equalsLowerAt(text, vs, 'close')) close = true;
        else {
          const v = value.toString('latin1').toLowerCase();
          if (/(?:^|,)\s*close\s*(?:,|$)/.test(v)) close = true;
          if (/(?:^|,)\s*keep-alive\s*(?:,|$)/.test(v)) keepAliveSeen = true;
        }
      } else if (nl === 10 && equalsLowerAt(text, p, 'keep-alive')) {
        const m = /timeout\s*=\s*(\d+)/i.exec(value.toString('latin1'));
        if (m !== null) hintMs = Number(m[1]) * 1000;
      }
      headers.push(name, value);
      p = e + 2;
    }
    if (minor === 0 && keepAliveSeen) close = false;

    if (status < 200) {
      // Interim response (100 Continue, 103 Early Hints): skipped, the final one follows.
      if (status === 101) throw new ResponseParseError('HPE_UPGRADE', 'upstream switched protocols unasked');
      this.state = S_HEAD;
      return;
    }
    this.status = status;
    let kind: BodyKind;
    if (this.headOnly || status === 204 || status === 304) {
      kind = BodyKind.None;
    } else if (hasTE) {
      if (contentLength >= 0) throw new ResponseParseError('HPE_UNEXPECTED_CONTENT_LENGTH', 'Content-Length with Transfer-Encoding');
      if (chunked) kind = BodyKind.Chunked;
      else {
        kind = BodyKind.UntilClose;
        close = true;
      }
    } else if (contentLength >= 0) {
      kind = contentLength === 0 ? BodyKind.None : BodyKind.Fixed;
    } else {
      kind = BodyKind.UntilClose;
      close = true;
    }
    switch (kind) {
      case BodyKind.None:
        this.state = S_DONE;
        break;
      case BodyKind.Fixed:
        this.state = S_FIXED;
        this.remaining = contentLength;
        break;
      case BodyKind.Chunked:
        this.state = S_CHUNK_SIZE;
        break;
      default:
        this.state = S_UNTIL_CLOSE;
    }
    const go = this.events.onHead(status, headers, kind, !close, hintMs, contentLength);
    if (kind === BodyKind.None) {
      this.events.onEnd();
      this.stopAfterHead = true;
      return;
    }
    if (!go) this.stopAfterHead = true;
  }

  /** Parses "HEX[;ext]\r\n"; returns the offset after it, or -1 when more bytes are needed. */
  private parseChunkSize(buf: Buffer, pos: number): number {
    let data = buf;
    let start = pos;
    const partial = this.partial;
    if (partial !== null) {
      data = Buffer.concat([partial, buf.subarray(pos)]);
      start = 0;
    }
    const lf = data.indexOf(LF, start);
    if (lf < 0) {
      if (data.length - start > MAX_CHUNK_LINE) throw new ResponseParseError('HPE_INVALID_CHUNK_SIZE', 'chunk size line too long');
      this.partial = Buffer.from(data.subarray(start));
      return -1;
    }
    if (lf - start > MAX_CHUNK_LINE || data[lf - 1] !== CR) throw new ResponseParseError('HPE_INVALID_CHUNK_SIZE', 'malformed chunk size line');
    this.partial = null;
    let size = 0;
    let i = start;
    for (; i < lf - 1; i++) {
      const c = data[i]!;
      let d: number;
      if (c >= 0x30 && c <= 0x39) d = c - 0x30;
      else if (c >= 0x61 && c <= 0x66) d = c - 0x57;
      else if (c >= 0x41 && c <= 0x46) d = c - 0x37;
      else break;
      size = size * 16 + d;
      if (size > Number.MAX_SAFE_INTEGER / 16) throw new ResponseParseError('HPE_INVALID_CHUNK_SIZE', 'chunk size too large');
    }
    if (i === start) throw new ResponseParseError('HPE_INVALID_CHUNK_SIZE', 'malformed chunk size');
    // Only chunk extensions may follow the size.
    if (i < lf - 1) {
      let j = i;
      while (j < lf - 1 && (data[j] === 0x20 || data[j] === 0x09)) j++;
      if (data[j] !== 0x3b) throw new ResponseParseError('HPE_INVALID_CHUNK_SIZE', 'malformed chunk size');
    }
    const consumed = partial !== null ? lf + 1 - partial.length + pos : lf + 1;
    if (size === 0) {
      this.state = S_TRAILERS;
    } else {
      this.state = S_CHUNK_DATA;
      this.remaining = size;
    }
    return consumed;
  }

  /** Skips trailer fields up to the empty line; -1 when more bytes are needed. */
  private parseTrailers(buf: Buffer, pos: number): number {
    let data = buf;
    let start = pos;
    const partial = this.partial;
    if (partial !== null) {
      data = Buffer.concat([partial, buf.subarray(pos)]);
      start = 0;
    }
    // No trailers: the empty line follows at once.
    let end: number;
    if (data.length - start >= 2 && data[start] === CR && data[start + 1] === LF) end = start + 2;
    else {
      const e = data.indexOf('\r\n\r\n', start, 'latin1');
      if (e < 0) {
        if (data.length - start > MAX_TRAILERS) throw new ResponseParseError('HPE_HEADER_OVERFLOW', 'trailers too large');
        this.partial = Buffer.from(data.subarray(start));
        return -1;
      }
      end = e + 4;
    }
    if (data.length - start < 2) {
      this.partial = Buffer.from(data.subarray(start));
      return -1;
    }
    this.partial = null;
    return partial !== null ? end - partial.length + pos : end;
  }
}

/** Whether the characters of `text` at `at` spell `lower`, ASCII case folded. */
function equalsLowerAt(text: string, at: number, lower: string): boolean {
  for (let i = 0; i < lower.length; i++) {
    let c = text.charCodeAt(at + i);
    if (c >= 0x41 && c <= 0x5a) c += 0x20;
    if (c !== lower.charCodeAt(i)) return false;
  }
  return true;
}

function parseDigits(text: string, from: number, to: number): number {
  if (to === from || to - from > 15) return -1;
  let n = 0;
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i) - 0x30;
    if (c < 0 || c > 9) return -1;
    n = n * 10 + c;
  }
  return n;
}

/** Whether the last transfer coding is "chunked" (RFC 9112 6.3 rule 4). */
function endsWithChunked(v: string | Buffer): boolean {
  const s = v.toString('latin1').toLowerCase();
  const i = s.lastIndexOf(',');
  return (i < 0 ? s : s.slice(i + 1)).trim() === 'chunked';
}
