import { describe, expect, it } from 'vitest';
import { formatDuration, renderBar, renderProgressLine } from './progress.js';

describe('progress bar', () => {
  it('fills in proportion and clamps', () => {
    expect(renderBar(0, 10)).toBe('░'.repeat(10));
    expect(renderBar(0.5, 10)).toBe('█'.repeat(5) + '░'.repeat(5));
    expect(renderBar(1.7, 4)).toBe('████');
    expect(renderBar(Number.NaN, 4)).toBe('░░░░');
  });

  it('formats the time left', () => {
    expect(formatDuration(5)).toBe('5s');
    expect(formatDuration(75)).toBe('1m15s');
    expect(formatDuration(3725)).toBe('1h02m');
    expect(formatDuration(-3)).toBe('0s');
  });

  it('shows the percentage, the step, the phase and the time left, within the terminal width', () => {
    const line = renderProgressLine({ fraction: 0.42, label: '3/11 key-auth · nginx', phase: 'measuring 4/10 s', leftSec: 130 }, 200);
    expect(line).toBe(`[${'█'.repeat(10)}${'░'.repeat(14)}]  42%  3/11 key-auth · nginx · measuring 4/10 s  ~2m10s left`);
    const narrow = renderProgressLine({ fraction: 0.42, label: 'x'.repeat(100), phase: '', leftSec: 1 }, 60);
    expect(narrow.length).toBeLessThanOrEqual(59);
    expect(narrow.endsWith('…')).toBe(true);
  });
});
