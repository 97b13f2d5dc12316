/**
 * request-transformer templates: the forms Kong documents render from the request as it
 * arrived (headers case-insensitive with `_` for `-`, query arguments, numbered and named
 * URI captures, kong.ctx.shared), Lua's `or`/`and` truthiness, Kong's escape forms, and
 * every expression outside that subset refused when the config loads, with its position.
 */
import { describe, expect, it } from 'vitest';
import { parseQuery } from '../../http/query.js';
import { compileTemplate, renderTemplate, templateProblem, type TemplateSources } from './template.js';

const src: TemplateSources = {
  headers: { 'x-user-id': 'u-42', authorization: 'abc', 'x-empty': '', accept: 'a, b' },
  query: parseQuery('user=alice&tag=a&tag=b&debug&sp=a%20b'),
  captures: { '0': '/orders/7/items', '1': '7', '2': 'items', order_id: '7' },
  shared: { tenant: 'acme', nested: { plan: 'gold' }, n: 3, off: false, on: true },
};

function render(t: string, s: TemplateSources = src): string {
  return renderTemplate(compileTemplate(t), s);
}

describe('template rendering', () => {
  it('renders the documented header forms, case-insensitively, `_` standing for `-`', () => {
    expect(render('$(headers.x_user_id)')).toBe('u-42');
    expect(render('$(headers["X-User-Id"])')).toBe('u-42');
    expect(render("$(headers['x-user-id'])")).toBe('u-42');
    expect(render('$(headers.Authorization)')).toBe('abc');
    expect(render('$(headers.missing)')).toBe('');
    expect(render('$(headers.accept)')).toBe('a, b');
  });

  it('renders query arguments: one value, repeated values joined, a bare flag as true, decoded', () => {
    expect(render('$(query_params.user)')).toBe('alice');
    expect(render('$(query_params["tag"])')).toBe('a, b');
    expect(render('$(query_params.tag[2])')).toBe('b');
    expect(render('$(query_params.debug)')).toBe('true');
    expect(render('$(query_params.sp)')).toBe('a b');
    expect(render('$(query_params.none)')).toBe('');
  });

  it('renders numbered and named URI captures, and kong.ctx.shared values', () => {
    expect(render('/v2/$(uri_captures[1])/$(uri_captures.order_id)/$(uri_captures["2"])')).toBe('/v2/7/7/items');
    expect(render('$(uri_captures[0])')).toBe('/orders/7/items');
    expect(render('$(uri_captures[9])')).toBe('');
    expect(render('$(shared.tenant)-$(shared.nested.plan)-$(shared["n"])')).toBe('acme-gold-3');
    expect(render('[$(shared.off)][$(shared.on)]')).toBe('[][true]');
    expect(render('$(uri_captures.x)', { ...src, captures: null, shared: null })).toBe('');
    expect(render('$(shared.x)', { ...src, shared: null })).toBe('');
  });

  it("follows Lua's `or`/`and`: only nil and false are false, an empty string is a value", () => {
    expect(render('$(uri_captures["user-id"] or query_params["user"] or "unknown")')).toBe('alice');
    expect(render('$(headers.nope or query_params.nope or "unknown")')).toBe('unknown');
    expect(render('$(headers.x_empty or "fallback")')).toBe('');
    expect(render('$(shared.off or "was-false")')).toBe('was-false');
    expect(render('$(headers.authorization and "present" or "absent")')).toBe('present');
    expect(render('$(headers.nope and "present" or "absent")')).toBe('absent');
    expect(render('$((headers.nope or headers.x_user_id) and shared.tenant)')).toBe('acme');
    expect(render('$(nil or true)|$(false)|$(nil)')).toBe('true||');
  });

  it('keeps constant text around placeholders, and renders a constant without evaluating anything', () => {
    expect(render('Basic $(query_params["user"])!')).toBe('Basic alice!');
    const t = compileTemplate('no placeholders: 50$ (or so)');
    expect(t.parts).toBeNull();
    expect(renderTemplate(t, null)).toBe('no placeholders: 50$ (or so)');
  });

  it("escapes: Kong's $('...') string form, and \\$ for a literal dollar", () => {
    expect(render("$('$(something_that_needs_to_escaped)')")).toBe('$(something_that_needs_to_escaped)');
    expect(render('\\$(headers.x_user_id) is $(headers.x_user_id)')).toBe('$(headers.x_user_id) is u-42');
    expect(render('a\\b')).toBe('a\\b');
    expect(render('$("quote \\" and \\\\ and \\n")')).toBe('quote " and \\ and \n');
  });

  it('never reaches prototype properties', () => {
    expect(render('$(headers.constructor)$(shared.__proto__)$(query_params.toString)$(shared.nested.constructor)')).toBe('');
  });

  it('lists the request data a template reads', () => {
    expect([...compileTemplate('$(headers.a or query_params.b) $(uri_captures[1])').roots].sort()).toEqual(['headers', 'query_params', 'uri_captures']);
    expect(compileTemplate('plain').roots.size).toBe(0);
  });
});

describe('templates refused at config load', () => {
  const refused: Array<[string, string]> = [
    ['$(type(headers.x))', "unsupported name 'type' at position 3"],
    ['$(headers.x:lower())', 'function calls are not supported at position 12'],
    ['$(string.upper(headers.x))', "unsupported name 'string' at position 3"],
    ['$((function() return 1 end)())', "unsupported name 'function' at position 4"],
    ['$(headers.a .. "x")', "'..' (concatenation) is not supported: put constant text outside the placeholder at position 13"],
    ['$("x" .. headers.a)', "'..' (concatenation) is not supported: put constant text outside the placeholder at position 7"],
    ['$(ngx.var.remote_addr)', "unsupported name 'ngx' at position 3"],
    ['$(os)', "unsupported name 'os' at position 3"],
    ['$(headers)', "'headers' needs a name, e.g. headers.name or headers[\"name\"] at position 10"],
    ['$(headers[x])', 'an index must be a string or an integer at position 11'],
    ['$(headers.x', "missing ')' at position 12"],
    ['$(1 + 1)', "unsupported '1' at position 3"],
    ['$(not headers.x)', "unsupported name 'not' at position 3"],
    ['$("unfinished)', 'unfinished string at position 15'],
    ['$("\\q")', "unsupported escape '\\q' in a string at position 5"],
    ['$()', "unsupported ')' at position 3"],
  ];
  for (const [tpl, detail] of refused) {
    it(`refuses ${tpl}`, () => {
      expect(templateProblem(tpl)).toBe(
        `value '${tpl}' is not in supported format, error: ${detail} (supported: headers, query_params, uri_captures, shared, string literals, nil, true, false, or, and, parentheses)`,
      );
    });
  }

  it('accepts every documented form', () => {
    for (const ok of [
      '$(headers.x-y)'.replace('x-y', 'x_y'),
      '$(headers["x-y"])',
      "$(query_params['a b'])",
      '$(uri_captures[1])',
      '$(uri_captures.name)',
      '$(shared.k)',
      "$('$(escaped)')",
      'Basic $(query_params["auth"])',
      '$(uri_captures["user-id"] or query_params["user"] or "unknown")',
      '50$ and $ alone',
    ]) {
      expect(templateProblem(ok)).toBeUndefined();
    }
  });
});
