import { describe, expect, it } from 'vitest';
import { RequestContext } from '../http/request-context.js';
import { isPlainValue, upstreamRequestHeaders, VIA_TOKEN } from './forward-headers.js';

function context(headers: Record<string, string>, checked: boolean): RequestContext {
  const h = Object.assign(Object.create(null) as Record<string, string>, headers);
  const ctx = new RequestContext('ab'.repeat(16), 'GET', '/orders', '', h, null, 'api.example.com', 8000, 'http', '10.0.0.9', '10.0.0.9', 0);
  ctx.headersChecked = checked;
  return ctx;
}

function asObject(flat: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < flat.length; i += 2) out[flat[i]!] = flat[i + 1]!;
  return out;
}

const info = { host: 'upstream.internal', trustedPeer: false, prefix: null };

describe('upstreamRequestHeaders', () => {
  it('re-encodes a non-ASCII value (decoded by uWS as UTF-8) to the bytes the client sent', () => {
    const out = asObject(upstreamRequestHeaders(context({ host: 'api.example.com', 'x-name': 'café', via: '1.0 edé' }, false), info));
    expect(Buffer.from(out['x-name']!, 'latin1').toString('hex')).toBe(Buffer.from('café', 'utf8').toString('hex'));
    expect(Buffer.from(out['via']!, 'latin1').toString('utf8')).toBe(`1.0 edé, ${VIA_TOKEN}`);
  });

  it('passes vouched-for values through as they are, with the computed X-Forwarded-* and Via', () => {
    const ctx = context({ host: 'api.example.com', 'user-agent': 'k6/0.49', 'x-forwarded-for': '192.0.2.1', via: '1.1 edge' }, true);
    const out = asObject(upstreamRequestHeaders(ctx, info));
    expect(out).toEqual({
      'user-agent': 'k6/0.49',
      host: 'upstream.internal',
      'x-forwarded-for': '192.0.2.1, 10.0.0.9',
      'x-forwarded-proto': 'http',
      'x-forwarded-host': 'api.example.com',
      'x-forwarded-port': '8000',
      'x-forwarded-path': '/orders',
      'x-real-ip': '10.0.0.9',
      via: `1.1 edge, ${VIA_TOKEN}`,
    });
  });

  it('re-encodes the Host value even when the request headers were vouched for (it comes from the config or a plugin)', () => {
    const out = asObject(upstreamRequestHeaders(context({ host: 'a' }, true), { ...info, host: 'bücher.example' }));
    expect(Buffer.from(out['host']!, 'latin1').toString('utf8')).toBe('bücher.example');
  });
});

describe('upstreamRequestHeaders with the listener\'s list of names', () => {
  it('sends what setHeader left, once each, in the order the names first appeared', () => {
    const ctx = context({ host: 'a', accept: '*/*', apikey: 'k1', 'x-b': '2' }, true);
    ctx.headerNames = ['host', 'accept', 'apikey', 'x-b'];
    ctx.setHeader('apikey', null);
    ctx.setHeader('x-consumer-id', 'c1');
    ctx.setHeader('x-b', null);
    ctx.setHeader('x-b', '3');
    ctx.setHeader('x-consumer-id', 'c2');
    const out = upstreamRequestHeaders(ctx, info);
    const own = out.slice(0, out.indexOf('host'));
    expect(own).toEqual(['accept', '*/*', 'x-b', '3', 'x-consumer-id', 'c2']);
    // The same answer as walking the object itself.
    const walked = context({}, true);
    walked.headers = ctx.headers;
    expect(upstreamRequestHeaders(walked, info).slice(0, out.indexOf('host'))).toEqual(expect.arrayContaining(own));
  });
});

describe('RequestContext.headersChecked', () => {
  it('is false unless a listener sets it', () => {
    const plain = new RequestContext('id', 'GET', '/', '', Object.create(null) as Record<string, string>, null, 'h', 80, 'http', '127.0.0.1', '127.0.0.1', 0);
    expect(plain.headersChecked).toBe(false);
  });

  it('survives removals and plain values (identity headers), and is cleared by anything else', () => {
    const ctx = context({ host: 'a', authorization: 'Bearer x' }, true);
    ctx.setHeader('authorization', null);
    ctx.setHeader('x-consumer-id', '5f1c0e1a-8d3c-4b7e-9a1f-2b4c6d8e0f11');
    ctx.setHeader('X-Consumer-Username', 'alice smith\t(ops)');
    expect(ctx.headersChecked).toBe(true);
    for (const [name, value] of [
      ['x-name', 'a\r\nX-Admin: true'],
      ['x-name', 'nul\0'],
      ['x-name', 'café'],
      ['x name', 'v'],
      ['x-name:', 'v'],
    ] as const) {
      const c = context({ host: 'a' }, true);
      c.setHeader(name, value);
      expect(c.headersChecked, `${JSON.stringify(name)}: ${JSON.stringify(value)}`).toBe(false);
    }
  });
});

describe('isPlainValue', () => {
  it('accepts HTAB and visible ASCII only', () => {
    expect(isPlainValue('a b\tc ~!')).toBe(true);
    expect(isPlainValue('')).toBe(true);
    for (const bad of ['a\r\nX-Injected: 1', 'a\nb', 'nul\0', 'del\x7f', 'café', 'bell\x07']) expect(isPlainValue(bad), JSON.stringify(bad)).toBe(false);
  });
});
