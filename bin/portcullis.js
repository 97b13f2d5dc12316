#!/usr/bin/env node
// Entry point of the `portcullis` command. The TypeScript sources are compiled to dist/
// by `npm ci` (prepare) or `npm run build`.
import { existsSync } from 'node:fs';

const entry = new URL('../dist/src/cli/main.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('portcullis: dist/ is missing; run `npm run build` (npm ci does it for you)\n');
  process.exit(1);
}
const { main } = await import(entry.href);
await main(process.argv.slice(2));
