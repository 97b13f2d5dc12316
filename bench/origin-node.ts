/**
 * The Node origin: a bare `node:http` server answering every request with 200 and a fixed body,
 * keep-alive on, never closing a connection on its own. Run as a child process by upstream.ts
 * (never inside the harness: it would share an event loop with autocannon).
 *
 *   node dist/bench/origin-node.js --port P --size BYTES [--workers N]
 *
 * With --workers N > 1 it forks N cluster workers (the primary only hands out connections).
 */
import cluster from 'node:cluster';
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import { originBody } from './lib/body.js';

const { values } = parseArgs({
  options: { port: { type: 'string' }, size: { type: 'string' }, workers: { type: 'string' } },
  strict: true,
});
const port = Number(values.port);
const size = Number(values.size ?? '128');
const workers = Number(values.workers ?? '1');
if (!Number.isInteger(port) || port <= 0 || !Number.isInteger(size) || size < 0 || !Number.isInteger(workers) || workers < 1) {
  process.stderr.write('usage: origin-node --port P --size BYTES [--workers N]\n');
  process.exit(2);
}

if (workers > 1 && cluster.isPrimary) {
  for (let i = 0; i < workers; i++) cluster.fork();
  cluster.on('exit', (w, code, signal) => {
    process.stderr.write(`origin-node: worker ${w.process.pid} exited (${code ?? signal}); stopping\n`);
    process.exit(1);
  });
  const stop = () => {
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGTERM');
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
} else {
  const body = Buffer.from(originBody(size));
  const headers = { 'content-type': 'text/plain', 'content-length': String(body.length) };
  const server = createServer((req, res) => {
    res.writeHead(200, headers);
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  server.keepAliveTimeout = 120_000;
  server.headersTimeout = 121_000;
  server.listen(port, '127.0.0.1');
  process.on('SIGTERM', () => process.exit(0));
  process.on('SIGINT', () => process.exit(0));
}
