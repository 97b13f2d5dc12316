/**
 * A profile set as a speedscope file (https://www.speedscope.app/file-format-schema.json): one
 * "sampled" profile per thread over one shared frame list. Open it at https://www.speedscope.app
 * (drag the file in; nothing is uploaded) or with `npx speedscope FILE`.
 *
 * Each sample weighs 1 (unit "none": speedscope shows sample counts; one sample is one
 * --cpu-prof-interval, 1 ms by default). (idle) samples are empty stacks, which speedscope
 * treats as idle: its percentages are then of the non-idle samples, like our tables.
 */
import type { ProfileSet } from './profile-set.js';

export const SPEEDSCOPE_SCHEMA = 'https://www.speedscope.app/file-format-schema.json';

export interface SpeedscopeFrame {
  name: string;
  file?: string;
  line?: number;
  col?: number;
}

export interface SpeedscopeSampledProfile {
  type: 'sampled';
  name: string;
  unit: 'none';
  startValue: number;
  endValue: number;
  /** Stacks of indices into shared.frames, outermost frame first. */
  samples: number[][];
  weights: number[];
}

export interface SpeedscopeFile {
  $schema: typeof SPEEDSCOPE_SCHEMA;
  shared: { frames: SpeedscopeFrame[] };
  profiles: SpeedscopeSampledProfile[];
  name: string;
  activeProfileIndex: number;
  exporter: string;
}

export function toSpeedscope(set: ProfileSet, name: string): SpeedscopeFile {
  const frames: SpeedscopeFrame[] = set.frames.map((f) => {
    const out: SpeedscopeFrame = { name: f.name };
    if (f.file !== '') out.file = f.file;
    if (f.line > 0) out.line = f.line;
    if (f.col > 0) out.col = f.col;
    return out;
  });
  const profiles = set.threads.map((t): SpeedscopeSampledProfile => {
    const stacks = t.stacks.map((stack) => {
      const leaf = stack[stack.length - 1];
      return leaf !== undefined && set.frames[leaf]!.category === 'idle' ? [] : stack;
    });
    return {
      type: 'sampled',
      name: t.name,
      unit: 'none',
      startValue: 0,
      endValue: t.samples.length,
      samples: t.samples.map((s) => stacks[s]!),
      weights: t.samples.map(() => 1),
    };
  });
  return { $schema: SPEEDSCOPE_SCHEMA, shared: { frames }, profiles, name, activeProfileIndex: 0, exporter: 'portcullis perf/speedscope.ts' };
}
