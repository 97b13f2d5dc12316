/**
 * The smallest HTTP/1.1 response parser the open-loop generator needs: it finds where each
 * response ends (Content-Length or chunked framing) and reports its status. It keeps no body and
 * no headers, copies nothing when a response head arrives in one chunk (the usual case), and
 * handles any split of the byte stream across chunks.
 *
 * Not supported, because no peer or origin of the bench sends them: 1xx interim responses,
 * bodies delimited by connection close, and responses to HEAD. Such input ends in `onError`.
 */

const CR = 0x0d;
const LF = 0x0a;
/** A response head larger than this is treated as garbage. */
const MAX_HEAD = 64 * 1024;

const enum State {
  Head,
  Body,
  ChunkSize,
  ChunkData,
  ChunkDataEnd,
  Trailer,
}

export class ResponseParser {
  private state = State.Head;
  /** Bytes of a response head split across chunks (empty when the head came in one chunk). */
  private headParts: Buffer[] = [];
  private headLen = 0;
  private status = 0;
  /** Body bytes (Body, ChunkData) still to come in the current section. */
  private remaining = 0;
  /** Digits of a chunk-size line or a trailer line seen so far. */
  private line = '';
  private failed = false;

  constructor(
    private readonly onResponse: (status: number) => void,
    private readonly onError: (why: string) => void,
  ) {}

  /** Start over (a new connection). */
  reset(): void {
    this.state = State.Head;
    this.headParts = [];
    this.headLen = 0;
    this.remaining = 0;
    this.line = '';
    this.failed = false;
  }

  feed(buf: Buffer): void {
    let i = 0;
    const n = buf.length;
    while (i < n && !this.failed) {
      switch (this.state) {
        case State.Head: {
          const end = this.findHeadEnd(buf, i);
          if (end < 0) {
            this.headParts.push(buf.subarray(i));
            this.headLen += n - i;
            if (this.headLen > MAX_HEAD) this.fail(`response head over ${MAX_HEAD} bytes`);
            return;
          }
          let head: Buffer;
          if (this.headParts.length === 0) head = buf.subarray(i, end);
          else {
            this.headParts.push(buf.subarray(i, end));
            head = Buffer.concat(this.headParts);
            this.headParts = [];
            this.headLen = 0;
          }
          i = end;
          this.startBody(head);
          break;
        }
        case State.Body: {
          const take = Math.min(this.remaining, n - i);
          this.remaining -= take;
          i += take;
          if (this.remaining === 0) this.complete();
          break;
        }
        case State.ChunkSize: {
          const b = buf[i++] as number;
          if (b === LF) {
            const size = Number.parseInt(this.line.split(';', 1)[0]!.trim(), 16);
            this.line = '';
            if (!Number.isFinite(size) || size < 0) {
              this.fail('bad chunk size');
              break;
            }
            if (size === 0) this.state = State.Trailer;
            else {
              this.remaining = size;
              this.state = State.ChunkData;
            }
          } else if (b !== CR) {
            this.line += String.fromCharCode(b);
            if (this.line.length > 64) this.fail('chunk-size line too long');
          }
          break;
        }
        case State.ChunkData: {
          const take = Math.min(this.remaining, n - i);
          this.remaining -= take;
          i += take;
          if (this.remaining === 0) {
            this.state = State.ChunkDataEnd;
            this.line = '';
          }
          break;
        }
        case State.ChunkDataEnd: {
          // The CRLF after a chunk's data.
          const b = buf[i++] as number;
          if (b === LF) this.state = State.ChunkSize;
          else if (b !== CR) this.fail('missing CRLF after chunk data');
          break;
        }
        case State.Trailer: {
          // Trailer lines until an empty one; the last-chunk line's CRLF was eaten by ChunkSize.
          const b = buf[i++] as number;
          if (b === LF) {
            if (this.line === '') this.complete();
            this.line = '';
          } else if (b !== CR) {
            this.line += String.fromCharCode(b);
            if (this.line.length > 8192) this.fail('trailer too long');
          }
          break;
        }
      }
    }
  }

  /** Index just past "\r\n\r\n" in the head (looking back into bytes kept from earlier chunks), or -1. */
  private findHeadEnd(buf: Buffer, from: number): number {
    if (this.headParts.length === 0) {
      const at = buf.indexOf('\r\n\r\n', from, 'latin1');
      return at < 0 ? -1 : at + 4;
    }
    // The terminator may straddle earlier chunks: search the kept bytes plus this chunk, from 3
    // bytes before the end of what was kept. Split heads are rare; the copy does not matter.
    const joined = Buffer.concat([...this.headParts, buf.subarray(from)]);
    const at = joined.indexOf('\r\n\r\n', Math.max(0, this.headLen - 3), 'latin1');
    return at < 0 ? -1 : from + at + 4 - this.headLen;
  }

  private startBody(head: Buffer): void {
    // "HTTP/1.1 200 OK": the status is bytes 9..11.
    if (head.length < 12 || head.toString('latin1', 0, 5) !== 'HTTP/') {
      this.fail(`not an HTTP response: ${JSON.stringify(head.toString('latin1', 0, Math.min(head.length, 40)))}`);
      return;
    }
    this.status = (head[9]! - 48) * 100 + (head[10]! - 48) * 10 + (head[11]! - 48);
    if (!(this.status >= 200 && this.status <= 599)) {
      this.fail(`unsupported status line: ${JSON.stringify(head.toString('latin1', 0, head.indexOf(CR)))}`);
      return;
    }
    let length = -1;
    let chunked = false;
    // Header lines: "name: value\r\n"; names compared case-insensitively.
    let pos = head.indexOf(LF) + 1;
    while (pos < head.length) {
      const eol = head.indexOf(LF, pos);
      const lineEnd = eol < 0 ? head.length : eol;
      const colon = head.indexOf(0x3a, pos);
      if (colon > pos && colon < lineEnd) {
        const nameLen = colon - pos;
        if (nameLen === 14 || nameLen === 17) {
          const name = head.toString('latin1', pos, colon).toLowerCase();
          const value = head.toString('latin1', colon + 1, lineEnd).trim();
          if (name === 'content-length') length = Number(value);
          else if (name === 'transfer-encoding' && value.toLowerCase().includes('chunked')) chunked = true;
        }
      }
      pos = lineEnd + 1;
    }
    if (chunked) {
      this.state = State.ChunkSize;
      this.line = '';
    } else if (this.status === 204 || this.status === 304 || length === 0) {
      this.complete();
    } else if (length > 0 && Number.isSafeInteger(length)) {
      this.remaining = length;
      this.state = State.Body;
    } else {
      this.fail('response without Content-Length or chunked framing');
    }
  }

  private complete(): void {
    this.state = State.Head;
    this.onResponse(this.status);
  }

  private fail(why: string): void {
    this.failed = true;
    this.onError(why);
  }
}
