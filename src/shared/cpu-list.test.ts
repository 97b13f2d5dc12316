import { describe, expect, it } from 'vitest';
import { parseCpuAffinity } from '../cli/options.js';
import { formatCpuList, parseCpuList } from './cpu-list.js';

describe('parseCpuList (the --cpu-affinity LIST)', () => {
  it('reads single ids and inclusive ranges, in the order written', () => {
    expect(parseCpuList('0,1')).toEqual([0, 1]);
    expect(parseCpuList('0-3')).toEqual([0, 1, 2, 3]);
    expect(parseCpuList('6, 0-2 ,4')).toEqual([6, 0, 1, 2, 4]);
    expect(parseCpuList('1,0')).toEqual([1, 0]);
    expect(parseCpuList('3-3')).toEqual([3]);
  });

  it('refuses what is not a core list, saying which part is wrong', () => {
    expect(() => parseCpuList('')).toThrow(/empty list/);
    expect(() => parseCpuList('0,,1')).toThrow(/'' is not a core id/);
    expect(() => parseCpuList('a')).toThrow(/'a' is not a core id/);
    expect(() => parseCpuList('-1')).toThrow(/'-1' is not a core id/);
    expect(() => parseCpuList('1.5')).toThrow(/'1.5'/);
    expect(() => parseCpuList('3-1')).toThrow(/'3-1': a range goes from the lower id/);
    expect(() => parseCpuList('0-')).toThrow(/'0-'/);
    expect(() => parseCpuList('70000')).toThrow(/core ids go up to 65535/);
  });

  it('formats a set the way the kernel prints Cpus_allowed_list', () => {
    expect(formatCpuList([3, 0, 1, 2, 6])).toBe('0-3,6');
    expect(formatCpuList([1])).toBe('1');
    expect(formatCpuList([0, 2, 2, 4, 5])).toBe('0,2,4-5');
    expect(formatCpuList([])).toBe('');
  });
});

describe('parseCpuAffinity (the flag value)', () => {
  it("takes 'off', 'auto' (any case) or a list", () => {
    const errors: string[] = [];
    expect(parseCpuAffinity('off', errors)).toBe('off');
    expect(parseCpuAffinity('AUTO', errors)).toBe('auto');
    expect(parseCpuAffinity('0-1,3', errors)).toEqual([0, 1, 3]);
    expect(errors).toEqual([]);
  });

  it('reports a bad value as a settings error', () => {
    const errors: string[] = [];
    expect(parseCpuAffinity('on', errors)).toBe('off');
    expect(errors).toEqual([`cpu-affinity: expected 'off', 'auto' or core ids like 0,1 or 0-3: 'on' is not a core id or a range like 0-3`]);
  });
});
