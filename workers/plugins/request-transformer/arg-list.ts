/**
 * An `a=1&b=2` argument list (a query string or an application/x-www-form-urlencoded body)
 * for request-transformer's edits, with Kong's shapes (kong.request.get_query /
 * ngx.decode_args): names and values compared after percent-decoding (`+` is a space), a
 * bare `flag` is the value `true`, a repeated name has several values.
 *
 * Arguments keep their position, and an argument no edit touched is written back exactly
 * as the client sent it (Kong re-encodes the whole list from a Lua table, in hash order,
 * and keeps only the first 100 arguments of a form body). New values are percent-encoded
 * like ngx.encode_args: everything but letters, digits and `-_.~`.
 */
import { decodeComponent } from '../../http/query.js';

export type ArgValue = string | true;

interface Arg {
  name: string;
  value: ArgValue;
  /** The segment as received, or null for an argument this list wrote. */
  raw: string | null;
}

export class ArgList {
  private args: Arg[];
  /** Whether any edit was made. */
  changed = false;

  private constructor(args: Arg[]) {
    this.args = args;
  }

  static parse(text: string): ArgList {
    const args: Arg[] = [];
    if (text !== '') {
      for (const raw of text.split('&')) {
        if (raw === '') continue;
        const eq = raw.indexOf('=');
        args.push({
          name: decodeComponent(eq < 0 ? raw : raw.slice(0, eq)),
          value: eq < 0 ? true : decodeComponent(raw.slice(eq + 1)),
          raw,
        });
      }
    }
    return new ArgList(args);
  }

  has(name: string): boolean {
    return this.args.some((a) => a.name === name);
  }

  /** Name/value pairs in order (for merging a form body into the query). */
  entries(): Array<[string, ArgValue]> {
    return this.args.map((a) => [a.name, a.value]);
  }

  /** Removes every argument of that name. */
  remove(name: string): boolean {
    const kept = this.args.filter((a) => a.name !== name);
    if (kept.length === this.args.length) return false;
    this.args = kept;
    this.changed = true;
    return true;
  }

  /** Every value of `from` moves to `to` (whose own values are dropped, as Kong's tbl[new] = tbl[old]). */
  rename(from: string, to: string): boolean {
    if (from === to || !this.has(from)) return false;
    this.args = this.args.filter((a) => a.name !== to);
    for (const a of this.args) {
      if (a.name === from) {
        a.name = to;
        a.raw = null;
      }
    }
    this.changed = true;
    return true;
  }

  /** Replaces all values of an existing argument by one value, at its first position. */
  replace(name: string, value: string): boolean {
    const first = this.args.findIndex((a) => a.name === name);
    if (first < 0) return false;
    const out: Arg[] = [];
    for (let i = 0; i < this.args.length; i++) {
      const a = this.args[i]!;
      if (a.name !== name) out.push(a);
      else if (i === first) out.push({ name, value, raw: null });
    }
    this.args = out;
    this.changed = true;
    return true;
  }

  /** Adds an argument that is not there. */
  add(name: string, value: string): boolean {
    if (this.has(name)) return false;
    this.push(name, value);
    return true;
  }

  /** Adds one more value (Kong's append: the old values are kept). */
  push(name: string, value: ArgValue): void {
    this.args.push({ name, value, raw: null });
    this.changed = true;
  }

  toString(): string {
    let out = '';
    for (let i = 0; i < this.args.length; i++) {
      const a = this.args[i]!;
      if (i > 0) out += '&';
      out += a.raw ?? (a.value === true ? encodeArg(a.name) : `${encodeArg(a.name)}=${encodeArg(a.value)}`);
    }
    return out;
  }
}

/** ngx.escape_uri for arguments: only ALPHA / DIGIT / "-" / "." / "_" / "~" stay as they are. */
export function encodeArg(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}
