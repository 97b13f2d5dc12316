/**
 * A closed-loop load that runs beside an open-loop measurement (a scenario's `background`). wrk
 * is already a process of its own; autocannon is moved into one (autocannon-child.ts) so that it
 * does not share the harness's event loop with the open-loop generator.
 */
import { fileURLToPath } from 'node:url';
import { spawnManaged, stopManaged } from '../lib/procs.js';
import type { LoadOptions, LoadResult, LoadTool } from './types.js';

export function runBackground(tool: LoadTool, opts: LoadOptions): Promise<LoadResult> {
  if (tool.name === 'wrk') return tool.run(opts);
  return runAutocannonChild(opts);
}

async function runAutocannonChild(opts: LoadOptions): Promise<LoadResult> {
  const script = fileURLToPath(new URL('./autocannon-child.js', import.meta.url));
  const proc = spawnManaged('autocannon (background)', process.execPath, [script, JSON.stringify(opts)], { pipe: true });
  let out = '';
  let err = '';
  proc.child.stdout?.setEncoding('utf8').on('data', (d: string) => (out += d));
  proc.child.stderr?.setEncoding('utf8').on('data', (d: string) => (err += d));
  const watchdog = setTimeout(() => void stopManaged(proc, 'SIGKILL', 1000), (opts.durationSec + 30) * 1000);
  const { code, signal } = await proc.exited;
  clearTimeout(watchdog);
  const line = /^PORTCULLIS_AUTOCANNON (\{.*\})$/m.exec(out)?.[1];
  if (code !== 0 || line === undefined) throw new Error(`background autocannon failed (code ${code}, signal ${signal}): ${err}${out}`.trimEnd());
  return JSON.parse(line) as LoadResult;
}
