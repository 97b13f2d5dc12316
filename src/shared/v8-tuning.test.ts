import { describe, expect, it } from 'vitest';
import { applyV8Tuning } from './v8-tuning.js';

describe('applyV8Tuning', () => {
  it('turns allocation-site pretenuring off unless the user set the flag either way', () => {
    expect(applyV8Tuning([], '')).toEqual(['--no-allocation-site-pretenuring']);
    expect(applyV8Tuning(['--allocation-site-pretenuring'], '')).toEqual([]);
    expect(applyV8Tuning(['--no-allocation-site-pretenuring'], '')).toEqual([]);
    expect(applyV8Tuning([], '--max-old-space-size=512 --allocation-site-pretenuring')).toEqual([]);
  });
});
