import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseCpuProfile, sliceToWindow } from './cpuprofile.js';
import { renderMarkdown, summarize } from './cpuprofile-top.js';
import { frameLabel } from './frames.js';
import { buildProfileSet } from './profile-set.js';
import { handMadeProfile, handMadeUrls, LISTENER_SOURCE } from './testdata/hand-made.js';
import { uwsCallOnLine } from './uws-call-sites.js';

const ROOT = '/srv/portcullis';
const set = (profile = handMadeProfile(ROOT)) => buildProfileSet([{ name: 'worker thread 1', profile }], { root: ROOT });
const row = (s: ReturnType<typeof summarize>, name: string) => {
  const r = s.functions.find((f) => f.frame.name === name);
  if (r === undefined) throw new Error(`no row for ${name}`);
  return r;
};

describe('summarize: self and total time of a hand-made profile', () => {
  const s = summarize(set());

  it('counts idle apart and takes percentages of the non-idle samples', () => {
    expect(s.samples).toBe(20);
    expect(s.idle).toBe(4);
    expect(s.nonIdle).toBe(16);
    expect(s.functions.some((f) => f.frame.category === 'idle')).toBe(false);
  });

  it('self: samples with the function on top (ties: the larger total first)', () => {
    expect(s.functions.map((f) => [f.frame.name, f.self])).toEqual([
      ['writeLatin1String', 4],
      ['handle', 3],
      ['emit', 3],
      ['onRequest', 2],
      ['Request', 2],
      ['(garbage collector)', 1],
      ['(program)', 1],
    ]);
  });

  it('total: samples with the function anywhere on the stack, once per sample under recursion', () => {
    expect(row(s, 'onRequest').total).toBe(14);
    expect(row(s, 'handle').total).toBe(9);
    expect(row(s, 'Request').total).toBe(6);
    expect(row(s, 'writeLatin1String').total).toBe(4);
    expect(row(s, 'emit').total).toBe(3);
  });

  it('categories: native code counts for the JavaScript that called it', () => {
    expect(s.groups).toEqual([
      { group: 'undici', self: 6 },
      { group: 'our code', self: 5 },
      { group: 'node internals', self: 3 },
      { group: '(program)', self: 1 },
      { group: 'GC', self: 1 },
    ]);
  });

  it('names frames by short place: ours from the repository root, packages from node_modules', () => {
    expect(frameLabel(row(s, 'onRequest').frame)).toBe('onRequest perf/testdata/absent/listener.js:11');
    expect(frameLabel(row(s, 'Request').frame)).toBe('Request undici/lib/core/request.js:48');
    expect(row(s, 'Request').frame.pkg).toBe('undici');
    expect(frameLabel(row(s, 'emit').frame)).toBe('emit node:events:471');
  });

  it('renders the tables as markdown with percentages of non-idle samples', () => {
    const md = renderMarkdown(s, 3, 'test');
    expect(md).toContain('idle was 20.0% of all samples');
    expect(md).toContain('| undici | 37.5 | 6 |');
    expect(md).toContain('| our code | 31.3 | 5 |');
    expect(md).toContain('| 1 | 25.0 | 25.0 | writeLatin1String |  | native |');
    expect(md).toContain('| 1 | 87.5 | 12.5 | onRequest | perf/testdata/absent/listener.js:11 | our code |');
    // Top 3 only.
    expect(md).not.toContain('| 4 |');
  });

  it('merges threads: the same function in two workers is one row', () => {
    const two = summarize(
      buildProfileSet(
        [
          { name: 'a', profile: handMadeProfile(ROOT) },
          { name: 'b', profile: handMadeProfile(ROOT) },
        ],
        { root: ROOT },
      ),
    );
    expect(two.nonIdle).toBe(32);
    expect(two.functions.filter((f) => f.frame.name === 'onRequest')).toHaveLength(1);
    expect(row(two, 'onRequest').total).toBe(28);
    expect(two.threads.map((t) => [t.name, t.samples, t.idle])).toEqual([
      ['a', 20, 4],
      ['b', 20, 4],
    ]);
  });
});

describe('uWS native time at its call sites', () => {
  it('finds uWS method calls on our lines and nothing else', () => {
    expect(uwsCallOnLine('        this.res.cork(corkedWrite);')).toBe('res.cork');
    expect(uwsCallOnLine(LISTENER_SOURCE[21]!)).toBe('res.getRemoteAddress');
    expect(uwsCallOnLine("        const contentType = errorContentType(req.getHeader('accept'));")).toBe('req.getHeader');
    expect(uwsCallOnLine('        this.uws.us_listen_socket_close(this.socket);')).toBe('uws.us_listen_socket_close');
    expect(uwsCallOnLine(LISTENER_SOURCE[20]!)).toBeNull();
    expect(uwsCallOnLine('        response.end(body);')).toBeNull();
    expect(uwsCallOnLine('        stream.write(chunk);')).toBeNull();
  });

  it("moves a function's ticks on a uWS line to a uWS frame above it", () => {
    const { listener } = handMadeUrls(ROOT);
    const s = summarize(
      buildProfileSet([{ name: 'w', profile: handMadeProfile(ROOT) }], {
        root: ROOT,
        nativeCallAt: (url, line) => (url === listener && LISTENER_SOURCE[line] !== undefined ? uwsCallOnLine(LISTENER_SOURCE[line]!) : null),
      }),
    );
    // onRequest had 2 self samples, half of its ticks on the getRemoteAddress line.
    expect(row(s, 'onRequest').self).toBe(1);
    expect(row(s, 'onRequest').total).toBe(14);
    const uws = row(s, 'res.getRemoteAddress');
    expect([uws.self, uws.total, uws.frame.pkg]).toEqual([1, 1, 'uWebSockets.js']);
    expect(s.groups.find((g) => g.group === 'uWS')?.self).toBe(1);
    expect(s.groups.find((g) => g.group === 'our code')?.self).toBe(4);
  });
});

describe('cpuprofile: parsing and the profiled window', () => {
  it('rejects what is not a CPU profile', () => {
    expect(() => parseCpuProfile('{"nodes": []}', 'x.cpuprofile')).toThrow(/not a V8 CPU profile/);
    expect(() => parseCpuProfile('{"nodes": [], "samples": [1], "timeDeltas": [1]}', 'x')).toThrow(/node 1/);
    expect(() => parseCpuProfile('nope', 'x')).toThrow(/not JSON/);
  });

  it('keeps only the samples taken inside the window', () => {
    // Samples at 1_001_000, 1_002_000, … 1_020_000; the window holds samples 6..10 (1-based).
    const p = sliceToWindow(handMadeProfile(ROOT, 1_000_000), 1_005_500, 1_010_000);
    expect(p.samples).toEqual([8, 3, 9, 10, 6]);
    expect(p.timeDeltas).toEqual([500, 1000, 1000, 1000, 1000]);
    expect(summarize(set(p)).samples).toBe(5);
  });
});

describe('cpuprofile-top CLI', () => {
  it('prints the merged tables of the files it is given', () => {
    const root = fileURLToPath(new URL('..', import.meta.url)).replace(/\/$/, '');
    const dir = mkdtempSync(join(tmpdir(), 'perf-top-'));
    const file = join(dir, 'a.cpuprofile');
    writeFileSync(file, JSON.stringify(handMadeProfile(root)));
    const r = spawnSync(process.execPath, [join(root, 'dist', 'perf', 'cpuprofile-top.js'), file, file, '5'], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('# CPU profiles (2 merged)');
    expect(r.stdout).toContain('Percentages are of the 32 non-idle samples');
    expect(r.stdout).toContain('| our code | 31.3 | 10 |');
    expect(r.stdout).toContain('| 1 | 87.5 | 12.5 | onRequest | perf/testdata/absent/listener.js:11 | our code |');
  });

  it('says how to use it when given no file', () => {
    const root = fileURLToPath(new URL('..', import.meta.url));
    const r = spawnSync(process.execPath, [join(root, 'dist', 'perf', 'cpuprofile-top.js')], { encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('usage: cpuprofile-top FILE.cpuprofile');
  });
});
