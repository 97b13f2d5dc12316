/**
 * What a profile frame is: its identity (name + script + position, the same in every worker
 * thread), a short place to print, and its category for the tables and the flame graph's colours.
 */
import { isAbsolute, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CallFrame } from './cpuprofile.js';

/**
 * - `ours`: Portcullis's own code (src/, workers/, bin/ and their dist/ builds).
 * - `package`: a node_modules package (`pkg` names it), including uWS's native methods found at
 *   their call sites (see uws-call-sites.ts).
 * - `node`: Node's own JavaScript (`node:` URLs).
 * - `native`: C++ bindings, V8 builtins, RegExp code and WebAssembly: a frame without a script of
 *   its own. The tables count it in the category of the JavaScript that called it.
 * - `gc`, `program` (V8 was running native code with no JavaScript on the stack: uWS's event
 *   loop and HTTP parser, libuv, the compiler), `idle` (the thread waited for I/O).
 */
export type Category = 'ours' | 'package' | 'node' | 'native' | 'gc' | 'program' | 'idle';

export interface Frame {
  /** Identity across threads: name, script and position. */
  key: string;
  /** Function name; "(anonymous)" when V8 has none. */
  name: string;
  /** Where, for people: "workers/http/uws-exchange.ts", "undici/lib/core/request.js", "node:events"; "" when nowhere. */
  file: string;
  /** 1-based line of the function in `file`; 0 when unknown. */
  line: number;
  /** 1-based column; 0 when unknown. */
  col: number;
  category: Category;
  /** The node_modules package of a `package` frame ("undici", "@scope/name"), else null. */
  pkg: string | null;
}

/** A place in an original source, from a source map. */
export interface SourcePosition {
  file: string;
  line: number;
  col: number;
}

/** Maps a generated position (script URL, 0-based line and column) to its source, or null. */
export type SourceResolver = (url: string, line0: number, col0: number) => SourcePosition | null;

export const SPECIAL_FRAMES: Readonly<Record<string, Category>> = {
  '(garbage collector)': 'gc',
  '(program)': 'program',
  '(idle)': 'idle',
};

/** The uWS package as npm installs it (our package.json aliases it under this name). */
export const UWS_PACKAGE = 'uWebSockets.js';

/** The package of a path inside node_modules (the innermost one), or null. */
export function packageOf(path: string): string | null {
  const i = path.lastIndexOf('/node_modules/');
  if (i < 0) return null;
  const rest = path.slice(i + '/node_modules/'.length).split('/');
  const first = rest[0] ?? '';
  if (first.startsWith('@') && rest.length > 1) return `${first}/${rest[1]}`;
  return first === '' ? null : first;
}

function pathOf(url: string): string | null {
  if (url.startsWith('file://')) {
    try {
      return fileURLToPath(url);
    } catch {
      return null;
    }
  }
  return isAbsolute(url) ? url : null;
}

/**
 * Classifies one call frame. `root` is the repository root (for "ours" and short paths);
 * `resolve`, when given, maps our built files back to their TypeScript sources.
 */
export function classifyFrame(cf: CallFrame, root: string, resolve?: SourceResolver): Frame {
  const name = cf.functionName === '' ? '(anonymous)' : cf.functionName;
  const line0 = cf.lineNumber;
  const col0 = cf.columnNumber ?? -1;
  const key = `${cf.functionName}\u0000${cf.url}\u0000${line0}\u0000${col0}`;
  const special = cf.url === '' ? SPECIAL_FRAMES[cf.functionName] : undefined;
  const base = { key, name, line: line0 >= 0 ? line0 + 1 : 0, col: col0 >= 0 ? col0 + 1 : 0, pkg: null };
  if (special !== undefined) return { ...base, name: cf.functionName, file: '', category: special };
  if (cf.url === '') return { ...base, file: '', category: 'native' };
  // WebAssembly (undici's llhttp): positions are byte offsets in a module, not lines.
  if (cf.url.startsWith('wasm://')) return { ...base, file: 'wasm', line: 0, col: 0, category: 'native' };
  if (cf.url.startsWith('node:')) return { ...base, file: cf.url, category: 'node' };
  const path = pathOf(cf.url);
  if (path === null) return { ...base, file: cf.url, category: 'native' };
  const pkg = packageOf(path);
  if (pkg !== null) {
    const inPkg = path.slice(path.lastIndexOf('/node_modules/') + '/node_modules/'.length);
    return { ...base, file: inPkg, category: 'package', pkg };
  }
  const rel = relative(root, path);
  if (rel.startsWith('..') || isAbsolute(rel)) return { ...base, file: path, category: 'package', pkg: '(outside the repository)' };
  const mapped = resolve !== undefined && line0 >= 0 ? resolve(cf.url, line0, Math.max(col0, 0)) : null;
  if (mapped !== null) {
    const mrel = relative(root, mapped.file);
    const file = mrel.startsWith('..') || isAbsolute(mrel) ? mapped.file : mrel.split(sep).join('/');
    return { ...base, file, line: mapped.line, col: mapped.col, category: 'ours' };
  }
  return { ...base, file: rel.split(sep).join('/'), category: 'ours' };
}

/** "write workers/http/uws-exchange.ts:331", "(garbage collector)", "writeLatin1String". */
export function frameLabel(f: Frame): string {
  if (f.file === '') return f.name;
  return f.line > 0 ? `${f.name} ${f.file}:${f.line}` : `${f.name} ${f.file}`;
}

/** The category a frame's self time is counted in by the tables: a group name. */
export function groupOf(f: Frame): string {
  switch (f.category) {
    case 'ours':
      return 'our code';
    case 'package':
      return f.pkg === UWS_PACKAGE ? 'uWS' : (f.pkg ?? 'packages');
    case 'node':
      return 'node internals';
    case 'gc':
      return 'GC';
    case 'program':
      return '(program)';
    case 'idle':
      return '(idle)';
    case 'native':
      return 'native, no JS caller';
  }
}
