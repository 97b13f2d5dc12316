import { SaxesParser } from 'saxes';
import { describe, expect, it } from 'vitest';
import type { CpuProfile } from './cpuprofile.js';
import { layoutFlameGraph, renderFlameGraph } from './flamegraph.js';
import { buildProfileSet } from './profile-set.js';
import { handMadeProfile } from './testdata/hand-made.js';

const ROOT = '/srv/portcullis';
const set = buildProfileSet([{ name: 'w', profile: handMadeProfile(ROOT) }], { root: ROOT });
// 1200 px wide, 10 px padding each side: 1180 px for 20 samples, 59 px per sample.
const layout = layoutFlameGraph(set, { title: 't' });
const rect = (label: string, depth?: number) => {
  const r = layout.rects.find((x) => x.label === label && (depth === undefined || x.depth === depth));
  if (r === undefined) throw new Error(`no frame ${label}`);
  return r;
};

function wellFormed(xml: string): void {
  const parser = new SaxesParser();
  parser.on('error', (err) => {
    throw err;
  });
  parser.write(xml).close();
}

describe('layoutFlameGraph', () => {
  it('gives every frame a width in proportion to its samples and its callees', () => {
    expect(layout.totalSamples).toBe(20);
    expect(layout.idleSamples).toBe(4);
    expect(rect('all threads')).toMatchObject({ depth: 0, x: 10, width: 1180, samples: 20 });
    expect(rect('onRequest perf/testdata/absent/listener.js:11')).toMatchObject({ depth: 1, x: 10, width: 14 * 59, samples: 14, self: 2 });
    expect(rect('handle perf/testdata/absent/runloop.js:31')).toMatchObject({ depth: 2, x: 10, width: 9 * 59, self: 3 });
    expect(rect('Request undici/lib/core/request.js:48')).toMatchObject({ depth: 3, x: 10, width: 6 * 59 });
    expect(rect('writeLatin1String')).toMatchObject({ depth: 4, x: 10, width: 4 * 59, self: 4 });
    // Siblings are placed widest first, left to right.
    expect(rect('emit node:events:471', 2)).toMatchObject({ x: 10 + 9 * 59, width: 3 * 59, self: 1 });
    expect(rect('emit node:events:471', 3)).toMatchObject({ x: 10 + 9 * 59, width: 2 * 59, self: 2 });
    expect(rect('(idle)')).toMatchObject({ depth: 1, x: 10 + 14 * 59, width: 4 * 59 });
    expect(rect('(garbage collector)')).toMatchObject({ x: 10 + 18 * 59, width: 59 });
    expect(rect('(program)')).toMatchObject({ x: 10 + 19 * 59, width: 59 });
  });

  it('stacks callees above their callers, the root at the bottom', () => {
    const rows = [0, 1, 2, 3, 4].map((d) => layout.rects.find((r) => r.depth === d)!.y);
    for (let d = 1; d < rows.length; d++) expect(rows[d]).toBe(rows[d - 1]! - 17);
    expect(layout.height).toBe(rows[0]! + 17 + 10);
  });

  it('labels a frame with its name and place when they fit, shortens or drops the text when not', () => {
    expect(rect('onRequest perf/testdata/absent/listener.js:11').text).toBe('onRequest perf/testdata/absent/listener.js:11');
    // 59 px hold 8 characters of the 11 px monospace font.
    expect(rect('(program)').text).toBe('(progr..');
    expect(rect('(garbage collector)').text).toBe('(garba..');
    const narrow = layoutFlameGraph(set, { title: 't', width: 220 });
    // 200 px for 20 samples: 10 px per sample, too little for any text in a 1-sample frame.
    expect(narrow.rects.find((r) => r.label === '(program)')!.text).toBe('');
  });

  it('leaves out frames narrower than minWidth, without moving the others', () => {
    const l = layoutFlameGraph(set, { title: 't', minWidth: 60 });
    expect(l.rects.some((r) => r.label === '(program)' || r.label === '(garbage collector)')).toBe(false);
    expect(l.rects.find((r) => r.label === '(idle)')).toMatchObject({ x: 10 + 14 * 59, width: 4 * 59 });
  });

  it('can leave idle out: the root is then the busy samples', () => {
    const busy = layoutFlameGraph(set, { title: 't', hideIdle: true });
    expect(busy.totalSamples).toBe(16);
    expect(busy.idleSamples).toBe(4);
    expect(busy.rects.some((r) => r.label === '(idle)')).toBe(false);
    // 1180 px for 16 samples.
    expect(busy.rects.find((r) => r.label.startsWith('onRequest'))!.width).toBeCloseTo((14 * 1180) / 16, 9);
    const svg = renderFlameGraph(set, { title: 't', hideIdle: true });
    expect(svg).toContain('14 samples: 70.00% of all, 87.50% of non-idle; 2 on top (self)');
  });

  it('colours by category', () => {
    const hue = (label: string) => Number(/^hsl\((\d+)/.exec(rect(label).fill)![1]);
    expect(hue('onRequest perf/testdata/absent/listener.js:11')).toBeLessThan(30); // ours: orange-red
    expect(hue('Request undici/lib/core/request.js:48')).toBe(208); // undici: blue
    expect(rect('(idle)').fill).toBe('hsl(0, 0%, 91%)');
    expect(rect('(garbage collector)').fill).toBe('hsl(330, 62%, 66%)');
    expect(layout.legend.map(([name]) => name)).toEqual([
      'our code',
      'undici',
      'node internals',
      'native (C++, builtins, RegExp, wasm)',
      '(program)',
      'GC',
      '(idle)',
    ]);
  });
});

describe('renderFlameGraph', () => {
  const svg = renderFlameGraph(set, { title: 'Hand-made <profile>', subtitle: ['20 samples'] });

  it('is well-formed SVG with the title, subtitle and legend', () => {
    wellFormed(svg);
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg" width="1200" height="175"')).toBe(true);
    expect(svg).toContain('>Hand-made &lt;profile&gt;</text>');
    expect(svg).toContain('>20 samples</text>');
    expect(svg).toContain('>our code</text>');
  });

  it('draws each frame as a rect of its width with its label and a tooltip', () => {
    const onRequest = rect('onRequest perf/testdata/absent/listener.js:11');
    expect(svg).toContain(`<rect x="10" y="${onRequest.y}" width="826" height="16"`);
    expect(svg).toContain('>onRequest perf/testdata/absent/listener.js:11</text>');
    expect(svg).toContain('<title>onRequest perf/testdata/absent/listener.js:11\n14 samples: 70.00% of all, 87.50% of non-idle; 2 on top (self)</title>');
    expect(svg).toContain(`<rect x="10" y="${rect('writeLatin1String').y}" width="236" height="16"`);
    expect(svg).toContain('>(progr..</text>');
    expect(svg.match(/<g><title>/g)).toHaveLength(layout.rects.length);
  });

  it('escapes names that are not safe in XML', () => {
    const p: CpuProfile = {
      nodes: [
        { id: 1, callFrame: { functionName: '(root)', url: '', lineNumber: -1 }, children: [2] },
        { id: 2, callFrame: { functionName: 'RegExp: ^<a & "b">$', url: '', lineNumber: -1 } },
      ],
      startTime: 0,
      endTime: 2,
      samples: [2, 2],
      timeDeltas: [1, 1],
    };
    const out = renderFlameGraph(buildProfileSet([{ name: 'x', profile: p }], { root: ROOT }), { title: 'a&b' });
    wellFormed(out);
    expect(out).toContain('RegExp: ^&lt;a &amp; &quot;b&quot;&gt;$');
  });
});
