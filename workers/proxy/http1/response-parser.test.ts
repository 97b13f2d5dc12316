import { describe, expect, it } from 'vitest';
import { BodyKind, ResponseParser, type ResponseEvents } from './response-parser.js';

interface Parsed {
  status: number;
  headers: string[];
  kind: BodyKind;
  keepAlive: boolean;
  hint: number;
  body: string;
  ended: boolean;
}

/** Feeds `raw` split into pieces of `step` bytes (or at the given cut points). */
function parse(raw: string, opts: { step?: number; cuts?: number[]; head?: boolean } = {}): Parsed {
  const out: Parsed = { status: 0, headers: [], kind: BodyKind.None, keepAlive: false, hint: 0, body: '', ended: false };
  const events: ResponseEvents = {
    onHead(status, headers, kind, keepAlive, hint) {
      out.status = status;
      out.headers = headers.map((b) => b.toString('latin1'));
      out.kind = kind;
      out.keepAlive = keepAlive;
      out.hint = hint;
      return true;
    },
    onBody(chunk) {
      out.body += chunk.toString('latin1');
      return true;
    },
    onEnd() {
      out.ended = true;
    },
  };
  const p = new ResponseParser(events);
  p.reset(opts.head === true);
  const buf = Buffer.from(raw, 'latin1');
  const cuts = opts.cuts ?? [];
  if (opts.step !== undefined) for (let i = opts.step; i < buf.length; i += opts.step) cuts.push(i);
  let prev = 0;
  for (const c of [...cuts, buf.length]) {
    if (c <= prev) continue;
    p.feed(buf.subarray(prev, c));
    prev = c;
  }
  return out;
}

function everySplit(raw: string, check: (p: Parsed) => void): void {
  for (let i = 1; i < raw.length; i++) check(parse(raw, { cuts: [i] }));
  check(parse(raw, { step: 1 }));
  check(parse(raw, { step: 3 }));
}

const FIXED = 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 11\r\nX-A:  spaced value \t\r\n\r\nhello world';
const CHUNKED =
  'HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n1\r\n \r\nA\r\n0123456789\r\n0\r\nX-Trailer: t\r\n\r\n';

describe('ResponseParser', () => {
  it('parses a Content-Length response identically at every split point', () => {
    everySplit(FIXED, (p) => {
      expect(p.status).toBe(200);
      expect(p.headers).toEqual(['Content-Type', 'text/plain', 'Content-Length', '11', 'X-A', 'spaced value']);
      expect(p.kind).toBe(BodyKind.Fixed);
      expect(p.keepAlive).toBe(true);
      expect(p.body).toBe('hello world');
      expect(p.ended).toBe(true);
    });
  });

  it('hands values with bytes above 0x7F over as those bytes, everything else as strings', () => {
    let got: Array<string | Buffer> = [];
    const p = new ResponseParser({
      onHead: (_s, headers) => {
        got = headers;
        return true;
      },
      onBody: () => true,
      onEnd: () => undefined,
    });
    p.reset(false);
    p.feed(Buffer.from('HTTP/1.1 200 OK\r\nX-Plain:\t a b \r\nX-Utf8:  caf\xc3\xa9 \r\nX-Obs: \xff\r\nContent-Length: 0\r\n\r\n', 'latin1'));
    expect(got.map((h) => (typeof h === 'string' ? `s:${h}` : `b:${h.toString('hex')}`))).toEqual([
      's:X-Plain',
      's:a b',
      's:X-Utf8',
      `b:${Buffer.from('caf\xc3\xa9', 'latin1').toString('hex')}`,
      's:X-Obs',
      'b:ff',
      's:Content-Length',
      's:0',
    ]);
  });

  it('decodes chunked bodies with extensions and trailers at every split point', () => {
    everySplit(CHUNKED, (p) => {
      expect(p.status).toBe(201);
      expect(p.kind).toBe(BodyKind.Chunked);
      expect(p.body).toBe('hello 0123456789');
      expect(p.ended).toBe(true);
    });
  });

  it('knows the responses without a body: HEAD, 204, 304, Content-Length 0', () => {
    expect(parse('HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n', { head: true })).toMatchObject({ kind: BodyKind.None, ended: true, body: '' });
    expect(parse('HTTP/1.1 204 No Content\r\n\r\n')).toMatchObject({ status: 204, kind: BodyKind.None, ended: true });
    expect(parse('HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n')).toMatchObject({ kind: BodyKind.None, ended: true });
    expect(parse('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n')).toMatchObject({ kind: BodyKind.None, ended: true });
  });

  it('skips interim 1xx responses and reports the final one', () => {
    const p = parse('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok', { step: 2 });
    expect(p).toMatchObject({ status: 200, body: 'ok', ended: true });
  });

  it('a response without framing runs until the connection ends and is never kept alive', () => {
    const events: string[] = [];
    const p = new ResponseParser({
      onHead: (_s, _h, kind, keepAlive) => (events.push(`head:${kind}:${keepAlive}`), true),
      onBody: (c) => (events.push(`body:${c.toString()}`), true),
      onEnd: () => void events.push('end'),
    });
    p.reset(false);
    p.feed(Buffer.from('HTTP/1.1 200 OK\r\n\r\nabc'));
    p.feed(Buffer.from('def'));
    expect(p.untilClose).toBe(true);
    p.end();
    expect(events).toEqual([`head:${BodyKind.UntilClose}:false`, 'body:abc', 'body:def', 'end']);
  });

  it('a connection that ends before the body is complete is an error, not a short response', () => {
    const p = new ResponseParser({ onHead: () => true, onBody: () => true, onEnd: () => undefined });
    p.reset(false);
    p.feed(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc'));
    expect(() => p.end()).toThrow(/other side closed/);
  });

  it('reads keep-alive from the version, Connection and the Keep-Alive hint', () => {
    expect(parse('HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n').keepAlive).toBe(false);
    expect(parse('HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n').keepAlive).toBe(true);
    expect(parse('HTTP/1.1 200 OK\r\nConnection: foo, close\r\nContent-Length: 0\r\n\r\n').keepAlive).toBe(false);
    expect(parse('HTTP/1.1 200 OK\r\nKeep-Alive: timeout=5, max=100\r\nContent-Length: 0\r\n\r\n').hint).toBe(5000);
  });

  it('a Transfer-Encoding not ending in chunked reads until close', () => {
    const p = parse('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\nxyz');
    expect(p).toMatchObject({ kind: BodyKind.UntilClose, keepAlive: false, body: 'xyz' });
  });

  it('stops after a body piece when asked and goes on where it stopped', () => {
    const got: string[] = [];
    let allow = false;
    const p = new ResponseParser({
      onHead: () => true,
      onBody: (c) => (got.push(c.toString()), allow),
      onEnd: () => void got.push('end'),
    });
    p.reset(false);
    const buf = Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n3\r\ndef\r\n0\r\n\r\n');
    const used = p.feed(buf);
    expect(got).toEqual(['abc']);
    expect(used).toBeLessThan(buf.length);
    allow = true;
    p.feed(buf.subarray(used));
    expect(got).toEqual(['abc', 'def', 'end']);
  });

  it.each([
    ['Content-Length with Transfer-Encoding', 'HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n'],
    ['two different Content-Lengths', 'HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n'],
    ['a malformed Content-Length', 'HTTP/1.1 200 OK\r\nContent-Length: 3x\r\n\r\n'],
    ['a negative Content-Length', 'HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n'],
    ['whitespace before the colon', 'HTTP/1.1 200 OK\r\nContent-Length : 3\r\n\r\nabc'],
    ['a folded header line', 'HTTP/1.1 200 OK\r\nX-A: 1\r\n  folded\r\nContent-Length: 0\r\n\r\n'],
    ['a line without a colon', 'HTTP/1.1 200 OK\r\nbogus\r\n\r\n'],
    ['a control byte in a value', 'HTTP/1.1 200 OK\r\nX-A: a\x01b\r\n\r\n'],
    ['a bare CR', 'HTTP/1.1 200 OK\r\nX-A: a\rb\r\n\r\n'],
    ['a bare LF in a value', 'HTTP/1.1 200 OK\r\nX-A: a\nb\r\nContent-Length: 0\r\n\r\n'],
    ['DEL in a value', 'HTTP/1.1 200 OK\r\nX-A: a\x7fb\r\nContent-Length: 0\r\n\r\n'],
    ['a CR just before the blank line', 'HTTP/1.1 200 OK\r\nX-A: a\r\r\n\r\n'],
    ['a line that is only a colon', 'HTTP/1.1 200 OK\r\n: v\r\nContent-Length: 0\r\n\r\n'],
    ['a bare LF in a name', 'HTTP/1.1 200 OK\r\nX-A\nX-Injected: v\r\nContent-Length: 0\r\n\r\n'],
    ['a space inside a name', 'HTTP/1.1 200 OK\r\nX A: v\r\nContent-Length: 0\r\n\r\n'],
    ['a byte above 0x7F in a name', 'HTTP/1.1 200 OK\r\nX-\xc4: v\r\nContent-Length: 0\r\n\r\n'],
    ['a bad status line', 'HTTP/2 200 OK\r\n\r\n'],
    ['a status out of range', 'HTTP/1.1 999 Nope\r\n\r\n'],
    ['a bad chunk size', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n'],
    ['chunk data not followed by CRLF', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n'],
    ['101 Switching Protocols unasked', 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n'],
  ])('refuses %s', (_name, raw) => {
    expect(() => parse(raw)).toThrow();
  });

  it('takes exactly the RFC 9110 token characters in a name, and HTAB/visible ASCII (or bytes above 0x7F) in a value', () => {
    const token = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
    for (let c = 0; c < 256; c++) {
      const ch = String.fromCharCode(c);
      // \r and : end a name anyway; skip them.
      if (ch !== '\r' && ch !== ':') {
        const head = `HTTP/1.1 200 OK\r\nX${ch}Y: v\r\nContent-Length: 0\r\n\r\n`;
        if (token.test(`X${ch}Y`)) expect(parse(head).headers[0], `name byte ${c}`).toBe(`X${ch}Y`);
        else expect(() => parse(head), `name byte ${c}`).toThrow();
      }
      if (ch !== '\r') {
        const head = `HTTP/1.1 200 OK\r\nX-V: a${ch}b\r\nContent-Length: 0\r\n\r\n`;
        const ok = c === 0x09 || (c >= 0x20 && c !== 0x7f);
        if (ok) expect(parse(head).headers[1], `value byte ${c}`).toBe(`a${ch}b`);
        else expect(() => parse(head), `value byte ${c}`).toThrow();
      }
    }
  });

  it('refuses a head larger than its limit without waiting for its end', () => {
    const p = new ResponseParser({ onHead: () => true, onBody: () => true, onEnd: () => undefined });
    p.maxHeadBytes = 1024;
    p.reset(false);
    p.feed(Buffer.from('HTTP/1.1 200 OK\r\n'));
    expect(() => p.feed(Buffer.from(`X-Big: ${'a'.repeat(2000)}`))).toThrow(/too large/);
  });
});
