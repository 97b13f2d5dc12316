/**
 * A scenario's spread (many distinct requests) reaches the server through each load generator:
 * wrk (a request file read by Lua), autocannon (its request list, capped), and the latency
 * results of wrk include the percentiles the report shows.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { BenchRequest } from '../scenarios/types.js';
import { AUTOCANNON_MAX_REQUESTS, autocannonTool } from './autocannon.js';
import { findWrk, wrkTool } from './wrk.js';

let server: Server;
let port: number;
const seen = new Map<string, { count: number; key: string | undefined; bodyBytes: number }>();

beforeAll(async () => {
  server = createServer((req, res) => {
    let bytes = 0;
    req.on('data', (d: Buffer) => (bytes += d.length));
    req.on('end', () => {
      const prev = seen.get(req.url!);
      seen.set(req.url!, { count: (prev?.count ?? 0) + 1, key: req.headers['apikey'] as string | undefined, bodyBytes: bytes });
      res.writeHead(200, { 'content-length': '2' });
      res.end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => {
  server.closeAllConnections();
  return new Promise<void>((r) => server.close(() => r()));
});
beforeEach(() => seen.clear());

const variants = (n: number): BenchRequest[] =>
  Array.from({ length: n }, (_, i) => ({ method: 'POST', path: `/item/${i}`, headers: { apikey: `key-${i}`, 'content-type': 'application/json' }, body: `{"i":${i},"pad":"${'x'.repeat(i % 7)}"}` }));

describe('request spreads', () => {
  it('wrk sends every request of the spread, each with its own headers and body, and reports p90/p99.9', async () => {
    const wrk = findWrk();
    expect(wrk, 'wrk is needed for this test (apt-get install -y wrk)').not.toBeNull();
    const requests = variants(50);
    const r = await wrkTool(wrk!).run({ port, request: requests[0]!, requests, connections: 4, threads: 2, durationSec: 1, timeoutSec: 2, expectStatus: 200 });
    expect(r.errors).toBe(0);
    expect(r.requests).toBeGreaterThan(100);
    expect(seen.size).toBe(50);
    for (const [i, q] of requests.entries()) {
      const got = seen.get(q.path)!;
      expect(got.key).toBe(`key-${i}`);
      expect(got.bodyBytes).toBe(Buffer.byteLength(q.body!));
    }
    expect(r.latencyMs.p90).toBeGreaterThan(0);
    expect(r.latencyMs.p999).toBeGreaterThanOrEqual(r.latencyMs.p99);
  });

  it('autocannon sends at most its cap, evenly spread over the whole table', async () => {
    const requests = variants(AUTOCANNON_MAX_REQUESTS * 3);
    const r = await autocannonTool().run({ port, request: requests[0]!, requests, connections: 4, threads: 1, durationSec: 2, timeoutSec: 2, expectStatus: 200 });
    expect(r.errors).toBe(0);
    const indices = [...seen.keys()].map((p) => Number(p.split('/')[2])).sort((a, b) => a - b);
    expect(indices.length).toBeGreaterThan(100);
    expect(indices.length).toBeLessThanOrEqual(AUTOCANNON_MAX_REQUESTS);
    // Every third request of the table: the cap keeps the spread over all of it.
    for (const i of indices) expect(i % 3).toBe(0);
  });
});
