/**
 * The piscina task that parses and validates a declarative config off the supervisor's
 * event loop (see config-loader.ts for why). Runs in a pool thread: plain data in, plain
 * data out (a LoadResult crosses back by structured clone).
 */
import { loadConfigText } from '../config/load.js';
import type { LoadResult } from '../config/types.js';

export interface LoadTask {
  text: string;
  fileName: string;
  env: Record<string, string | undefined>;
}

export default function loadTask(task: LoadTask): LoadResult {
  return loadConfigText(task.text, task.fileName, task.env);
}
