/**
 * `portcullis check FILE`: validates a declarative config without starting anything.
 * Issues go to `err` as FILE:LINE:COL: PATH: MESSAGE in file order (editors and CI
 * annotate them), then a summary; exit code 1. A valid file prints a one-line summary
 * to `out`; exit code 0.
 */
import { loadConfigFile } from '../config/load.js';
import type { ConfigIssue, GatewayConfig } from '../config/types.js';

function formatIssue(i: ConfigIssue): string {
  return `${i.file}:${i.line}:${i.col}: ${i.path === '' ? '' : `${i.path}: `}${i.message}`;
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

function summary(c: GatewayConfig): string {
  const targets = c.upstreams.reduce((n, u) => n + u.targets.length, 0);
  return [
    plural(c.services.length, 'service'),
    plural(c.routes.length, 'route'),
    plural(c.consumers.length, 'consumer'),
    plural(c.plugins.length, 'plugin'),
    plural(c.upstreams.length, 'upstream'),
    plural(targets, 'target'),
  ].join(', ');
}

export async function checkCommand(file: string, out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  const result = await loadConfigFile(file, process.env);
  if (!result.ok) {
    for (const issue of result.issues) err.write(`${formatIssue(issue)}\n`);
    err.write(`${file}: ${plural(result.issues.length, 'error')}; the config is not valid\n`);
    return 1;
  }
  out.write(`OK: ${summary(result.config)} (hash ${result.config.hash.slice(0, 12)})\n`);
  return 0;
}
