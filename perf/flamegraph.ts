/**
 * An SVG flame graph of a profile set: the stacks of every thread merged into one tree by frame
 * (function name, script and position), root at the bottom, callees above their callers. A
 * frame's width is its samples (its own plus its callees'); siblings are sorted widest first.
 * Colours say where the code lives (see `CATEGORY_COLOURS` and perf/README.md); hovering a frame
 * shows its name, place and share. No script: it opens in any browser or image viewer.
 */
import { frameLabel, groupOf, UWS_PACKAGE, type Frame } from './frames.js';
import { stackCounts, type ProfileSet } from './profile-set.js';

export interface FlameGraphOptions {
  title: string;
  /** Lines under the title (scenario, load, sample counts…). */
  subtitle?: string[];
  /** Total width in px (default 1200). */
  width?: number;
  /** Frames narrower than this (px) are not drawn; their samples stay in their parent (default 0.3). */
  minWidth?: number;
  /** Leave (idle) samples out, so the width is the busy time only (default false: idle is a frame). */
  hideIdle?: boolean;
}

export interface FlameRect {
  frame: Frame | null;
  /** "all threads" for the root, else frameLabel(frame). */
  label: string;
  depth: number;
  x: number;
  y: number;
  width: number;
  /** Samples of this frame and its callees, on this path. */
  samples: number;
  /** Samples with this frame on top, on this path. */
  self: number;
  /** The text drawn inside the frame ('' when nothing fits). */
  text: string;
  fill: string;
}

export interface FlameLayout {
  width: number;
  height: number;
  rects: FlameRect[];
  /** Samples the root stands for (without idle ones under hideIdle). */
  totalSamples: number;
  /** (idle) samples, drawn or not. */
  idleSamples: number;
  /** Legend entries actually present: [name, colour]. */
  legend: [string, string][];
}

const PAD = 10;
const ROW = 17;
const FONT_PX = 11;
/** Advance of one character of the monospace font at FONT_PX. */
const CHAR_PX = FONT_PX * 0.6;
const HEADER = 80;

interface TreeNode {
  frame: number;
  total: number;
  children: Map<number, TreeNode>;
}

function hash(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}

/** Base hue/saturation per category; lightness varies a little per function so neighbours differ. */
export function colourOf(f: Frame, vary = true): string {
  const j = vary ? hash(f.name) % 12 : 6;
  switch (f.category) {
    case 'ours':
      return `hsl(${14 + (hash(f.name) % 16)}, 85%, ${54 + j}%)`;
    case 'package': {
      const hue = f.pkg === UWS_PACKAGE ? 172 : f.pkg === 'undici' ? 208 : 235 + (hash(f.pkg ?? '') % 70);
      return `hsl(${hue}, 55%, ${58 + j}%)`;
    }
    case 'node':
      return `hsl(${56 + (hash(f.name) % 14)}, 62%, ${48 + j}%)`;
    case 'native':
      return `hsl(30, 14%, ${62 + j}%)`;
    case 'program':
      return 'hsl(0, 0%, 66%)';
    case 'gc':
      return 'hsl(330, 62%, 66%)';
    case 'idle':
      return 'hsl(0, 0%, 91%)';
  }
}

const NATIVE_LEGEND = 'native (C++, builtins, RegExp, wasm)';

function legendName(f: Frame): string {
  return f.category === 'native' ? NATIVE_LEGEND : groupOf(f);
}

function fitText(label: string, name: string, width: number): string {
  const room = Math.floor((width - 6) / CHAR_PX);
  if (room >= label.length) return label;
  if (room >= name.length) return name;
  if (room >= 4) return `${name.slice(0, room - 2)}..`;
  return '';
}

export function layoutFlameGraph(set: ProfileSet, opts: FlameGraphOptions): FlameLayout {
  const width = opts.width ?? 1200;
  const minWidth = opts.minWidth ?? 0.3;
  const root: TreeNode = { frame: -1, total: 0, children: new Map() };
  let idle = 0;
  for (const t of set.threads) {
    const counts = stackCounts(t);
    t.stacks.forEach((stack, s) => {
      const n = counts[s]!;
      if (n === 0) return;
      const leaf = stack[stack.length - 1];
      if (leaf !== undefined && set.frames[leaf]!.category === 'idle') {
        idle += n;
        if (opts.hideIdle === true) return;
      }
      root.total += n;
      let node = root;
      for (const f of stack) {
        let child = node.children.get(f);
        if (child === undefined) {
          child = { frame: f, total: 0, children: new Map() };
          node.children.set(f, child);
        }
        child.total += n;
        node = child;
      }
    });
  }

  const scale = root.total === 0 ? 0 : (width - 2 * PAD) / root.total;
  const placed: Omit<FlameRect, 'y'>[] = [];
  const legend = new Map<string, string>();
  let maxDepth = 0;
  const visit = (node: TreeNode, depth: number, x: number): void => {
    const w = node.total * scale;
    const frame = node.frame < 0 ? null : set.frames[node.frame]!;
    const childSum = [...node.children.values()].reduce((a, c) => a + c.total, 0);
    const label = frame === null ? 'all threads' : frameLabel(frame);
    const fill = frame === null ? 'hsl(0, 0%, 80%)' : colourOf(frame);
    if (frame !== null) legend.set(legendName(frame), colourOf(frame, false));
    placed.push({ frame, label, depth, x, width: w, samples: node.total, self: node.total - childSum, text: fitText(label, frame?.name ?? label, w), fill });
    maxDepth = Math.max(maxDepth, depth);
    const children = [...node.children.values()].sort(
      (a, b) => b.total - a.total || frameLabel(set.frames[a.frame]!).localeCompare(frameLabel(set.frames[b.frame]!)),
    );
    let cx = x;
    for (const c of children) {
      if (c.total * scale >= minWidth) visit(c, depth + 1, cx);
      cx += c.total * scale;
    }
  };
  if (root.total > 0) visit(root, 0, PAD);

  const height = HEADER + (maxDepth + 1) * ROW + PAD;
  const rects = placed.map((r) => ({ ...r, y: height - PAD - (r.depth + 1) * ROW }));
  const order = ['our code', 'uWS', 'undici'];
  const tail = ['node internals', NATIVE_LEGEND, '(program)', 'GC', '(idle)'];
  const names = [...legend.keys()].sort((a, b) => {
    const ra = order.includes(a) ? order.indexOf(a) : tail.includes(a) ? 100 + tail.indexOf(a) : 50;
    const rb = order.includes(b) ? order.indexOf(b) : tail.includes(b) ? 100 + tail.indexOf(b) : 50;
    return ra - rb || a.localeCompare(b);
  });
  return { width, height, rects, totalSamples: root.total, idleSamples: idle, legend: names.map((n) => [n, legend.get(n)!]) };
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const num = (n: number): string => (Math.round(n * 100) / 100).toString();
const pct = (n: number, of: number): string => (of === 0 ? '-' : ((100 * n) / of).toFixed(2));

export function renderFlameGraph(set: ProfileSet, opts: FlameGraphOptions): string {
  const l = layoutFlameGraph(set, opts);
  const nonIdle = opts.hideIdle === true ? l.totalSamples : l.totalSamples - l.idleSamples;
  const all = opts.hideIdle === true ? l.totalSamples + l.idleSamples : l.totalSamples;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${l.width}" height="${l.height}" viewBox="0 0 ${l.width} ${l.height}" font-family="ui-monospace, Menlo, Consolas, monospace" font-size="${FONT_PX}">`,
    `<rect x="0" y="0" width="${l.width}" height="${l.height}" fill="#fdfdf8"/>`,
    `<text x="${PAD}" y="20" font-size="15" font-weight="bold">${esc(opts.title)}</text>`,
  ];
  (opts.subtitle ?? []).slice(0, 2).forEach((s, i) => out.push(`<text x="${PAD}" y="${36 + i * 13}" fill="#444">${esc(s)}</text>`));
  // Legend under the subtitle, right-aligned, one swatch per category present.
  let lx = l.width - PAD;
  const legendItems: string[] = [];
  for (const [name, colour] of [...l.legend].reverse()) {
    const w = name.length * CHAR_PX + 18;
    lx -= w;
    legendItems.push(`<rect x="${num(lx)}" y="58" width="10" height="10" fill="${colour}" stroke="#888" stroke-width="0.5"/><text x="${num(lx + 13)}" y="67">${esc(name)}</text>`);
  }
  out.push(...legendItems.reverse());
  for (const r of l.rects) {
    const tip =
      `${r.label}\n${r.samples.toLocaleString('en-US')} samples: ${pct(r.samples, all)}% of all, ` +
      `${pct(r.samples, nonIdle)}% of non-idle; ${r.self.toLocaleString('en-US')} on top (self)`;
    out.push(
      `<g><title>${esc(tip)}</title><rect x="${num(r.x)}" y="${r.y}" width="${num(r.width)}" height="${ROW - 1}" fill="${r.fill}" rx="1.5"/>` +
        (r.text === '' ? '' : `<text x="${num(r.x + 3)}" y="${r.y + ROW - 5}">${esc(r.text)}</text>`) +
        '</g>',
    );
  }
  out.push('</svg>', '');
  return out.join('\n');
}
