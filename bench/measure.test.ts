import { describe, expect, it } from 'vitest';
import { rateFromMaximum } from './measure.js';

describe('rateFromMaximum (the default open-loop rate)', () => {
  it('takes the fraction of the measured maximum, rounded to two significant digits', () => {
    expect(rateFromMaximum(26_242, 0.5)).toBe(13_000);
    expect(rateFromMaximum(47_900, 0.5)).toBe(24_000);
    expect(rateFromMaximum(1234, 0.3)).toBe(370);
    expect(rateFromMaximum(95, 0.5)).toBe(48);
    expect(rateFromMaximum(7, 0.5)).toBe(4);
  });

  it('never goes below 1 req/s', () => {
    expect(rateFromMaximum(0, 0.5)).toBe(1);
    expect(rateFromMaximum(Number.NaN, 0.5)).toBe(1);
  });
});
