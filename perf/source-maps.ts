/**
 * Maps positions in our built JavaScript (dist/…/*.js) back to the TypeScript they came from,
 * so tables and flame graphs name workers/http/uws-exchange.ts:331 rather than dist/…js:312.
 * Reads the `//# sourceMappingURL=` of each file once; files without a map stay as they are.
 */
import { readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { dirname, isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SourcePosition, SourceResolver } from './frames.js';

const MAPPING_URL = /\/\/# sourceMappingURL=([^\s'"]+)\s*$/;

interface LoadedMap {
  map: SourceMap;
  dir: string;
}

function loadMap(url: string): LoadedMap | null {
  if (!url.startsWith('file://')) return null;
  try {
    const file = fileURLToPath(url);
    const text = readFileSync(file, 'utf8');
    const m = MAPPING_URL.exec(text.slice(-500));
    if (m === null || m[1]!.startsWith('data:')) return null;
    const mapFile = resolve(dirname(file), m[1]!);
    const payload = JSON.parse(readFileSync(mapFile, 'utf8')) as ConstructorParameters<typeof SourceMap>[0];
    return { map: new SourceMap(payload), dir: dirname(mapFile) };
  } catch {
    return null;
  }
}

/** A resolver that reads and caches source maps next to file:// scripts. */
export function sourceMapResolver(): SourceResolver {
  const cache = new Map<string, LoadedMap | null>();
  return (url: string, line0: number, col0: number): SourcePosition | null => {
    let loaded = cache.get(url);
    if (loaded === undefined) {
      loaded = loadMap(url);
      cache.set(url, loaded);
    }
    if (loaded === null) return null;
    const e = loaded.map.findEntry(line0, col0) as Partial<{ originalSource: string; originalLine: number; originalColumn: number }>;
    if (typeof e.originalSource !== 'string' || typeof e.originalLine !== 'number') return null;
    const src = e.originalSource.startsWith('file://') ? fileURLToPath(e.originalSource) : e.originalSource;
    return {
      file: isAbsolute(src) ? src : resolve(loaded.dir, src),
      line: e.originalLine + 1,
      col: (e.originalColumn ?? 0) + 1,
    };
  };
}
