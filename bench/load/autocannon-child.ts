/**
 * autocannon in a process of its own, for a background load that runs while the harness measures
 * an open-loop load: in the harness's event loop it would delay the open-loop generator's sends
 * and inflate the latencies it measures.
 *
 *   node dist/bench/load/autocannon-child.js '<LoadOptions as JSON>'
 *
 * Prints one line, `PORTCULLIS_AUTOCANNON <LoadResult as JSON>`, and exits 0.
 */
import { autocannonTool } from './autocannon.js';
import type { LoadOptions } from './types.js';

const opts = JSON.parse(process.argv[2] ?? '') as LoadOptions;
autocannonTool()
  .run(opts)
  .then(
    (result) => {
      process.stdout.write(`PORTCULLIS_AUTOCANNON ${JSON.stringify(result)}\n`);
      process.exit(0);
    },
    (err: unknown) => {
      process.stderr.write(`autocannon-child: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
