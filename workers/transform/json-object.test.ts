/**
 * Top-level member edits of JSON documents: what the transformers rely on to change one
 * property without touching another (exact bytes of untouched values, big integers),
 * duplicate names merged as JSON.parse reads them, escaped names, prototype names, and the
 * refusal of what is not JSON. The colon-pair split is Kong's `^([^:]+):*(.-)$`.
 */
import { describe, expect, it } from 'vitest';
import { isHeaderName, isHeaderValue, splitPair } from './colon-pair.js';
import { appendToArray, JsonMembers, kindOfRaw, parseJsonObject } from './json-object.js';

function members(text: string): JsonMembers {
  const p = parseJsonObject(text);
  if (!(p instanceof JsonMembers)) throw new Error(`not an object: ${p}`);
  return p;
}

describe('parseJsonObject', () => {
  it('keeps every value as the exact text that was sent', () => {
    const text = '{ "id" : 12345678901234567890123 , "price":1.0,"e":1E+3,\n"s":"caf\\u00e9 \\"x\\"", "nested": { "a" : [1, {"b":"}"}] }, "n":null,"t":true }';
    const doc = members(text);
    expect(doc.raw('id')).toBe('12345678901234567890123');
    expect(doc.raw('price')).toBe('1.0');
    expect(doc.raw('e')).toBe('1E+3');
    expect(doc.raw('s')).toBe('"caf\\u00e9 \\"x\\""');
    expect(doc.raw('nested')).toBe('{ "a" : [1, {"b":"}"}] }');
    expect(doc.raw('n')).toBe('null');
    expect(doc.raw('t')).toBe('true');
    expect(doc.changed).toBe(false);
    doc.delete('t');
    expect(doc.toString()).toBe(
      '{"id":12345678901234567890123,"price":1.0,"e":1E+3,"s":"caf\\u00e9 \\"x\\"","nested":{ "a" : [1, {"b":"}"}] },"n":null}',
    );
    // What went out is still the same document, minus the property.
    const again = JSON.parse(doc.toString()) as Record<string, unknown>;
    expect(again['s']).toBe('café "x"');
    expect(Object.keys(again)).toEqual(['id', 'price', 'e', 's', 'nested', 'n']);
  });

  it('merges repeated names as JSON.parse does: last value, first position; edits never leave a duplicate', () => {
    const doc = members('{"role":"admin","a":1,"role":"user"}');
    expect(doc.raw('role')).toBe('"user"');
    expect(doc.size).toBe(2);
    doc.delete('role');
    expect(doc.toString()).toBe('{"a":1}');
  });

  it('compares names after decoding their escapes', () => {
    const doc = members('{"rol\\u0065":"admin","x\\"y":1}');
    expect(doc.has('role')).toBe(true);
    expect(doc.has('x"y')).toBe(true);
    doc.rename('x"y', 'z');
    expect(doc.toString()).toBe('{"role":"admin","z":1}');
  });

  it('treats __proto__ and constructor as plain names', () => {
    const doc = members('{"__proto__":{"polluted":1},"constructor":2}');
    expect(doc.has('__proto__')).toBe(true);
    expect(doc.has('toString')).toBe(false);
    doc.delete('__proto__');
    expect(doc.toString()).toBe('{"constructor":2}');
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });

  it("tells what is not JSON from JSON that is not an object", () => {
    for (const bad of ['', '{', '{"a":1,}', "{'a':1}", '{"a":01}', '{"a":1} x', 'nul']) expect(parseJsonObject(bad)).toBe('invalid');
    for (const other of ['[1,2]', '"s"', '3', 'null', ' true ']) expect(parseJsonObject(other)).toBe('not-object');
    expect(members(' {} ').toString()).toBe('{}');
    expect(members('\t{\r\n}\n').size).toBe(0);
  });

  it('edits: set adds at the end, rename moves and replaces, changed tracks real edits', () => {
    const doc = members('{"a":1,"b":2,"c":3}');
    expect(doc.rename('zz', 'y')).toBe(false);
    expect(doc.delete('zz')).toBe(false);
    expect(doc.rename('a', 'a')).toBe(false);
    expect(doc.changed).toBe(false);
    doc.rename('a', 'c');
    expect(doc.toString()).toBe('{"b":2,"c":1}');
    doc.set('d', '"x"');
    expect(doc.toString()).toBe('{"b":2,"c":1,"d":"x"}');
    expect(doc.changed).toBe(true);
  });

  it('appends to array texts, empty or not, keeping their inner spacing', () => {
    expect(appendToArray('[]', '1')).toBe('[1]');
    expect(appendToArray('[ \n ]', '1')).toBe('[ \n 1]');
    expect(appendToArray('[1, 2 ]', '"x"')).toBe('[1, 2 ,"x"]');
    expect(JSON.parse(appendToArray('[1, 2 ]', '"x"'))).toEqual([1, 2, 'x']);
  });

  it('knows the kind of a value from its text', () => {
    expect(['"a"', '{}', '[]', 'true', 'false', 'null', '-1', '0.5'].map(kindOfRaw)).toEqual([
      'string',
      'object',
      'array',
      'boolean',
      'boolean',
      'null',
      'number',
      'number',
    ]);
  });
});

describe("colon pairs (Kong's ^([^:]+):*(.-)$)", () => {
  it('splits at the first colon and skips the colons after it', () => {
    expect(splitPair('x-url:http://a:8080/b')).toEqual({ name: 'x-url', value: 'http://a:8080/b' });
    expect(splitPair('a::b')).toEqual({ name: 'a', value: 'b' });
    expect(splitPair('a:')).toEqual({ name: 'a', value: '' });
    expect(splitPair('a')).toEqual({ name: 'a', value: '' });
    expect(splitPair(':a')).toBeNull();
    expect(splitPair('')).toBeNull();
  });

  it("checks header names as Kong does, and header values for anything that would break the head", () => {
    expect(['X-Foo', 'x_foo-1'].every(isHeaderName)).toBe(true);
    expect(['x foo', 'x:foo', 'é', ''].some(isHeaderName)).toBe(false);
    expect(['plain', 'a\tb', 'café', ''].every(isHeaderValue)).toBe(true);
    expect(['a\r\nb: c', 'a\nb', 'a\0', 'a\x7f'].some(isHeaderValue)).toBe(false);
  });
});
