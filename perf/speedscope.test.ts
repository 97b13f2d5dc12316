import { describe, expect, it } from 'vitest';
import { summarize } from './cpuprofile-top.js';
import { buildProfileSet } from './profile-set.js';
import { SPEEDSCOPE_SCHEMA, toSpeedscope } from './speedscope.js';
import { handMadeProfile } from './testdata/hand-made.js';

const ROOT = '/srv/portcullis';
const set = buildProfileSet(
  [
    { name: 'worker thread 1', profile: handMadeProfile(ROOT) },
    { name: 'worker thread 2', profile: handMadeProfile(ROOT) },
  ],
  { root: ROOT },
);
const file = toSpeedscope(set, 'hand-made');

describe('toSpeedscope', () => {
  it('writes the fields speedscope needs to recognise and load the file', () => {
    // speedscope identifies its own format by this exact $schema value.
    expect(file.$schema).toBe('https://www.speedscope.app/file-format-schema.json');
    expect(SPEEDSCOPE_SCHEMA).toBe(file.$schema);
    expect(file.name).toBe('hand-made');
    expect(file.activeProfileIndex).toBe(0);
    expect(Array.isArray(file.shared.frames)).toBe(true);
    for (const f of file.shared.frames) expect(typeof f.name).toBe('string');
    expect(file.profiles).toHaveLength(2);
    for (const p of file.profiles) {
      expect(Object.keys(p).sort()).toEqual(['endValue', 'name', 'samples', 'startValue', 'type', 'unit', 'weights']);
      expect(p.type).toBe('sampled');
      expect(p.unit).toBe('none');
    }
    expect(file.profiles.map((p) => p.name)).toEqual(['worker thread 1', 'worker thread 2']);
    // Plain JSON: survives a round trip unchanged.
    expect(JSON.parse(JSON.stringify(file))).toEqual(file);
  });

  it('has one weight per sample, summing to the samples of the thread', () => {
    for (const p of file.profiles) {
      expect(p.samples).toHaveLength(20);
      expect(p.weights).toHaveLength(20);
      expect(p.weights.reduce((a, b) => a + b, 0)).toBe(20);
      expect(p.startValue).toBe(0);
      expect(p.endValue).toBe(20);
    }
  });

  it('stacks are valid indices into the shared frames, outermost first', () => {
    const names = (stack: number[]) => stack.map((i) => file.shared.frames[i]!.name);
    for (const p of file.profiles) {
      for (const stack of p.samples) for (const i of stack) expect(i >= 0 && i < file.shared.frames.length && Number.isInteger(i)).toBe(true);
      // Sample 5 of the hand-made profile is the native write under undici's Request.
      expect(names(p.samples[4]!)).toEqual(['onRequest', 'handle', 'Request', 'writeLatin1String']);
      // The recursive emit keeps both frames.
      expect(names(p.samples[8]!)).toEqual(['onRequest', 'emit', 'emit']);
      expect(names(p.samples[10]!)).toEqual(['(program)']);
      // (idle) is an empty stack: speedscope's own idle, left out of its percentages.
      expect(p.samples[0]).toEqual([]);
      expect(p.samples.filter((s) => s.length === 0)).toHaveLength(4);
    }
    // Both threads share frame indices: the same function is the same frame.
    expect(file.profiles[0]!.samples[4]).toEqual(file.profiles[1]!.samples[4]);
  });

  it('frames carry their place: file, 1-based line and column', () => {
    const by = (name: string) => file.shared.frames.find((f) => f.name === name);
    expect(by('onRequest')).toEqual({ name: 'onRequest', file: 'perf/testdata/absent/listener.js', line: 11, col: 5 });
    expect(by('Request')).toEqual({ name: 'Request', file: 'undici/lib/core/request.js', line: 48, col: 3 });
    expect(by('writeLatin1String')).toEqual({ name: 'writeLatin1String' });
    const keys = file.shared.frames.map((f) => `${f.name}|${f.file}|${f.line}|${f.col}`);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('agrees with the tables: leaf counts are the self samples', () => {
    const leaves = new Map<string, number>();
    for (const p of file.profiles) {
      for (const s of p.samples) {
        const leaf = s[s.length - 1];
        if (leaf !== undefined) leaves.set(file.shared.frames[leaf]!.name, (leaves.get(file.shared.frames[leaf]!.name) ?? 0) + 1);
      }
    }
    for (const r of summarize(set).functions) expect(leaves.get(r.frame.name) ?? 0).toBe(r.self);
  });
});
