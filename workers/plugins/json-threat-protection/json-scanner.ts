/**
 * A streaming JSON checker: a byte-level tokenizer and state machine that validates RFC 8259
 * JSON and enforces structural limits as the bytes arrive, in chunks split anywhere (inside a
 * string, an escape, a UTF-8 sequence, a number or a literal). It never builds the document
 * and never calls JSON.parse: memory is the container stack (one byte and one counter per
 * open level) plus, only when duplicate names are refused, the names of the open objects'
 * entries (bounded by KEY_TRACKING_BUDGET). It stops at the first violation.
 *
 * Strictness (what JSON.parse and Kong's parser refuse, and a few things a lenient parser
 * lets through that a gateway should not): leading zeros, `+1`, `.5`, `1.`, NaN/Infinity,
 * trailing commas, single quotes, comments, a byte-order mark, control characters in
 * strings, invalid escapes, lone UTF-16 surrogate escapes, invalid or overlong UTF-8 (and
 * UTF-8-encoded surrogates), anything after the top-level value.
 *
 * Lengths of strings and entry names are counted in Unicode characters of the decoded value
 * (Kong: "based on UTF-8 characters, not bytes"): `\u00e9` and the two raw bytes of `é` are
 * one character each, an escaped surrogate pair is one character.
 */

/** The limits, with "unlimited" as Infinity (Kong's -1). */
export interface JsonLimits {
  maxBodySize: number;
  maxContainerDepth: number;
  maxArrayElementCount: number;
  maxObjectEntryCount: number;
  maxObjectEntryNameLength: number;
  maxStringValueLength: number;
  allowDuplicateObjectEntryName: boolean;
  /** Entry names refused wherever they appear (compared after decoding escapes). */
  forbiddenObjectEntryNames: readonly string[];
}

/** Which rule a document broke. Limit rules carry the config field's name. */
export type JsonRule =
  | 'max_body_size'
  | 'max_container_depth'
  | 'max_array_element_count'
  | 'max_object_entry_count'
  | 'max_object_entry_name_length'
  | 'max_string_value_length'
  | 'allow_duplicate_object_entry_name'
  | 'forbidden_object_entry_names'
  | 'duplicate_check_budget'
  | 'invalid_json'
  /** The scanner itself failed (never expected): refused, fail closed. */
  | 'internal_error';

export interface JsonViolation {
  rule: JsonRule;
  /** What exactly (for invalid_json: which syntax error; for limits: the limit). */
  detail: string;
  /** Byte offset in the body where it was detected. */
  offset: number;
  /** Container depth at that point. */
  depth: number;
}

/**
 * Bytes of entry names kept for duplicate detection across all open objects, each name
 * counted with NAME_OVERHEAD for its set slot. A document that needs more is refused
 * (rule duplicate_check_budget): the check fails closed rather than grow without bound.
 */
export const KEY_TRACKING_BUDGET = 1 << 20;
const NAME_OVERHEAD = 32;

// Parser states.
const ST_VALUE = 0; // a value must come (top level, after ':' and after ',' in an array)
const ST_ARRAY_FIRST = 1; // after '[': a value or ']'
const ST_OBJECT_FIRST = 2; // after '{': a name or '}'
const ST_NAME = 3; // after ',' in an object: a name
const ST_COLON = 4; // after a name: ':'
const ST_AFTER = 5; // after a value: ',' or the closer (at top level: only whitespace)
const ST_STRING = 6; // inside a string (a name or a value)
const ST_ESCAPE = 7; // after '\'
const ST_HEX = 8; // inside the 4 hex digits of \u
const ST_LOW_BACKSLASH = 9; // after a high surrogate escape: '\' must follow
const ST_LOW_U = 10; // then 'u'
const ST_LITERAL = 11; // inside true / false / null
const ST_NUM_MINUS = 12; // after '-': a digit must follow
const ST_NUM_ZERO = 13; // after a leading 0: '.', 'e' or the end (no more digits)
const ST_NUM_INT = 14; // integer digits
const ST_NUM_DOT = 15; // after '.': a digit must follow
const ST_NUM_FRAC = 16; // fraction digits
const ST_NUM_E = 17; // after 'e': a sign or a digit
const ST_NUM_E_SIGN = 18; // after the exponent's sign: a digit
const ST_NUM_EXP = 19; // exponent digits
const ST_FAILED = 20;

const ARRAY = 0;
const OBJECT = 1;

const LITERALS = [Buffer.from('true'), Buffer.from('false'), Buffer.from('null')];

/** Byte classes inside a string: 0 plain ASCII, 1 '"', 2 '\', 3 control, 4.. UTF-8 leads. */
const STRING_CLASS = new Uint8Array(256);
for (let c = 0; c < 0x20; c++) STRING_CLASS[c] = 3;
STRING_CLASS[0x22] = 1;
STRING_CLASS[0x5c] = 2;
for (let c = 0x80; c < 0x100; c++) STRING_CLASS[c] = 4;

/** Decoded byte of a one-character escape, or 0 for an invalid escape (`\u` is handled apart). */
const SIMPLE_ESCAPE = new Uint8Array(256);
SIMPLE_ESCAPE[0x22] = 0x22; // \"
SIMPLE_ESCAPE[0x5c] = 0x5c; // \\
SIMPLE_ESCAPE[0x2f] = 0x2f; // \/
SIMPLE_ESCAPE[0x62] = 0x08; // \b
SIMPLE_ESCAPE[0x66] = 0x0c; // \f
SIMPLE_ESCAPE[0x6e] = 0x0a; // \n
SIMPLE_ESCAPE[0x72] = 0x0d; // \r
SIMPLE_ESCAPE[0x74] = 0x09; // \t

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const l = c | 0x20;
  if (l >= 0x61 && l <= 0x66) return l - 0x57;
  return -1;
}

function isWhitespace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

/**
 * The limits compiled once per plugin instance (at create()), shared by every request's
 * scanner.
 */
export class CompiledJsonLimits {
  readonly maxBodySize: number;
  readonly maxDepth: number;
  readonly maxArray: number;
  readonly maxEntries: number;
  readonly maxNameLength: number;
  readonly maxStringLength: number;
  readonly trackDuplicates: boolean;
  readonly forbidden: readonly Buffer[];
  /** Longest forbidden name in UTF-8 bytes: names longer than that are not compared. */
  readonly forbiddenMaxBytes: number;
  /** Entry names are decoded and kept (for the forbidden names or duplicates). */
  readonly keepNames: boolean;

  constructor(l: JsonLimits) {
    this.maxBodySize = l.maxBodySize;
    this.maxDepth = l.maxContainerDepth;
    this.maxArray = l.maxArrayElementCount;
    this.maxEntries = l.maxObjectEntryCount;
    this.maxNameLength = l.maxObjectEntryNameLength;
    this.maxStringLength = l.maxStringValueLength;
    this.trackDuplicates = !l.allowDuplicateObjectEntryName;
    this.forbidden = l.forbiddenObjectEntryNames.map((n) => Buffer.from(n, 'utf8'));
    this.forbiddenMaxBytes = this.forbidden.reduce((m, b) => Math.max(m, b.length), 0);
    this.keepNames = this.trackDuplicates || this.forbidden.length > 0;
  }
}

/**
 * One document's scan. write() each chunk in order, then end(); both return true while the
 * document is acceptable so far, false once `violation` is set (later calls keep returning
 * false).
 */
export class JsonScanner {
  violation: JsonViolation | null = null;
  /** Body bytes seen so far. */
  bytes = 0;

  private state = ST_VALUE;
  private depth = 0;
  private types = new Uint8Array(16);
  private counts = new Uint32Array(16);
  /** Is the current string an entry name? */
  private inName = false;
  /** Characters of the current string so far. */
  private strLen = 0;
  /** UTF-8 continuation bytes still due, and the allowed range of the next one. */
  private utfNeed = 0;
  private utfLo = 0x80;
  private utfHi = 0xbf;
  /** \uXXXX: digits read and the value so far; the pending high surrogate (or -1). */
  private hexCount = 0;
  private hexValue = 0;
  private highSurrogate = -1;
  private literal: Buffer = LITERALS[0]!;
  private literalPos = 0;
  /** Decoded bytes of the current entry name, when names are compared or tracked. */
  private name: Buffer;
  private nameLen = 0;
  /** The current name is longer than what we keep (it cannot be a forbidden one). */
  private nameOverflow = false;
  /** Duplicate detection: the names of each open object, and the bytes they cost. */
  private nameSets: Array<Set<string> | undefined> | null = null;
  private nameSetBytes: number[] | null = null;
  private trackedBytes = 0;

  constructor(private readonly limits: CompiledJsonLimits) {
    this.name = Buffer.allocUnsafe(limits.trackDuplicates ? 64 : Math.max(1, limits.forbiddenMaxBytes + 4));
    if (limits.trackDuplicates) {
      this.nameSets = [];
      this.nameSetBytes = [];
    }
  }

  /** Scans one chunk. */
  write(buf: Uint8Array): boolean {
    if (this.state === ST_FAILED) return false;
    const start = this.bytes;
    const n = buf.length;
    this.bytes = start + n;
    if (this.bytes > this.limits.maxBodySize) {
      return this.fail('max_body_size', `more than ${this.limits.maxBodySize} bytes`, this.limits.maxBodySize);
    }
    const L = this.limits;
    let state = this.state;
    let i = 0;
    while (i < n) {
      const c = buf[i]!;
      switch (state) {
        case ST_STRING: {
          // The hot loop: plain characters of a string until something needs attention.
          const inName = this.inName;
          const limit = inName ? L.maxNameLength : L.maxStringLength;
          const keep = inName && L.keepNames && !this.nameOverflow;
          // Name bytes go straight into the buffer while they fit under `room`; the slow path
          // (keepNameByte) grows it, checks the budget or gives up past the forbidden names.
          const name = this.name;
          const room = L.trackDuplicates ? name.length : Math.min(name.length, L.forbiddenMaxBytes);
          let len = this.strLen;
          let need = this.utfNeed;
          let j = i;
          if (need === 0) {
            // The common case: a run of plain ASCII characters, counted at once (and, in an
            // entry name compared only with the forbidden names, copied while it could match).
            if (!keep) {
              while (j < n && STRING_CLASS[buf[j]!] === 0) j++;
            } else if (!L.trackDuplicates) {
              let nl = this.nameLen;
              for (; j < n; j++) {
                const b = buf[j]!;
                if (STRING_CLASS[b] !== 0) break;
                if (nl < room) name[nl++] = b;
                else this.nameOverflow = true;
              }
              this.nameLen = nl;
            }
            if (len + (j - i) > limit) return this.failLength(start + i + (limit - len), inName, limit);
            len += j - i;
          }
          for (; j < n; j++) {
            const b = buf[j]!;
            if (need !== 0) {
              if (b < this.utfLo || b > this.utfHi) return this.failAt(start + j, 'invalid_json', 'invalid UTF-8 in string');
              need--;
              this.utfLo = 0x80;
              this.utfHi = 0xbf;
              if (keep && !this.keepNameByte(b, start + j)) return false;
              continue;
            }
            const cls = STRING_CLASS[b]!;
            if (cls === 0) {
              if (++len > limit) return this.failLength(start + j, inName, limit);
              if (keep) {
                const nl = this.nameLen;
                if (nl < room && this.name === name) {
                  name[nl] = b;
                  this.nameLen = nl + 1;
                } else if (!this.keepNameByte(b, start + j)) return false;
              }
              continue;
            }
            if (cls === 4) {
              // A UTF-8 lead byte: one character, with its continuation bytes to check.
              if (b < 0xc2 || b > 0xf4) return this.failAt(start + j, 'invalid_json', 'invalid UTF-8 in string');
              if (b < 0xe0) need = 1;
              else if (b < 0xf0) {
                need = 2;
                if (b === 0xe0) this.utfLo = 0xa0;
                else if (b === 0xed) this.utfHi = 0x9f; // no UTF-8-encoded surrogates
              } else {
                need = 3;
                if (b === 0xf0) this.utfLo = 0x90;
                else if (b === 0xf4) this.utfHi = 0x8f; // nothing above U+10FFFF
              }
              if (++len > limit) return this.failLength(start + j, inName, limit);
              if (keep && !this.keepNameByte(b, start + j)) return false;
              continue;
            }
            break;
          }
          this.strLen = len;
          this.utfNeed = need;
          if (j === n) {
            i = n;
            break;
          }
          const b = buf[j]!;
          const cls = STRING_CLASS[b]!;
          if (cls === 1) {
            i = j + 1;
            if (inName) {
              if (!this.nameEnded(start + j)) return false;
              state = ST_COLON;
            } else {
              state = ST_AFTER;
            }
          } else if (cls === 2) {
            i = j + 1;
            state = ST_ESCAPE;
          } else {
            return this.failAt(start + j, 'invalid_json', 'control character in string');
          }
          break;
        }

        case ST_AFTER:
          if (isWhitespace(c)) {
            i++;
            break;
          }
          if (this.depth === 0) return this.failAt(start + i, 'invalid_json', 'data after the JSON value');
          if (c === 0x2c) {
            state = this.types[this.depth - 1] === ARRAY ? ST_VALUE : ST_NAME;
          } else if (c === 0x5d) {
            if (this.types[this.depth - 1] !== ARRAY) return this.failAt(start + i, 'invalid_json', "unexpected ']'");
            this.pop();
          } else if (c === 0x7d) {
            if (this.types[this.depth - 1] !== OBJECT) return this.failAt(start + i, 'invalid_json', "unexpected '}'");
            this.pop();
          } else {
            return this.failAt(start + i, 'invalid_json', "expected ',' or a closing bracket");
          }
          i++;
          break;

        case ST_VALUE:
        case ST_ARRAY_FIRST:
          if (isWhitespace(c)) {
            i++;
            break;
          }
          if (c === 0x5d && state === ST_ARRAY_FIRST) {
            this.pop();
            state = ST_AFTER;
            i++;
            break;
          }
          // A value starts: it is one more element of the array it is in.
          if (this.depth !== 0 && this.types[this.depth - 1] === ARRAY) {
            const count = this.counts[this.depth - 1]! + 1;
            this.counts[this.depth - 1] = count;
            if (count > L.maxArray) return this.failAt(start + i, 'max_array_element_count', `more than ${L.maxArray} elements`);
          }
          if (c === 0x22) {
            this.inName = false;
            this.strLen = 0;
            state = ST_STRING;
          } else if (c === 0x7b) {
            if (!this.push(OBJECT, start + i)) return false;
            state = ST_OBJECT_FIRST;
          } else if (c === 0x5b) {
            if (!this.push(ARRAY, start + i)) return false;
            state = ST_ARRAY_FIRST;
          } else if (c === 0x2d) {
            state = ST_NUM_MINUS;
          } else if (c === 0x30) {
            state = ST_NUM_ZERO;
          } else if (c >= 0x31 && c <= 0x39) {
            state = ST_NUM_INT;
          } else if (c === 0x74 || c === 0x66 || c === 0x6e) {
            this.literal = LITERALS[c === 0x74 ? 0 : c === 0x66 ? 1 : 2]!;
            this.literalPos = 1;
            state = ST_LITERAL;
          } else {
            return this.failAt(start + i, 'invalid_json', c === 0xef && start + i === 0 ? 'byte-order mark' : 'expected a value');
          }
          i++;
          break;

        case ST_OBJECT_FIRST:
        case ST_NAME:
          if (isWhitespace(c)) {
            i++;
            break;
          }
          if (c === 0x7d && state === ST_OBJECT_FIRST) {
            this.pop();
            state = ST_AFTER;
          } else if (c === 0x22) {
            const count = this.counts[this.depth - 1]! + 1;
            this.counts[this.depth - 1] = count;
            if (count > L.maxEntries) return this.failAt(start + i, 'max_object_entry_count', `more than ${L.maxEntries} entries`);
            this.inName = true;
            this.strLen = 0;
            this.nameLen = 0;
            this.nameOverflow = false;
            state = ST_STRING;
          } else {
            return this.failAt(start + i, 'invalid_json', 'expected an entry name');
          }
          i++;
          break;

        case ST_COLON:
          if (isWhitespace(c)) {
            i++;
            break;
          }
          if (c !== 0x3a) return this.failAt(start + i, 'invalid_json', "expected ':'");
          state = ST_VALUE;
          i++;
          break;

        case ST_ESCAPE: {
          if (c === 0x75) {
            this.hexCount = 0;
            this.hexValue = 0;
            state = ST_HEX;
            i++;
            break;
          }
          const decoded = SIMPLE_ESCAPE[c]!;
          if (decoded === 0) return this.failAt(start + i, 'invalid_json', 'invalid escape');
          if (!this.escapedChar(decoded, start + i)) return false;
          state = ST_STRING;
          i++;
          break;
        }

        case ST_HEX: {
          const h = hexValue(c);
          if (h < 0) return this.failAt(start + i, 'invalid_json', 'invalid \\u escape');
          this.hexValue = (this.hexValue << 4) | h;
          i++;
          if (++this.hexCount < 4) break;
          const v = this.hexValue;
          if (this.highSurrogate >= 0) {
            if (v < 0xdc00 || v > 0xdfff) return this.failAt(start + i - 1, 'invalid_json', 'lone surrogate escape');
            const cp = 0x10000 + ((this.highSurrogate - 0xd800) << 10) + (v - 0xdc00);
            this.highSurrogate = -1;
            if (!this.escapedChar(cp, start + i - 1)) return false;
            state = ST_STRING;
          } else if (v >= 0xd800 && v <= 0xdbff) {
            this.highSurrogate = v;
            state = ST_LOW_BACKSLASH;
          } else if (v >= 0xdc00 && v <= 0xdfff) {
            return this.failAt(start + i - 1, 'invalid_json', 'lone surrogate escape');
          } else {
            if (!this.escapedChar(v, start + i - 1)) return false;
            state = ST_STRING;
          }
          break;
        }

        case ST_LOW_BACKSLASH:
          if (c !== 0x5c) return this.failAt(start + i, 'invalid_json', 'lone surrogate escape');
          state = ST_LOW_U;
          i++;
          break;

        case ST_LOW_U:
          if (c !== 0x75) return this.failAt(start + i, 'invalid_json', 'lone surrogate escape');
          this.hexCount = 0;
          this.hexValue = 0;
          state = ST_HEX;
          i++;
          break;

        case ST_LITERAL: {
          const lit = this.literal;
          if (c !== lit[this.literalPos]) return this.failAt(start + i, 'invalid_json', 'invalid literal');
          i++;
          if (++this.literalPos === lit.length) state = ST_AFTER;
          break;
        }

        case ST_NUM_MINUS:
          if (c === 0x30) state = ST_NUM_ZERO;
          else if (c >= 0x31 && c <= 0x39) state = ST_NUM_INT;
          else return this.failAt(start + i, 'invalid_json', "a digit must follow '-'");
          i++;
          break;

        case ST_NUM_ZERO:
        case ST_NUM_INT:
        case ST_NUM_FRAC:
          if (c >= 0x30 && c <= 0x39) {
            if (state === ST_NUM_ZERO) return this.failAt(start + i, 'invalid_json', 'leading zero');
            // Digits: consume the run at once.
            i++;
            while (i < n && buf[i]! >= 0x30 && buf[i]! <= 0x39) i++;
            break;
          }
          if (c === 0x2e && state !== ST_NUM_FRAC) {
            state = ST_NUM_DOT;
            i++;
          } else if (c === 0x65 || c === 0x45) {
            state = ST_NUM_E;
            i++;
          } else {
            state = ST_AFTER; // the number ended: this byte is looked at again
          }
          break;

        case ST_NUM_DOT:
          if (c < 0x30 || c > 0x39) return this.failAt(start + i, 'invalid_json', "a digit must follow '.'");
          state = ST_NUM_FRAC;
          i++;
          break;

        case ST_NUM_E:
          if (c === 0x2b || c === 0x2d) state = ST_NUM_E_SIGN;
          else if (c >= 0x30 && c <= 0x39) state = ST_NUM_EXP;
          else return this.failAt(start + i, 'invalid_json', 'invalid exponent');
          i++;
          break;

        case ST_NUM_E_SIGN:
          if (c < 0x30 || c > 0x39) return this.failAt(start + i, 'invalid_json', 'invalid exponent');
          state = ST_NUM_EXP;
          i++;
          break;

        case ST_NUM_EXP:
          if (c >= 0x30 && c <= 0x39) {
            i++;
            while (i < n && buf[i]! >= 0x30 && buf[i]! <= 0x39) i++;
          } else {
            state = ST_AFTER;
          }
          break;

        default:
          return false;
      }
    }
    this.state = state;
    return true;
  }

  /** The body is complete: is the document too? */
  end(): boolean {
    const s = this.state;
    if (s === ST_FAILED) return false;
    if (this.bytes === 0) return true; // no body at all: nothing to check
    if (this.depth === 0 && (s === ST_AFTER || s === ST_NUM_ZERO || s === ST_NUM_INT || s === ST_NUM_FRAC || s === ST_NUM_EXP)) return true;
    let detail: string;
    if (s === ST_VALUE && this.depth === 0) detail = 'no JSON value';
    else if (s >= ST_STRING && s <= ST_LOW_U) detail = 'unterminated string';
    else if (this.depth > 0) detail = 'unterminated container';
    else detail = 'truncated value';
    return this.failAt(this.bytes, 'invalid_json', detail);
  }

  // -------------------------------------------------------------------------------------

  private push(type: number, offset: number): boolean {
    const d = this.depth;
    if (d + 1 > this.limits.maxDepth) return this.failAt(offset, 'max_container_depth', `deeper than ${this.limits.maxDepth}`);
    if (d === this.types.length) {
      const types = new Uint8Array(d * 2);
      types.set(this.types);
      this.types = types;
      const counts = new Uint32Array(d * 2);
      counts.set(this.counts);
      this.counts = counts;
    }
    this.types[d] = type;
    this.counts[d] = 0;
    this.depth = d + 1;
    return true;
  }

  private pop(): void {
    const d = --this.depth;
    const sets = this.nameSets;
    if (sets !== null && sets[d] !== undefined) {
      sets[d] = undefined;
      this.trackedBytes -= this.nameSetBytes![d]!;
      this.nameSetBytes![d] = 0;
    }
  }

  /** A character from an escape (its code point): counted, and kept if it is in a name. */
  private escapedChar(cp: number, offset: number): boolean {
    const inName = this.inName;
    const limit = inName ? this.limits.maxNameLength : this.limits.maxStringLength;
    if (++this.strLen > limit) return this.failLength(offset, inName, limit);
    if (!inName || this.nameOverflow || !this.limits.keepNames) return true;
    if (cp < 0x80) return this.keepNameByte(cp, offset);
    if (cp < 0x800) return this.keepNameByte(0xc0 | (cp >> 6), offset) && this.keepNameByte(0x80 | (cp & 0x3f), offset);
    if (cp < 0x10000) {
      return this.keepNameByte(0xe0 | (cp >> 12), offset) && this.keepNameByte(0x80 | ((cp >> 6) & 0x3f), offset) && this.keepNameByte(0x80 | (cp & 0x3f), offset);
    }
    return (
      this.keepNameByte(0xf0 | (cp >> 18), offset) &&
      this.keepNameByte(0x80 | ((cp >> 12) & 0x3f), offset) &&
      this.keepNameByte(0x80 | ((cp >> 6) & 0x3f), offset) &&
      this.keepNameByte(0x80 | (cp & 0x3f), offset)
    );
  }

  /** Appends one decoded byte of the current name (UTF-8), within the tracking bounds. */
  private keepNameByte(b: number, offset: number): boolean {
    const len = this.nameLen;
    if (!this.limits.trackDuplicates) {
      // Only compared with the forbidden names: past the longest one it cannot match.
      if (len >= this.limits.forbiddenMaxBytes) {
        this.nameOverflow = true;
        return true;
      }
    } else if (this.trackedBytes + len + 1 + NAME_OVERHEAD > KEY_TRACKING_BUDGET) {
      return this.failAt(offset, 'duplicate_check_budget', `entry names of open objects exceed ${KEY_TRACKING_BUDGET} bytes`);
    }
    if (len === this.name.length) {
      const grown = Buffer.allocUnsafe(len * 2);
      this.name.copy(grown, 0, 0, len);
      this.name = grown;
    }
    this.name[len] = b;
    this.nameLen = len + 1;
    return true;
  }

  /** The closing quote of an entry name: forbidden names, then duplicates. */
  private nameEnded(offset: number): boolean {
    const len = this.nameLen;
    const L = this.limits;
    if (!L.keepNames) return true;
    if (!this.nameOverflow && len <= L.forbiddenMaxBytes) {
      const forbidden = L.forbidden;
      for (let k = 0; k < forbidden.length; k++) {
        const f = forbidden[k]!;
        if (f.length === len && this.name.compare(f, 0, len, 0, len) === 0) {
          return this.failAt(offset, 'forbidden_object_entry_names', f.toString('utf8'));
        }
      }
    }
    if (L.trackDuplicates) {
      const d = this.depth - 1;
      const sets = this.nameSets!;
      let set = sets[d];
      if (set === undefined) {
        set = new Set<string>();
        sets[d] = set;
        this.nameSetBytes![d] = 0;
      }
      // latin1 maps each byte to one UTF-16 unit: equal strings iff equal decoded bytes.
      const key = this.name.toString('latin1', 0, len);
      if (set.has(key)) return this.failAt(offset, 'allow_duplicate_object_entry_name', 'duplicate entry name');
      const cost = len + NAME_OVERHEAD;
      if (this.trackedBytes + cost > KEY_TRACKING_BUDGET) {
        return this.failAt(offset, 'duplicate_check_budget', `entry names of open objects exceed ${KEY_TRACKING_BUDGET} bytes`);
      }
      set.add(key);
      this.nameSetBytes![d] = this.nameSetBytes![d]! + cost;
      this.trackedBytes += cost;
    }
    return true;
  }

  private failLength(offset: number, inName: boolean, limit: number): boolean {
    return inName
      ? this.failAt(offset, 'max_object_entry_name_length', `entry name longer than ${limit} characters`)
      : this.failAt(offset, 'max_string_value_length', `string longer than ${limit} characters`);
  }

  private fail(rule: JsonRule, detail: string, offset: number): boolean {
    return this.failAt(offset, rule, detail);
  }

  private failAt(offset: number, rule: JsonRule, detail: string): boolean {
    this.violation = { rule, detail, offset, depth: this.depth };
    this.state = ST_FAILED;
    return false;
  }
}
