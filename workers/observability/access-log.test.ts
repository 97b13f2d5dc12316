/**
 * Access log line format, query redaction and the non-blocking line writer.
 */
import { mkdtempSync, openSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../src/shared/logger.js';
import { RequestContext } from '../http/request-context.js';
import { formatAccessLine, LineWriter, redactQuery, str } from './access-log.js';

function ctx(query: string, headers: Record<string, string>): RequestContext {
  const c = new RequestContext('ab'.repeat(16), 'POST', '/orders/7', query, { host: 'api.example.com', ...headers }, null, 'api.example.com', 8443, 'https', '10.0.0.1', '10.0.0.7', performance.now() - 12);
  c.route = { id: 'r-id', name: 'orders' } as RequestContext['route'];
  c.service = { id: 's-id', name: null } as RequestContext['service'];
  c.consumer = { id: 'c-id', username: 'alice', custom_id: null, groups: [] };
  c.upstreamPath = '/v1/orders/7';
  c.upstreamSentAt = c.startedAt + 2;
  c.upstreamHeadersAt = c.startedAt + 9;
  c.status = 201;
  c.bytesIn = 42;
  c.bytesOut = 512;
  return c;
}

describe('redactQuery', () => {
  it('replaces the values of credential-looking arguments, keeps the rest byte for byte', () => {
    expect(redactQuery('')).toBe('');
    expect(redactQuery('page=2&sort=asc')).toBe('page=2&sort=asc');
    expect(redactQuery('page=2&apikey=s3cr3t&x=1')).toBe('page=2&apikey=[REDACTED]&x=1');
    for (const name of ['api_key', 'key', 'token', 'access_token', 'jwt', 'signature', 'password', 'client_secret', 'X-API-KEY', 'x%2Dapi%2Dkey', 'code']) {
      expect(redactQuery(`${name}=v4lue&a=b`), name).toBe(`${name}=[REDACTED]&a=b`);
    }
    expect(redactQuery('apikey')).toBe('apikey');
    expect(redactQuery('%E0%A4%A=1')).toBe('%E0%A4%A=1');
  });
});

describe('formatAccessLine', () => {
  it("writes Kong's serializer fields as one valid JSON line without secrets", () => {
    const c = ctx('apikey=s3cr3t-key&page=2', { authorization: 'Bearer tok3n', cookie: 'sid=c00kie', apikey: 'hdr-k3y', 'user-agent': 'ua/1', 'x-forwarded-for': '1.2.3.4' });
    const line = formatAccessLine(c, 3, c.startedAt + 12, null);
    expect(line).not.toContain('\n');
    for (const secret of ['s3cr3t-key', 'tok3n', 'c00kie', 'hdr-k3y']) expect(line).not.toContain(secret);
    const j = JSON.parse(line) as Record<string, any>;
    expect(j.request_id).toBe('ab'.repeat(16));
    expect(j.client_ip).toBe('10.0.0.7');
    expect(j.request).toEqual({
      method: 'POST',
      uri: '/orders/7?apikey=[REDACTED]&page=2',
      url: 'https://api.example.com:8443/orders/7?apikey=[REDACTED]&page=2',
      size: 42,
      headers: { host: 'api.example.com', 'user-agent': 'ua/1', 'x-forwarded-for': '1.2.3.4' },
    });
    expect(j.upstream_uri).toBe('/v1/orders/7?apikey=[REDACTED]&page=2');
    expect(j.response).toEqual({ status: 201, size: 512 });
    expect(j.latencies).toEqual({ request: 12, proxy: 7, kong: 5 });
    expect(j.route).toEqual({ id: 'r-id', name: 'orders' });
    expect(j.service).toEqual({ id: 's-id', name: null });
    expect(j.consumer).toEqual({ id: 'c-id', username: 'alice' });
    expect(j.worker).toBe(3);
    expect(Math.abs(j.started_at - Date.now())).toBeLessThan(1000);
  });

  it('marks a request without a response as 499 with the error, and an unproxied one with proxy -1', () => {
    const c = ctx('', {});
    c.status = 0;
    c.upstreamSentAt = 0;
    c.upstreamHeadersAt = 0;
    c.route = null;
    c.service = null;
    c.consumer = null;
    const j = JSON.parse(formatAccessLine(c, 0, c.startedAt + 3, new Error('client "aborted"'))) as Record<string, any>;
    expect(j.response.status).toBe(499);
    expect(j.error).toBe('client "aborted"');
    expect(j.latencies.proxy).toBe(-1);
    expect(j.upstream_uri).toBe('');
    expect(j.route).toBeNull();
  });
});

describe('str (JSON string literal, ASCII only)', () => {
  it.each(['plain', '', 'quote " and backslash \\', 'tab\tnewline\ncr\r nul\u0000 del\u007f', 'héllo', 'emoji 😀 and ✓', '\u2028\u2029', 'lone surrogate \ud800'])(
    'round-trips %j through JSON.parse and stays ASCII',
    (s) => {
      const lit = str(s);
      expect(JSON.parse(lit)).toBe(s);
      expect(/^[\x20-\x7e]*$/.test(lit)).toBe(true);
    },
  );
});

describe('LineWriter', () => {
  it('writes every line, in order, including ones larger than a slab, and flushes synchronously at exit', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'access-log-')), 'a.log');
    const w = new LineWriter(openSync(file, 'a'), createLogger('silent'), file);
    const big = `{"big":"${'x'.repeat(100_000)}"}\n`;
    const expected: string[] = [];
    for (let i = 0; i < 5000; i++) {
      // Lines are ASCII: non-ASCII text reaches the writer escaped by str().
      const line = i === 2500 ? big : `{"n":${i},"s":${str('héllo ✓')}}\n`;
      expected.push(line);
      w.write(line);
    }
    await new Promise((r) => setTimeout(r, 700));
    w.write('{"last":true}\n');
    expected.push('{"last":true}\n');
    w.flushSync();
    const text = readFileSync(file, 'utf8');
    expect(text).toBe(expected.join(''));
    expect(JSON.parse(text.split('\n')[0]!)).toEqual({ n: 0, s: 'héllo ✓' });
  });

  it('with atomicWrite, splits writes at line ends and still writes everything in order', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'access-log-')), 'b.log');
    const w = new LineWriter(openSync(file, 'a'), createLogger('silent'), file, 100);
    const expected: string[] = [];
    for (let i = 0; i < 3000; i++) {
      const line = i % 500 === 7 ? `{"long":"${'y'.repeat(300)}"}\n` : `{"n":${i}}\n`;
      expected.push(line);
      w.write(line);
    }
    await new Promise((r) => setTimeout(r, 1500));
    expect(readFileSync(file, 'utf8')).toBe(expected.join(''));
  });
});
