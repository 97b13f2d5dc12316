/**
 * `plain-access-log`: the plain scenario with the JSON access log on, written to a file
 * (issue #5: access logging may cost at most 5% of throughput). Run it against plain in
 * one run: `npm run bench -- --scenario plain-access-log --baseline plain --peer none`.
 * The file is in the system temp dir and is appended to (one line of ~500 bytes per
 * request: about 20 MB per 40,000 requests); delete it after a run.
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import plain from './plain.js';
import type { Scenario } from './types.js';

export const ACCESS_LOG_FILE = join(tmpdir(), 'portcullis-bench-access.log');

const plainAccessLog: Scenario = {
  ...plain,
  name: 'plain-access-log',
  description: 'plain, with the JSON access log written to a file',
  baseline: 'plain',
  gatewayEnv: { PORTCULLIS_ACCESS_LOG: ACCESS_LOG_FILE },
  nginx: null,
};

export default plainAccessLog;
