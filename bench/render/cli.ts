/**
 * Re-render results.md and chart.svg from a results.json (after a change to the renderers, or to
 * look at an old run the new way):
 *
 *   node dist/bench/render/cli.js bench/results/<timestamp>/results.json
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { BenchResults } from '../results.js';
import { renderChartSvg } from './chart.js';
import { renderMarkdown } from './markdown.js';

const file = process.argv[2];
if (file === undefined) {
  process.stderr.write('usage: node dist/bench/render/cli.js RESULTS.json\n');
  process.exit(2);
}
const results = JSON.parse(readFileSync(file, 'utf8')) as BenchResults;
if (results.schema !== 'portcullis-bench/2') {
  process.stderr.write(`${file}: schema ${String(results.schema)}; only portcullis-bench/2 (bench/results/<timestamp>/results.json) can be rendered\n`);
  process.exit(2);
}
const dir = dirname(file);
writeFileSync(join(dir, 'results.md'), renderMarkdown(results));
writeFileSync(join(dir, 'chart.svg'), await renderChartSvg(results));
process.stdout.write(`${join(dir, 'results.md')}\n${join(dir, 'chart.svg')}\n`);
