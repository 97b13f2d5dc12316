import { describe, expect, it } from 'vitest';
import { formatBinaryAddress, normalizeAddress, resolveClientIp, TrustedProxies } from './client-address.js';

describe('normalizeAddress', () => {
  it.each([
    ['0000:0000:0000:0000:0000:ffff:7f00:0001', '127.0.0.1'],
    ['0000:0000:0000:0000:0000:ffff:c0a8:0a01', '192.168.10.1'],
    ['::ffff:10.1.2.3', '10.1.2.3'],
    ['0000:0000:0000:0000:0000:0000:0000:0001', '::1'],
    ['2001:0DB8:0000:0000:0000:0000:0002:0001', '2001:db8::2:1'],
    ['2001:db8:0:1:0:0:0:1', '2001:db8:0:1::1'],
    ['10.0.0.1', '10.0.0.1'],
  ])('%s -> %s', (input, expected) => {
    expect(normalizeAddress(input)).toBe(expected);
  });

  it('formats uWS binary addresses, unmapping IPv4', () => {
    const mapped = new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1]);
    expect(formatBinaryAddress(mapped.buffer)).toBe('127.0.0.1');
    const v6 = new Uint8Array(16);
    v6[15] = 1;
    expect(formatBinaryAddress(v6.buffer)).toBe('::1');
    expect(formatBinaryAddress(new Uint8Array([10, 1, 2, 3]).buffer)).toBe('10.1.2.3');
  });

  it('never answers with the previous address (it remembers the last one formatted)', () => {
    const v4mapped = (a: number, b: number, c: number, d: number): ArrayBuffer =>
      new Uint8Array([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, a, b, c, d]).buffer;
    const seq: Array<[ArrayBuffer, string]> = [
      [v4mapped(10, 0, 0, 1), '10.0.0.1'],
      [v4mapped(10, 0, 0, 1), '10.0.0.1'],
      [v4mapped(10, 0, 0, 2), '10.0.0.2'],
      [v4mapped(11, 0, 0, 2), '11.0.0.2'],
      // Same 16 bytes but the first: an IPv6 address, not the mapped one before it.
      [new Uint8Array([0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 11, 0, 0, 2]).buffer, '2000::ffff:b00:2'],
      [new Uint8Array([11, 0, 0, 2]).buffer, '11.0.0.2'],
      [new Uint8Array([11, 0, 0, 3]).buffer, '11.0.0.3'],
      [v4mapped(11, 0, 0, 3), '11.0.0.3'],
    ];
    for (const [ab, text] of seq) expect(formatBinaryAddress(ab)).toBe(text);
  });
});

describe('client address behind proxies', () => {
  const trusted = new TrustedProxies(['10.0.0.0/8', '2001:db8::/32']);

  it('ignores forwarding headers from an untrusted peer', () => {
    expect(resolveClientIp('203.0.113.9', { 'x-real-ip': '1.2.3.4' }, trusted, 'x-real-ip', false)).toBe('203.0.113.9');
  });

  it('believes real_ip_header from a trusted peer', () => {
    expect(resolveClientIp('10.1.1.1', { 'x-real-ip': '1.2.3.4' }, trusted, 'x-real-ip', false)).toBe('1.2.3.4');
  });

  it('takes the last X-Forwarded-For hop, or skips trusted hops when recursive', () => {
    const h = { 'x-forwarded-for': '198.51.100.7, 1.2.3.4, 10.9.9.9' };
    expect(resolveClientIp('10.1.1.1', h, trusted, 'x-forwarded-for', false)).toBe('10.9.9.9');
    expect(resolveClientIp('10.1.1.1', h, trusted, 'x-forwarded-for', true)).toBe('1.2.3.4');
  });

  it('falls back to the peer on garbage', () => {
    expect(resolveClientIp('10.1.1.1', { 'x-real-ip': 'not-an-ip' }, trusted, 'x-real-ip', false)).toBe('10.1.1.1');
  });

  it('trusts nothing by default and rejects bad entries', () => {
    const none = new TrustedProxies([]);
    expect(none.has('127.0.0.1')).toBe(false);
    expect(() => new TrustedProxies(['10.0.0.0/33'])).toThrow(/prefix/);
    expect(() => new TrustedProxies(['example.com'])).toThrow(/not an IP/);
    expect(trusted.has('2001:db8::5')).toBe(true);
  });
});

describe('TrustedProxies keeps address families apart', () => {
  it('::/0 trusts IPv6 peers only, never an IPv4 client (no spoofing through real_ip_header)', () => {
    const t = new TrustedProxies(['::/0']);
    expect(t.has('2001:db8::1')).toBe(true);
    expect(t.has('203.0.113.9')).toBe(false);
    expect(resolveClientIp('203.0.113.9', { 'x-forwarded-for': '10.0.0.1' }, t, 'x-forwarded-for', false)).toBe('203.0.113.9');
  });

  it('an IPv4-mapped entry trusts the IPv4 subnet it stands for', () => {
    const t = new TrustedProxies(['::ffff:10.0.0.0/104']);
    expect(t.has('10.1.2.3')).toBe(true);
    expect(t.has('11.0.0.1')).toBe(false);
    expect(() => new TrustedProxies(['::ffff:10.0.0.0/64'])).toThrow(/IPv4-mapped/);
  });

  it('0.0.0.0/0 trusts every IPv4 peer and no IPv6 one', () => {
    const t = new TrustedProxies(['0.0.0.0/0']);
    expect(t.has('198.51.100.1')).toBe(true);
    expect(t.has('::1')).toBe(false);
  });
});
