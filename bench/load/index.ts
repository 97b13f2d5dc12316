/** Picks the load generator: `--tool` if given, else wrk when it is on PATH, else autocannon. */
import { autocannonTool } from './autocannon.js';
import { findWrk, WRK_INSTALL_HINT, wrkTool } from './wrk.js';
import type { LoadTool, ToolName } from './types.js';

export function selectTool(forced: ToolName | null): { tool: LoadTool; note: string | null } {
  const wrk = findWrk();
  if (forced === 'wrk') {
    if (wrk === null) throw new Error(`--tool wrk: wrk is not on PATH; ${WRK_INSTALL_HINT}`);
    return { tool: wrkTool(wrk), note: null };
  }
  if (forced === 'autocannon') return { tool: autocannonTool(), note: null };
  if (wrk !== null) return { tool: wrkTool(wrk), note: null };
  return {
    tool: autocannonTool(),
    note: `using autocannon (whole-ms latency, tops out near 100k req/s on 2 cores); for sharper figures ${WRK_INSTALL_HINT}`,
  };
}
