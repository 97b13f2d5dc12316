import { describe, expect, it } from 'vitest';
import { NO_ROUTE_MESSAGE, noRouteJsonBody, protocolMismatchReply } from './replies.js';
import { route } from './test-helpers.js';

describe('router replies', () => {
  it("404 body is Kong's JSON error template, byte for byte", () => {
    // kong/runloop/handler.lua: kong.response.error(404, "no Route matched with those values")
    expect(NO_ROUTE_MESSAGE).toBe('no Route matched with those values');
    const body = noRouteJsonBody('2c3c2ba0a1a8d1a06c4f3b8b7f2f1d3e');
    expect(body).toBe('{\n  "message":"no Route matched with those values",\n  "request_id":"2c3c2ba0a1a8d1a06c4f3b8b7f2f1d3e"\n}');
    expect(JSON.parse(body)).toEqual({ message: NO_ROUTE_MESSAGE, request_id: '2c3c2ba0a1a8d1a06c4f3b8b7f2f1d3e' });
  });

  it('426 asks for TLS with Upgrade headers', () => {
    const reply = protocolMismatchReply(route('r', { protocols: ['https'] }), 'example.com', '/a?b=1');
    expect(reply).toEqual({
      status: 426,
      message: 'Please use HTTPS protocol',
      headers: [
        ['connection', 'Upgrade'],
        ['upgrade', 'TLS/1.2, HTTP/1.1'],
      ],
    });
  });

  it.each([301, 302, 307, 308] as const)('%i redirects to https with the raw request URI', (status) => {
    const reply = protocolMismatchReply(route('r', { protocols: ['https'], https_redirect_status_code: status }), 'example.com', '/a?b=1');
    expect(reply).toEqual({ status, body: '', headers: [['location', 'https://example.com/a?b=1']] });
  });
});
