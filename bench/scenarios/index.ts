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
