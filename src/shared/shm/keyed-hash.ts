/**
 * A keyed 96-bit hash of string parts for the shared-memory tables: HalfSipHash-1-3
 * (Aumasson and Bernstein's 32-bit SipHash variant) fed with 32-bit words, extended to
 * three output words. The key is random per gateway process (the supervisor draws it and
 * stores it in the table header), so a client cannot compute, offline, identifiers that
 * collide with someone else's counter.
 *
 * Input encoding: each part's UTF-16 code units, two per word (the last one alone when the
 * length is odd), then a terminator word `0x80000000 | length`. Reading the words back from
 * the end (the last terminator gives the last part's length, and so on) recovers the parts,
 * so different part lists never produce the same word sequence. The finalisation absorbs
 * the word count, as SipHash absorbs the message length.
 *
 * Hot path: the parts known at config time (route id, service id) are absorbed once into a
 * prefix state (`hashPrefix`); per request only the identifier is absorbed (`hashWith`),
 * reading characters straight from the string: no key string is built.
 */

/** Prefix state: v0, v1, v2, v3 and the number of words absorbed so far. */
export type HashPrefix = Int32Array;

const C_ROUNDS = 1;
const D_ROUNDS = 3;

function rounds(st: Int32Array, n: number): void {
  let v0 = st[0]!;
  let v1 = st[1]!;
  let v2 = st[2]!;
  let v3 = st[3]!;
  for (let r = 0; r < n; r++) {
    v0 = (v0 + v1) | 0;
    v1 = (v1 << 5) | (v1 >>> 27);
    v1 ^= v0;
    v0 = (v0 << 16) | (v0 >>> 16);
    v2 = (v2 + v3) | 0;
    v3 = (v3 << 8) | (v3 >>> 24);
    v3 ^= v2;
    v0 = (v0 + v3) | 0;
    v3 = (v3 << 7) | (v3 >>> 25);
    v3 ^= v0;
    v2 = (v2 + v1) | 0;
    v1 = (v1 << 13) | (v1 >>> 19);
    v1 ^= v2;
    v2 = (v2 << 16) | (v2 >>> 16);
  }
  st[0] = v0;
  st[1] = v1;
  st[2] = v2;
  st[3] = v3;
}

function absorbWord(st: Int32Array, m: number): void {
  st[3] = st[3]! ^ m;
  rounds(st, C_ROUNDS);
  st[0] = st[0]! ^ m;
  st[4] = (st[4]! + 1) | 0;
}

function absorbString(st: Int32Array, s: string): void {
  const len = s.length;
  let i = 0;
  for (; i + 1 < len; i += 2) absorbWord(st, s.charCodeAt(i) | (s.charCodeAt(i + 1) << 16));
  if (i < len) absorbWord(st, s.charCodeAt(i));
  absorbWord(st, 0x80000000 | len);
}

/** The state after absorbing `parts` with the 64-bit key (k0, k1). Not for hot paths. */
export function hashPrefix(k0: number, k1: number, parts: readonly string[]): HashPrefix {
  const st = new Int32Array(5);
  st[0] = k0;
  st[1] = k1 ^ 0xee;
  st[2] = 0x6c796765 ^ k0;
  st[3] = 0x74656462 ^ k1;
  for (const p of parts) absorbString(st, p);
  return st;
}

/** Hashes the parts of `prefix` followed by `s` into out[0..2] (three 32-bit words). */
export function hashWith(prefix: HashPrefix, s: string, out: Int32Array): void {
  let v0 = prefix[0]!;
  let v1 = prefix[1]!;
  let v2 = prefix[2]!;
  let v3 = prefix[3]!;
  let words = prefix[4]!;
  const len = s.length;
  // Words of `s`, then its terminator, then the word count (finalisation).
  const total = (len + 1) >> 1;
  for (let w = 0; w <= total + 1; w++) {
    let m: number;
    if (w < total) {
      const i = w << 1;
      m = i + 1 < len ? s.charCodeAt(i) | (s.charCodeAt(i + 1) << 16) : s.charCodeAt(i);
    } else if (w === total) {
      m = 0x80000000 | len;
    } else {
      m = words;
    }
    words = (words + 1) | 0;
    v3 ^= m;
    // C_ROUNDS = 1
    v0 = (v0 + v1) | 0;
    v1 = (v1 << 5) | (v1 >>> 27);
    v1 ^= v0;
    v0 = (v0 << 16) | (v0 >>> 16);
    v2 = (v2 + v3) | 0;
    v3 = (v3 << 8) | (v3 >>> 24);
    v3 ^= v2;
    v0 = (v0 + v3) | 0;
    v3 = (v3 << 7) | (v3 >>> 25);
    v3 ^= v0;
    v2 = (v2 + v1) | 0;
    v1 = (v1 << 13) | (v1 >>> 19);
    v1 ^= v2;
    v2 = (v2 << 16) | (v2 >>> 16);
    v0 ^= m;
  }
  // Three output words, each after D_ROUNDS more rounds (SipHash's 0xee/0xdd, then 0xcc).
  let fin = 0xee;
  for (let o = 0; o < 3; o++) {
    if (o === 0) v2 ^= fin;
    else v1 ^= fin;
    for (let r = 0; r < D_ROUNDS; r++) {
      v0 = (v0 + v1) | 0;
      v1 = (v1 << 5) | (v1 >>> 27);
      v1 ^= v0;
      v0 = (v0 << 16) | (v0 >>> 16);
      v2 = (v2 + v3) | 0;
      v3 = (v3 << 8) | (v3 >>> 24);
      v3 ^= v2;
      v0 = (v0 + v3) | 0;
      v3 = (v3 << 7) | (v3 >>> 25);
      v3 ^= v0;
      v2 = (v2 + v1) | 0;
      v1 = (v1 << 13) | (v1 >>> 19);
      v1 ^= v2;
      v2 = (v2 << 16) | (v2 >>> 16);
    }
    out[o] = v1 ^ v3;
    fin = o === 0 ? 0xdd : 0xcc;
  }
}
