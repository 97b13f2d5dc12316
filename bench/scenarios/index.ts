/**
 * The scenario map, built from the files of this folder: every module here other than index and
 * types whose default export is a `Scenario` is registered under its `name`.
 */
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { isScenario, type Scenario } from './types.js';

const SKIP = new Set(['index.js', 'types.js']);

export async function loadScenarios(): Promise<Map<string, Scenario>> {
  const dir = new URL('./', import.meta.url);
  const files = readdirSync(fileURLToPath(dir))
    .filter((f) => f.endsWith('.js') && !SKIP.has(f))
    .sort();
  const map = new Map<string, Scenario>();
  for (const file of files) {
    const mod = (await import(new URL(file, dir).href)) as { default?: unknown };
    if (!isScenario(mod.default)) {
      throw new Error(`bench/scenarios/${file.replace(/\.js$/, '.ts')}: its default export is not a Scenario`);
    }
    const existing = map.get(mod.default.name);
    if (existing !== undefined) throw new Error(`two scenarios are named '${mod.default.name}'`);
    map.set(mod.default.name, mod.default);
  }
  return map;
}

/**
 * The order of `--scenario all` and of the report: the plain proxy, then policies on it, then large
 * bodies, then large tables, then the open-loop contention scenarios. Scenarios not listed follow,
 * by name.
 */
const SUITE_ORDER = [
  'plain',
  'key-auth',
  'key-auth-rate-limiting',
  'jwt-rs256',
  'rate-limiting-redis',
  'json-64k',
  'json-64k-protected',
  'routes-10k',
  'consumers-100k',
  'small-get-under-json-64k',
  'small-get-under-json-1m',
];

export function suiteOrder(names: Iterable<string>): string[] {
  const rank = (n: string): number => {
    const i = SUITE_ORDER.indexOf(n);
    return i < 0 ? SUITE_ORDER.length : i;
  };
  return [...names].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
}
