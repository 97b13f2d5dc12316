/**
 * Where the gateway's CPU goes according to Linux `perf`, not V8's profiler.
 *
 * Why a second view: V8's sampler charges a sample to whatever JavaScript or API function is
 * on the stack, so a native call that makes a syscall (the upstream write, uWS's cork and
 * send) soaks up most samples and the JavaScript around it looks nearly free ("our code 5%").
 * `perf record -g` samples the whole thread, kernel included, and with node's
 * `--perf-basic-prof` it can name JIT frames. Each user-space sample is charged here to the
 * nearest JavaScript frame on its stack: the function's own code plus the V8 builtins and
 * runtime it calls (string adds, regex tests, inline-cache misses, allocation), which is the
 * cost a change to that function can remove. Kernel samples are counted apart.
 *
 * Input: `perf script -F ip,sym` text (one block per sample, leaf first, blank line between).
 */

export interface PerfSample {
  /** Symbols, leaf first. */
  frames: string[];
  /** The leaf is a kernel address. */
  kernel: boolean;
}

/** Kernel text lives in the top half of the 64-bit address space. */
const KERNEL_ADDRESS = /^f{8}[0-9a-f]{8}$/i;

export function parsePerfScript(text: string): PerfSample[] {
  const out: PerfSample[] = [];
  let frames: string[] = [];
  let kernel = false;
  const flush = (): void => {
    if (frames.length > 0) out.push({ frames, kernel });
    frames = [];
    kernel = false;
  };
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '') {
      flush();
      continue;
    }
    // A frame: "<hex address> <symbol>" (the symbol may contain spaces).
    const sp = line.indexOf(' ');
    const addr = sp < 0 ? line : line.slice(0, sp);
    if (!/^[0-9a-f]+$/i.test(addr)) continue; // a sample header line (with -F tid etc.)
    if (frames.length === 0) kernel = KERNEL_ADDRESS.test(addr);
    frames.push(sp < 0 ? '[unknown]' : line.slice(sp + 1).trim());
  }
  flush();
  return out;
}

export interface JsFrame {
  /** "name file:line:col" with the repository's dist/ prefix removed. */
  name: string;
  /** V8 tier from the perf map: * optimized (TurboFan), ^ baseline (Sparkplug), ~ interpreted, - other. */
  tier: '*' | '^' | '~' | '-';
}

/** A perf-map JIT symbol ("JS:*onRequest file:///…/dist/workers/x.js:75:14"), or null. */
export function jsFrame(symbol: string, distPrefix: string): JsFrame | null {
  if (!symbol.startsWith('JS:')) return null;
  const c = symbol.charAt(3);
  const tier = c === '*' || c === '^' || c === '~' ? c : '-';
  let name = symbol.slice(tier === '-' ? 3 : 4);
  if (distPrefix !== '') name = name.split(distPrefix).join('');
  name = name.replace('file://', '').trim();
  return { name: name === '' ? '(anonymous)' : name, tier };
}

export interface Row {
  name: string;
  samples: number;
  /** For JavaScript rows: samples by the tier seen, and by leaf symbol (what it spent them on). */
  tiers?: Record<string, number>;
  leaves?: Array<{ name: string; samples: number }>;
}

export interface Attribution {
  samples: number;
  kernel: number;
  user: number;
  /** User samples charged to their nearest JavaScript frame, most first. */
  javascript: Row[];
  /** User samples with no JavaScript frame on the stack (event loop, uWS, GC, libc…), by leaf. */
  native: Row[];
}

export function attribute(samples: readonly PerfSample[], distPrefix: string, leavesPerRow = 6): Attribution {
  let kernel = 0;
  const js = new Map<string, { samples: number; tiers: Map<string, number>; leaves: Map<string, number> }>();
  const native = new Map<string, number>();
  for (const s of samples) {
    if (s.kernel) {
      kernel++;
      continue;
    }
    let at = -1;
    let frame: JsFrame | null = null;
    for (let i = 0; i < s.frames.length; i++) {
      frame = jsFrame(s.frames[i]!, distPrefix);
      if (frame !== null) {
        at = i;
        break;
      }
    }
    if (frame === null) {
      const leaf = s.frames[0] ?? '[unknown]';
      native.set(leaf, (native.get(leaf) ?? 0) + 1);
      continue;
    }
    let row = js.get(frame.name);
    if (row === undefined) js.set(frame.name, (row = { samples: 0, tiers: new Map(), leaves: new Map() }));
    row.samples++;
    row.tiers.set(frame.tier, (row.tiers.get(frame.tier) ?? 0) + 1);
    const leaf = at === 0 ? '(its own code)' : s.frames[0]!;
    row.leaves.set(leaf, (row.leaves.get(leaf) ?? 0) + 1);
  }
  const byCount = <T extends { samples: number }>(a: T, b: T): number => b.samples - a.samples;
  return {
    samples: samples.length,
    kernel,
    user: samples.length - kernel,
    javascript: [...js].map(([name, r]) => ({
      name,
      samples: r.samples,
      tiers: Object.fromEntries(r.tiers),
      leaves: [...r.leaves].map(([n, c]) => ({ name: n, samples: c })).sort(byCount).slice(0, leavesPerRow),
    })).sort(byCount),
    native: [...native].map(([name, c]) => ({ name, samples: c })).sort(byCount),
  };
}

const pct = (n: number, total: number): string => (total === 0 ? '0.0' : ((100 * n) / total).toFixed(1));
const cell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\s+/g, ' ');
const TIER_NAMES: Record<string, string> = { '*': 'optimized', '^': 'baseline', '~': 'interpreted', '-': '?' };

export function renderAttribution(a: Attribution, top: number, title: string, lines: readonly string[]): string {
  const out: string[] = [`# ${title}`, '', ...lines.flatMap((l) => [l, '']),];
  out.push(
    `${a.samples.toLocaleString('en-US')} samples of the gateway process (all its threads): kernel ${pct(a.kernel, a.samples)}%, user space ${pct(a.user, a.samples)}%. ` +
      'Percentages are of all samples.',
    '',
    '## User-space samples by nearest JavaScript frame',
    '',
    'Each sample goes to the first JavaScript function found walking up from where the CPU was: that',
    "function's code and the V8 builtins/runtime it called. A tier other than optimized on a hot",
    'function is worth a look (it keeps missing its inline caches, or deoptimizes).',
    '',
    '| # | % | function | tier | spent in (top leaves, % of all samples) |',
    '|---:|---:|---|---|---|',
  );
  a.javascript.slice(0, top).forEach((r, i) => {
    const tiers = Object.entries(r.tiers ?? {})
      .sort((x, y) => y[1] - x[1])
      .map(([t]) => TIER_NAMES[t] ?? t)
      .join(', ');
    const leaves = (r.leaves ?? []).map((l) => `${cell(l.name.slice(0, 70))} ${pct(l.samples, a.samples)}`).join('; ');
    out.push(`| ${i + 1} | ${pct(r.samples, a.samples)} | ${cell(r.name)} | ${tiers} | ${leaves} |`);
  });
  const nativeTotal = a.native.reduce((s, r) => s + r.samples, 0);
  out.push('', `## User-space samples with no JavaScript frame (${pct(nativeTotal, a.samples)}% in all), by leaf`, '', '| # | % | symbol |', '|---:|---:|---|');
  a.native.slice(0, top).forEach((r, i) => out.push(`| ${i + 1} | ${pct(r.samples, a.samples)} | ${cell(r.name.slice(0, 110))} |`));
  return `${out.join('\n')}\n`;
}
