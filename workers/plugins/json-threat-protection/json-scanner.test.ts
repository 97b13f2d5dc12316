/**
 * The streaming JSON checker on its own: each limit at exactly the limit (passes) and one
 * over (refused, with the rule and where), the same verdict whatever the chunking (every
 * split position, 1- and 2-byte chunks, random chunks), a corpus of malformed documents,
 * prototype-pollution names found after decoding escapes, duplicate names and the bound
 * on their memory, and agreement with JSON.parse on generated documents.
 */
import { describe, expect, it } from 'vitest';
import { CompiledJsonLimits, JsonScanner, KEY_TRACKING_BUDGET, type JsonLimits, type JsonViolation } from './json-scanner.js';

const UNLIMITED: JsonLimits = {
  maxBodySize: Infinity,
  maxContainerDepth: Infinity,
  maxArrayElementCount: Infinity,
  maxObjectEntryCount: Infinity,
  maxObjectEntryNameLength: Infinity,
  maxStringValueLength: Infinity,
  allowDuplicateObjectEntryName: true,
  forbiddenObjectEntryNames: [],
};

function limits(over: Partial<JsonLimits> = {}): CompiledJsonLimits {
  return new CompiledJsonLimits({ ...UNLIMITED, ...over });
}

/** Scans `doc` in chunks of the given sizes (cycled); null when it passes, else the violation. */
function scan(doc: string | Buffer, l: CompiledJsonLimits = limits(), sizes: number[] = [Infinity]): JsonViolation | null {
  const buf = typeof doc === 'string' ? Buffer.from(doc, 'utf8') : doc;
  const s = new JsonScanner(l);
  let i = 0;
  let k = 0;
  while (i < buf.length) {
    const end = Math.min(buf.length, i + sizes[k++ % sizes.length]!);
    // A fresh copy per chunk, as a socket delivers it: nothing may be read past its end.
    if (!s.write(Buffer.from(buf.subarray(i, end)))) return s.violation;
    i = end;
  }
  return s.end() ? null : s.violation;
}

function rule(doc: string | Buffer, l?: CompiledJsonLimits): string | null {
  return scan(doc, l)?.rule ?? null;
}

/** Every way the verdict must not depend on chunking. */
function verdicts(doc: string | Buffer, l: CompiledJsonLimits): Array<string | null> {
  const buf = typeof doc === 'string' ? Buffer.from(doc, 'utf8') : doc;
  const out: Array<string | null> = [];
  const fmt = (v: JsonViolation | null) => (v === null ? null : `${v.rule}@${v.offset}`);
  out.push(fmt(scan(buf, l)), fmt(scan(buf, l, [1])), fmt(scan(buf, l, [2])), fmt(scan(buf, l, [3, 1, 7])));
  for (let cut = 1; cut < buf.length; cut++) out.push(fmt(scan(buf, l, [cut, Infinity])));
  for (let a = 1; a < buf.length; a += 3) for (let b = 1; a + b < buf.length; b += 5) out.push(fmt(scan(buf, l, [a, b, Infinity])));
  let seed = buf.length * 7919;
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  for (let t = 0; t < 20; t++) {
    const sizes = Array.from({ length: 16 }, () => 1 + Math.floor(rand() * 9));
    out.push(fmt(scan(buf, l, sizes)));
  }
  return out;
}

describe('valid JSON passes, in any chunking', () => {
  const docs = [
    '{"name":"Jason","age":20,"gender":"male","parents":["Joseph","Viva"]}',
    '  [1, -0, 0.5, -12.75e+3, 1E-7, 0e0, true, false, null, "", {}, []]  ',
    '"a lone string"',
    '42',
    '-0.0e-0',
    'null',
    '{"é\\u00e9":"\\ud83d\\ude00 😀 日本語 \\"q\\" \\\\ \\/ \\b\\f\\n\\r\\t","k":{"k":{"k":[[[]]]}}}',
    '{"a":1,"b":[{"c":"d"},{"c":"e"}],"\\u0000":"\\u0000"}',
    '\r\n\t{ "spaced" : [ 1 , 2 ] }\n',
  ];
  for (const doc of docs) {
    it(`passes ${JSON.stringify(doc).slice(0, 60)}`, () => {
      expect(JSON.parse(doc)).toBeDefined();
      expect(new Set(verdicts(doc, limits()))).toEqual(new Set([null]));
    });
  }

  it('passes an empty body (no document to check)', () => {
    expect(scan('')).toBeNull();
  });
});

describe('malformed JSON is refused as invalid_json, in any chunking', () => {
  const bad: Array<[string | Buffer, string]> = [
    ['{', 'unterminated container'],
    ['[1,2', 'unterminated container'],
    ['{"a":1', 'unterminated container'],
    ['"abc', 'unterminated string'],
    ['"abc\\', 'unterminated string'],
    ['"\\u12', 'unterminated string'],
    ['   ', 'no JSON value'],
    ['{} {}', 'data after the JSON value'],
    ['[1] x', 'data after the JSON value'],
    ['1 2', 'data after the JSON value'],
    ['{"a":1}}', 'data after the JSON value'],
    ['[1,]', 'expected a value'],
    ['{"a":1,}', 'expected an entry name'],
    ['[,1]', 'expected a value'],
    ['{a:1}', 'expected an entry name'],
    ["{'a':1}", 'expected an entry name'],
    ['{"a" 1}', "expected ':'"],
    ['{"a":}', 'expected a value'],
    ['[1 2]', "expected ',' or a closing bracket"],
    ['[1}', "unexpected '}'"],
    ['{"a":1]', "unexpected ']'"],
    ['01', 'leading zero'],
    ['[-01]', 'leading zero'],
    ['00', 'leading zero'],
    ['+1', 'expected a value'],
    ['.5', 'expected a value'],
    ['1.', 'truncated value'],
    ['[1.]', "a digit must follow '.'"],
    ['[1.e5]', "a digit must follow '.'"],
    ['[1e]', 'invalid exponent'],
    ['[1e+]', 'invalid exponent'],
    ['-', 'truncated value'],
    ['[-]', "a digit must follow '-'"],
    ['[NaN]', 'expected a value'],
    ['[Infinity]', 'expected a value'],
    ['[tru]', 'invalid literal'],
    ['[nul', 'unterminated container'],
    ['[True]', 'expected a value'],
    ['["\\x"]', 'invalid escape'],
    ['["\\U0041"]', 'invalid escape'],
    ['["\\u00g1"]', 'invalid \\u escape'],
    ['["\\ud800"]', 'lone surrogate escape'],
    ['["\\ud800\\n"]', 'lone surrogate escape'],
    ['["\\ud800\\u0041"]', 'lone surrogate escape'],
    ['["\\udc00"]', 'lone surrogate escape'],
    ['["a\tb"]', 'control character in string'],
    ['["a\nb"]', 'control character in string'],
    ['["\u0000"]', 'control character in string'],
    [Buffer.from([0x5b, 0x22, 0xff, 0x22, 0x5d]), 'invalid UTF-8 in string'],
    [Buffer.from([0x22, 0xc0, 0xaf, 0x22]), 'invalid UTF-8 in string'], // overlong '/'
    [Buffer.from([0x22, 0xe0, 0x80, 0xaf, 0x22]), 'invalid UTF-8 in string'], // overlong
    [Buffer.from([0x22, 0xed, 0xa0, 0x80, 0x22]), 'invalid UTF-8 in string'], // encoded surrogate
    [Buffer.from([0x22, 0xf4, 0x90, 0x80, 0x80, 0x22]), 'invalid UTF-8 in string'], // > U+10FFFF
    [Buffer.from([0x22, 0xc3, 0x22]), 'invalid UTF-8 in string'], // truncated sequence
    [Buffer.from([0x22, 0x80, 0x22]), 'invalid UTF-8 in string'], // stray continuation
    [Buffer.from([0x22, 0xe6, 0x97]), 'unterminated string'],
    [Buffer.from([0xef, 0xbb, 0xbf, 0x7b, 0x7d]), 'byte-order mark'],
    ['/* c */ {}', 'expected a value'],
    ['{"a":1}// c', 'data after the JSON value'],
    ['[1]\u0000', 'data after the JSON value'],
  ];
  for (const [doc, detail] of bad) {
    it(`refuses ${JSON.stringify(typeof doc === 'string' ? doc : doc.toString('latin1'))}: ${detail}`, () => {
      // Lone surrogate escapes are the one thing here JSON.parse accepts: we do not (they are
      // not Unicode characters, and parsers disagree on them).
      if (detail !== 'lone surrogate escape') {
        expect(() => JSON.parse(typeof doc === 'string' ? doc : new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(doc))).toThrow();
      }
      const whole = scan(doc);
      expect(whole).toMatchObject({ rule: 'invalid_json', detail });
      expect(new Set(verdicts(doc, limits()))).toEqual(new Set([`invalid_json@${whole!.offset}`]));
    });
  }

  it('reports where: the byte offset and depth of the error', () => {
    expect(scan('{"a":[1,2,x]}')).toEqual({ rule: 'invalid_json', detail: 'expected a value', offset: 10, depth: 2 });
  });
});

describe('each limit: exactly the limit passes, one more is refused (any chunking)', () => {
  const cases: Array<{ name: keyof JsonLimits; rule: string; at: number; ok: string; over: string }> = [
    { name: 'maxContainerDepth', rule: 'max_container_depth', at: 3, ok: '[{"a":[1]}]', over: '[{"a":[[1]]}]' },
    { name: 'maxContainerDepth', rule: 'max_container_depth', at: 1, ok: '{"a":1,"b":2}', over: '{"a":{}}' },
    { name: 'maxContainerDepth', rule: 'max_container_depth', at: 0, ok: '"scalar"', over: '[]' },
    { name: 'maxArrayElementCount', rule: 'max_array_element_count', at: 3, ok: '[[1,2,3],[4,5,6]]', over: '[[1,2,3],[4,5,6,7]]' },
    { name: 'maxArrayElementCount', rule: 'max_array_element_count', at: 2, ok: '{"a":[{},[]]}', over: '{"a":[{},[],"x"]}' },
    { name: 'maxObjectEntryCount', rule: 'max_object_entry_count', at: 2, ok: '{"a":1,"b":{"c":1,"d":2}}', over: '{"a":1,"b":{"c":1,"d":2,"e":3}}' },
    { name: 'maxObjectEntryNameLength', rule: 'max_object_entry_name_length', at: 7, ok: '{"parents":1}', over: '{"parentss":1}' },
    { name: 'maxObjectEntryNameLength', rule: 'max_object_entry_name_length', at: 3, ok: '{"é日😀":1}', over: '{"é日😀x":1}' },
    { name: 'maxObjectEntryNameLength', rule: 'max_object_entry_name_length', at: 3, ok: '{"\\u00e9\\ud83d\\ude00\\n":1}', over: '{"\\u00e9\\ud83d\\ude00\\n\\t":1}' },
    { name: 'maxStringValueLength', rule: 'max_string_value_length', at: 6, ok: '["Joseph","Viva"]', over: '["Josephh"]' },
    { name: 'maxStringValueLength', rule: 'max_string_value_length', at: 4, ok: '{"k":"😀😀é\\u00e9"}', over: '{"k":"😀😀é\\u00e9x"}' },
    { name: 'maxStringValueLength', rule: 'max_string_value_length', at: 2, ok: '["\\ud83d\\ude00\\ud83d\\ude00"]', over: '["\\ud83d\\ude00\\ud83d\\ude00a"]' },
    { name: 'maxBodySize', rule: 'max_body_size', at: 13, ok: '{"a":"12345"}', over: '{"a":"123456"}' },
  ];
  for (const c of cases) {
    it(`${c.rule} = ${c.at}: ${c.ok} passes, ${c.over} is refused`, () => {
      const l = limits({ [c.name]: c.at });
      expect(new Set(verdicts(c.ok, l))).toEqual(new Set([null]));
      const v = scan(c.over, l);
      expect(v?.rule).toBe(c.rule);
      expect(new Set(verdicts(c.over, l))).toEqual(new Set([`${c.rule}@${v!.offset}`]));
    });
  }

  it('names and string values are counted apart: a long name does not count as a long string', () => {
    expect(rule('{"abcdef":"ab"}', limits({ maxStringValueLength: 2 }))).toBeNull();
    expect(rule('{"ab":"abcdef"}', limits({ maxObjectEntryNameLength: 2 }))).toBeNull();
    expect(rule('["abcdef"]', limits({ maxObjectEntryNameLength: 2 }))).toBeNull();
  });

  it('stops at the first violation, mid-string, without waiting for the string to end', () => {
    const s = new JsonScanner(limits({ maxStringValueLength: 10 }));
    expect(s.write(Buffer.from('["0123456789'))).toBe(true);
    expect(s.write(Buffer.from('abc'))).toBe(false);
    expect(s.violation).toMatchObject({ rule: 'max_string_value_length', offset: 12 });
    expect(s.write(Buffer.from('"]'))).toBe(false);
    expect(s.end()).toBe(false);
  });

  it('counts streamed bytes against max_body_size, across chunks', () => {
    const s = new JsonScanner(limits({ maxBodySize: 10 }));
    expect(s.write(Buffer.from('[1,2,3,'))).toBe(true);
    expect(s.write(Buffer.from('4,5'))).toBe(true);
    expect(s.write(Buffer.from(']'))).toBe(false);
    expect(s.violation).toMatchObject({ rule: 'max_body_size', offset: 10 });
  });
});

describe('prototype-pollution entry names (forbidden_object_entry_names)', () => {
  const l = limits({ forbiddenObjectEntryNames: ['__proto__', 'constructor', 'prototype'] });

  it('refuses them at any depth, also written with escapes, in any chunking', () => {
    for (const doc of [
      '{"__proto__":{"isAdmin":true}}',
      '{"a":[{"b":{"constructor":{"prototype":{}}}}]}',
      '{"x":1,"prototype":1}',
      '{"__pro\\u0074o__":{}}',
      '{"\\u005f\\u005fproto\\u005f\\u005f":1}',
      '{"constructo\\u0072":1}',
    ]) {
      const v = scan(doc, l);
      expect(v?.rule, doc).toBe('forbidden_object_entry_names');
      expect(new Set(verdicts(doc, l))).toEqual(new Set([`forbidden_object_entry_names@${v!.offset}`]));
    }
    expect(scan('{"__pro\\u0074o__":{}}', l)?.detail).toBe('__proto__');
  });

  it('lets similar names and string values through', () => {
    for (const doc of ['{"__proto":1,"proto__":1,"_proto_":1,"Constructor":1,"constructors":1,"prototyp":1}', '["__proto__","constructor"]', '{"a":"__proto__"}']) {
      expect(rule(doc, l), doc).toBeNull();
    }
  });

  it('is off with an empty list', () => {
    expect(rule('{"__proto__":{}}', limits({ forbiddenObjectEntryNames: [] }))).toBeNull();
  });
});

describe('duplicate entry names (allow_duplicate_object_entry_name: false)', () => {
  const l = limits({ allowDuplicateObjectEntryName: false });

  it('refuses a repeated name in one object, also when written differently (escapes)', () => {
    for (const doc of ['{"a":1,"a":2}', '{"a":1,"\\u0061":2}', '{"é":1,"\\u00e9":2}', '{"x":{"k":1,"b":2,"k":3}}', '[{"a":1},{"b":1,"c":{"d":1},"b":2}]']) {
      const v = scan(doc, l);
      expect(v?.rule, doc).toBe('allow_duplicate_object_entry_name');
      expect(new Set(verdicts(doc, l))).toEqual(new Set([`allow_duplicate_object_entry_name@${v!.offset}`]));
    }
  });

  it('lets the same name in different objects (siblings, nesting) through', () => {
    for (const doc of ['{"a":{"a":{"a":1}},"b":[{"a":1},{"a":2}]}', '[{"k":1},{"k":1}]', '{"a":1,"A":2,"a ":3}']) {
      expect(new Set(verdicts(doc, l)), doc).toEqual(new Set([null]));
    }
    expect(rule('{"a":1,"a":2}', limits())).toBeNull();
  });

  it('bounds the memory it keeps: past the budget the document is refused (fails closed)', () => {
    // Unique names in one object, each costing its bytes + overhead: just over the budget.
    const per = 11 + 32;
    const n = Math.ceil(KEY_TRACKING_BUDGET / per) + 10;
    const parts: string[] = [];
    for (let i = 0; i < n; i++) parts.push(`"k${String(i).padStart(10, '0')}":0`);
    const doc = `{${parts.join(',')}}`;
    expect(scan(doc, l)?.rule).toBe('duplicate_check_budget');
    // The same names spread over closed objects never hold more than one object's names.
    const spread = `[${parts.map((p) => `{${p}}`).join(',')}]`;
    expect(scan(spread, l)).toBeNull();
    // And an entry-count limit refuses such an object long before the budget matters.
    expect(scan(doc, limits({ allowDuplicateObjectEntryName: false, maxObjectEntryCount: 1000 }))?.rule).toBe('max_object_entry_count');
  });
});

describe('agreement with JSON.parse on generated documents', () => {
  let seed = 12345;
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  const pick = <T>(a: readonly T[]): T => a[Math.floor(rand() * a.length)]!;
  const strings = ['', 'a', 'é', '日本', '😀', '"', '\\', '\n', '\u0000', '\u2028', 'x'.repeat(40)];
  function value(depth: number): unknown {
    const r = rand();
    if (depth > 3 || r < 0.4) return pick<unknown>([0, -1, 1.5, -2.5e-8, 1e21, true, false, null, ...strings]);
    if (r < 0.7) return Array.from({ length: Math.floor(rand() * 4) }, () => value(depth + 1));
    const o: Record<string, unknown> = {};
    for (let k = Math.floor(rand() * 4); k > 0; k--) o[pick(strings) + k] = value(depth + 1);
    return o;
  }

  it('passes 300 generated valid documents in 1-byte and random chunks, and refuses their truncations', () => {
    for (let t = 0; t < 300; t++) {
      const doc = JSON.stringify(value(0), null, t % 3 === 0 ? 1 : undefined);
      const buf = Buffer.from(doc, 'utf8');
      expect(scan(buf, limits(), [1])).toBeNull();
      expect(scan(buf, limits(), [1 + (t % 5), 3])).toBeNull();
      // Any strict prefix of a container document is incomplete.
      if (doc.startsWith('{') || doc.startsWith('[')) {
        const cut = Math.floor(rand() * buf.length);
        expect(scan(buf.subarray(0, cut), limits())?.rule ?? 'passed', doc.slice(0, cut)).toBe(cut === 0 ? 'passed' : 'invalid_json');
      }
    }
  });

  it('agrees with JSON.parse on random token soup (valid or not), whatever the chunking', () => {
    const atoms = ['{', '}', '[', ']', ',', ':', '"', '\\', '"a"', '"\\u00e9"', '1', '0', '-', '.', 'e', '+', '01', '1.5', '-0', 'true', 'null', 'tru', ' ', '"é"', '"\\x"', '"\t"', '1.', '.5'];
    const dec = new TextDecoder('utf-8', { fatal: true });
    let checked = 0;
    for (let t = 0; t < 20000; t++) {
      let s = '';
      for (let k = 1 + Math.floor(rand() * 8); k > 0; k--) s += pick(atoms);
      let expected: boolean;
      try {
        JSON.parse(dec.decode(Buffer.from(s)));
        expected = true;
      } catch {
        expected = false;
      }
      expect(scan(s) === null, s).toBe(expected);
      expect(scan(s, limits(), [1 + (t % 3)]) === null, s).toBe(expected);
      checked++;
    }
    expect(checked).toBe(20000);
  });
});
