import { describe, expect, it } from 'vitest';
import { errorContentType, renderError } from './error-body.js';

describe("Kong's error documents", () => {
  it('renders JSON by default exactly as Kong does', () => {
    const type = errorContentType(undefined);
    expect(type).toBe('application/json; charset=utf-8');
    const body = renderError(type, 'no Route matched with those values', 'abc');
    expect(body).toBe('{\n  "message":"no Route matched with those values",\n  "request_id":"abc"\n}');
    expect(JSON.parse(body)).toEqual({ message: 'no Route matched with those values', request_id: 'abc' });
  });

  it('follows Accept with q-values', () => {
    expect(errorContentType('text/html')).toBe('text/html; charset=utf-8');
    expect(errorContentType('application/xml;q=0.5, text/plain;q=0.9')).toBe('text/plain; charset=utf-8');
    expect(errorContentType('*/*')).toBe('application/json; charset=utf-8');
    expect(errorContentType('text/*')).toBe('text/plain; charset=utf-8');
    expect(errorContentType('image/png')).toBe('application/json; charset=utf-8');
  });

  it('escapes the message in every format', () => {
    expect(JSON.parse(renderError('application/json; charset=utf-8', 'a "quoted" \\ msg', 'x')).message).toBe('a "quoted" \\ msg');
    expect(renderError('text/html; charset=utf-8', '<script>', 'x')).not.toContain('<script>');
    expect(renderError('application/xml; charset=utf-8', 'a<b', 'x')).toContain('<message>a&#60;b</message>');
  });
});
