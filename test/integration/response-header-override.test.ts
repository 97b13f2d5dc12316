/**
 * Headers the gateway sets on a proxied response replace the upstream's own of the same
 * name (Kong's kong.response.set_header), so a client never sees two contradicting values.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type Gateway } from '../helpers/gateway.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

let up: Upstream;
let gw: Gateway;

beforeAll(async () => {
  up = await startUpstream((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', 'X-RateLimit-Limit-Minute': '999', 'x-ratelimit-remaining-minute': '998', 'X-Other': 'kept' });
    res.end('ok');
  });
  gw = await startGateway(`
_format_version: "3.0"
services:
  - name: s
    url: ${up.url}
    routes: [{ name: r, paths: [/] }]
plugins:
  - name: rate-limiting
    config: { minute: 50, policy: local }
`);
});

afterAll(async () => {
  await gw?.stop();
  await up?.close();
});

describe('gateway response headers', () => {
  it("replace the upstream's headers of the same name, whatever their case, and keep the others", async () => {
    const res = await fetch(gw.url('/'));
    expect(res.status).toBe(200);
    expect(res.headers.get('x-ratelimit-limit-minute')).toBe('50');
    expect(Number(res.headers.get('x-ratelimit-remaining-minute'))).toBeLessThan(50);
    expect(res.headers.get('x-other')).toBe('kept');
    expect(await res.text()).toBe('ok');
  });
});
