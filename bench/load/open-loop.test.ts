import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { runOpenLoop } from './open-loop.js';

let server: Server | null = null;

async function serve(handler: (req: IncomingMessage, res: ServerResponse, n: number) => void): Promise<number> {
  let n = 0;
  server = createServer((req, res) => {
    // Read the body (if any) before answering, like a real origin.
    req.resume();
    req.on('end', () => handler(req, res, n++));
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  return (server.address() as AddressInfo).port;
}

afterEach(async () => {
  if (server !== null) {
    server.closeAllConnections();
    await new Promise<void>((r) => server!.close(() => r()));
    server = null;
  }
});

const ok = (res: ServerResponse): void => {
  res.writeHead(200, { 'content-length': '2' });
  res.end('ok');
};

describe('runOpenLoop', () => {
  it('sends the planned number of requests at the rate, cycling through the request list', async () => {
    const seen = new Map<string, number>();
    const port = await serve((req, res) => {
      seen.set(req.url!, (seen.get(req.url!) ?? 0) + 1);
      ok(res);
    });
    const requests = Array.from({ length: 10 }, (_, i) => ({ method: 'GET', path: `/r/${i}` }));
    const r = await runOpenLoop({ port, request: requests[0]!, requests, connections: 4, timeoutSec: 5, expectStatus: 200, durationSec: 2, rate: 200 });
    expect(r.tool).toBe('open-loop');
    expect(r.openLoop).toMatchObject({ offeredRate: 200, planned: 400, unsent: 0 });
    expect(r.requests).toBe(400);
    expect(r.rps).toBe(200);
    expect(r.errors).toBe(0);
    expect(r.non2xx).toBe(0);
    expect(r.statusCodes).toEqual({ '200': 400 });
    expect([...seen.keys()].sort()).toEqual(requests.map((q) => q.path).sort());
    for (const count of seen.values()) expect(count).toBe(40);
  });

  it('counts unexpected statuses and sends bodies with their length', async () => {
    const lengths: number[] = [];
    const port = await serve((req, res) => {
      lengths.push(Number(req.headers['content-length']));
      res.writeHead(req.headers['x-fail'] ? 503 : 200, { 'content-length': '0' });
      res.end();
    });
    const body = JSON.stringify({ a: 'x'.repeat(5000) });
    const requests = [
      { method: 'POST', path: '/', headers: { 'content-type': 'application/json' }, body },
      { method: 'POST', path: '/', headers: { 'x-fail': '1' }, body },
    ];
    const r = await runOpenLoop({ port, request: requests[0]!, requests, connections: 2, timeoutSec: 5, expectStatus: 200, durationSec: 1, rate: 100 });
    expect(r.requests).toBe(100);
    expect(r.non2xx).toBe(50);
    expect(r.statusCodes).toEqual({ '200': 50, '503': 50 });
    expect(new Set(lengths)).toEqual(new Set([Buffer.byteLength(body)]));
  });

  it('measures from the intended send time: a 400 ms stall on one connection delays every request scheduled behind it', async () => {
    // 200 req/s for 2 s on ONE connection; the 200th request is answered 400 ms late. The ~80
    // requests scheduled during the stall wait for the connection: a closed-loop view sees one
    // slow response, the corrected view sees 20% of the requests delayed by up to 400 ms.
    const port = await serve((_req, res, n) => {
      if (n === 199) setTimeout(() => ok(res), 400);
      else ok(res);
    });
    const r = await runOpenLoop({ port, request: { method: 'GET', path: '/' }, connections: 1, timeoutSec: 5, expectStatus: 200, durationSec: 2, rate: 200 });
    expect(r.requests).toBe(400);
    expect(r.errors).toBe(0);
    const open = r.openLoop!;
    expect(open.uncorrectedMs.max).toBeGreaterThanOrEqual(390);
    expect(open.uncorrectedMs.p90).toBeLessThan(50);
    expect(r.latencyMs.p90).toBeGreaterThan(100);
    expect(r.latencyMs.p99).toBeGreaterThan(300);
    expect(r.latencyMs.max).toBeGreaterThanOrEqual(390);
  });

  it('reconnects when the server closes keep-alive connections, without counting errors', async () => {
    const port = await serve((_req, res, n) => {
      if (n % 5 === 4) res.shouldKeepAlive = false;
      ok(res);
    });
    const r = await runOpenLoop({ port, request: { method: 'GET', path: '/' }, connections: 3, timeoutSec: 5, expectStatus: 200, durationSec: 1, rate: 100 });
    expect(r.requests).toBe(100);
    expect(r.errors).toBe(0);
  });

  it('counts a request the server never answers as a timeout and carries on', async () => {
    const port = await serve((_req, res, n) => {
      if (n !== 10) ok(res); // request 10 never gets an answer
    });
    const r = await runOpenLoop({ port, request: { method: 'GET', path: '/' }, connections: 2, timeoutSec: 1, expectStatus: 200, durationSec: 1, rate: 50 });
    expect(r.timeouts).toBe(1);
    expect(r.errors).toBe(1);
    expect(r.requests).toBe(49);
  });

  it('fails fast when nothing listens', async () => {
    const port = await serve(ok);
    server!.close();
    server = null;
    await expect(runOpenLoop({ port, request: { method: 'GET', path: '/' }, connections: 2, timeoutSec: 1, expectStatus: 200, durationSec: 1, rate: 10 })).rejects.toThrow(/cannot connect/);
  });
});
