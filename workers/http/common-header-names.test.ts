import { describe, expect, it } from 'vitest';
import { COMMON_HEADER_NAMES, commonHeaderName } from './common-header-names.js';

const LOWERCASE_TOKEN = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/;

describe('commonHeaderName', () => {
  it('answers a listed name with an equal string, and anything else with undefined', () => {
    for (const n of COMMON_HEADER_NAMES) expect(commonHeaderName(n), n).toBe(n);
    for (const n of ['Host', 'x-custom', '', 'host ', 'constructor', '__proto__', 'toString']) {
      expect(commonHeaderName(n), JSON.stringify(n)).toBeUndefined();
    }
  });

  it('lists only lowercase tokens, once each (the guard skips its token check for them)', () => {
    for (const n of COMMON_HEADER_NAMES) expect(LOWERCASE_TOKEN.test(n), n).toBe(true);
    expect(new Set(COMMON_HEADER_NAMES).size).toBe(COMMON_HEADER_NAMES.length);
  });
});
