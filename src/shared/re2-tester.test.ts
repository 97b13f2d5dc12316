import RE2 from 're2';
import { describe, expect, it } from 'vitest';
import { Re2Tester } from './re2-tester.js';

describe('Re2Tester', () => {
  const cases: Array<[string, string[]]> = [
    ['^SKU-[0-9]{5}$', ['SKU-00001', 'SKU-0001', 'xSKU-00001', '']],
    ['^\\p{L}+$', ['héllo', 'hello1', 'Ωmega', '😀']],
    ['^.$', ['😀', 'é', 'ab', '']],
    ['[a-z]+@[a-z]+\\.com', ['me@x.com', 'ME@X.COM', 'a long prefix me@example.com suffix']],
    ['(?i)abc', ['ABC', 'aBc', 'ab']],
  ];
  it.each(cases)('%s gives the same answers as RE2 on strings', (source, inputs) => {
    const t = new Re2Tester(source);
    const r = new RE2(source, 'u');
    for (const s of inputs) expect(t.test(s), s).toBe(r.test(s));
  });

  it('handles strings longer than its scratch buffer', () => {
    const t = new Re2Tester('^a+b$');
    expect(t.test(`${'a'.repeat(10_000)}b`)).toBe(true);
    expect(t.test(`${'a'.repeat(10_000)}c`)).toBe(false);
  });

  it('stays linear time on a pattern that makes backtracking engines explode', () => {
    const t = new Re2Tester('^(a+)+$');
    expect(t.test(`${'a'.repeat(50)}!`)).toBe(false);
  });

  it('refuses stateful flags', () => {
    expect(() => new Re2Tester('a', 'g')).toThrow(/not supported/);
  });
});
