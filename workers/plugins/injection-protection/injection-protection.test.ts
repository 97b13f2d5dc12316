/**
 * injection-protection: the config a Kong user writes (through the real loader), each built-in
 * type in each location, custom injections, decoding, bodies (kinds, charsets, compression,
 * limits, chunk boundaries), the refusal and the log-only mode. Requests are RequestContexts
 * fed by a Downstream that delivers the body in the pieces asked for
 * (test/helpers/injection-requests.ts). The corpus figures are in corpus.test.ts; the wire
 * (status, body, headers, upstream untouched, log lines) in test/integration/injection-protection.test.ts.
 */
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { loadConfigText } from '../../../src/config/load.js';
import { ConsumerIndex } from '../../auth/consumer-index.js';
import { compilePipelines } from '../../pipeline/compile.js';
import { runAccess as runChain } from '../../pipeline/run.js';
import type { PluginEnv } from '../../pipeline/types.js';
import { makeRequest, pluginFrom, runAccess, type TestPlugin, type TestRequest } from '../../../test/helpers/injection-requests.js';
import { pluginDefinitions } from '../index.js';
import { pluginSchemas } from '../registry-schemas.js';
import { BODY_INSPECTION_LIMIT, TOO_LARGE_MESSAGE } from './handler.js';
import { percentDecode } from './decode.js';
import { INJECTION_TYPES } from './patterns.js';

const HEAD = '_format_version: "3.0"\n';
const JSON_CT = { 'content-type': 'application/json' };

function issues(config: string): string[] {
  const r = loadConfigText(`${HEAD}plugins:\n  - name: injection-protection\n    config: ${config}\n`, 'kong.yml', {});
  if (r.ok) throw new Error('expected the config to be refused');
  return r.issues.map((i) => `${i.line}:${i.col} ${i.path}: ${i.message}`);
}

async function verdictOf(p: TestPlugin, r: TestRequest) {
  return (await runAccess(p, r)).verdict;
}

// ---------------------------------------------------------------------------------------

describe('injection-protection config (Kong EE schema, through the loader)', () => {
  it("fills Kong's defaults: sql in path_and_query, block with 400 Bad Request", () => {
    const r = loadConfigText(`${HEAD}plugins:\n  - name: injection-protection\n`, 'kong.yml', {});
    if (!r.ok) throw new Error(JSON.stringify(r.issues));
    expect(r.config.plugins[0]!.config).toEqual({
      injection_types: ['sql'],
      custom_injections: null,
      locations: ['path_and_query'],
      enforcement_mode: 'block',
      error_status_code: 400,
      error_message: 'Bad Request',
    });
    expect(r.config.plugins[0]!.protocols).toEqual(['grpc', 'grpcs', 'http', 'https']);
  });

  it('is registered with Kong PRIORITY 1007 for the loader and the workers', () => {
    expect(pluginSchemas.get('injection-protection')?.priority).toBe(1007);
    expect(pluginDefinitions.get('injection-protection')?.priority).toBe(1007);
  });

  it("loads Kong's documented examples unchanged (all injections, custom regex, 3.12 path/query locations)", () => {
    const all = pluginFrom('{ injection_types: [sql, java_exception, js, ssi, xpath_abbreviated, xpath_extended], locations: [path_and_query], enforcement_mode: block, error_status_code: 400, error_message: Bad Request }');
    expect(all.config.injection_types).toHaveLength(6);
    const custom = pluginFrom({ injection_types: [], locations: ['path_and_query'], custom_injections: [{ name: 'Custom regex pattern', regex: '[^a-zA-Z0-9]' }], enforcement_mode: 'block', error_status_code: 400, error_message: 'Bad Request' });
    expect(custom.config.custom_injections).toEqual([{ name: 'Custom regex pattern', regex: '[^a-zA-Z0-9]' }]);
    const newer = pluginFrom({ injection_types: ['sql_low_sensitivity'], locations: ['path', 'query', 'headers', 'body'], enforcement_mode: 'log_only', error_status_code: 416 });
    expect(newer.config.locations).toEqual(['path', 'query', 'headers', 'body']);
  });

  it('refuses a status outside 400-499, unknown types and locations, with positions', () => {
    expect(issues('{ error_status_code: 399 }')).toEqual(['4:34 plugins[0].config.error_status_code: value should be between 400 and 499']);
    expect(issues('{ error_status_code: 500 }')).toEqual(['4:34 plugins[0].config.error_status_code: value should be between 400 and 499']);
    expect(issues('{ injection_types: [nosql] }')[0]).toMatch(/plugins\[0\]\.config\.injection_types\[0\]: expected one of: sql, sql_low_sensitivity, js, ssi, xpath_abbreviated, xpath_extended, java_exception/);
    expect(issues('{ locations: [cookies] }')[0]).toMatch(/plugins\[0\]\.config\.locations\[0\]: expected one of: headers, path, query, path_and_query, body/);
    expect(issues('{ enforcement_mode: warn }')[0]).toMatch(/enforcement_mode: expected one of: block, log_only/);
  });

  it('refuses a custom regex RE2 cannot compile, at load, with the reason', () => {
    expect(issues("{ custom_injections: [{ name: look, regex: 'a(?=b)' }] }")).toEqual([
      "4:56 plugins[0].config.custom_injections[0].regex: not a valid regex: a(?=b) (RE2 returned: invalid perl operator: (?=; RE2 has no lookaround and no backreferences)",
    ]);
    expect(issues("{ custom_injections: [{ name: back, regex: '(a)\\1' }] }")[0]).toMatch(/custom_injections\[0\]\.regex: not a valid regex: \(a\)\\1 \(RE2 returned: .*no lookaround and no backreferences\)/);
    expect(issues("{ custom_injections: [{ name: open, regex: '(abc' }] }")[0]).toMatch(/custom_injections\[0\]\.regex: not a valid regex: \(abc \(RE2 returned: missing \)/);
    // Compiles alone but not inside the case-insensitive wrapper it runs in.
    expect(issues("{ custom_injections: [{ name: quoted, regex: '\\Qabc' }] }")[0]).toMatch(/custom_injections\[0\]\.regex: not a valid regex/);
  });

  it('refuses custom injections without a name or a regex, and duplicate names', () => {
    expect(issues('{ custom_injections: [{ name: x }] }')[0]).toMatch(/custom_injections\[0\]\.regex: required field missing/);
    expect(issues('{ custom_injections: [{ regex: x }] }')[0]).toMatch(/custom_injections\[0\]\.name: required field missing/);
    expect(issues('{ custom_injections: [{ name: a, regex: x }, { name: a, regex: y }] }')[0]).toMatch(/custom_injections: custom injection names must be unique: 'a' appears more than once/);
  });
});

// ---------------------------------------------------------------------------------------

/** One representative attack per built-in type (the corpus has the rest). */
const SAMPLE: Record<(typeof INJECTION_TYPES)[number], string> = {
  sql: "' OR '1'='1",
  sql_low_sensitivity: '1 UNION SELECT username, password FROM users--',
  js: '<img src=x onerror=alert(1)>',
  ssi: '<!--#exec cmd="id" -->',
  xpath_abbreviated: "'] | //user/*[contains(*,'",
  xpath_extended: 'count(/child::node())',
  java_exception: 'Exception in thread "main" java.lang.NullPointerException',
};

/** The sample placed in one location. */
function placed(where: 'path' | 'query' | 'headers' | 'body', v: string): TestRequest {
  switch (where) {
    case 'path':
      return { path: `/api/items/${encodeURIComponent(v)}` };
    case 'query':
      return { query: `q=${encodeURIComponent(v)}` };
    case 'headers':
      return { headers: { 'x-note': v } };
    case 'body':
      return { body: JSON.stringify({ note: v }), headers: JSON_CT };
  }
}

const PLACES = ['path', 'query', 'headers', 'body'] as const;
/** Which places each configured location covers. */
const COVERS: Record<string, ReadonlyArray<(typeof PLACES)[number]>> = {
  path: ['path'],
  query: ['query'],
  path_and_query: ['path', 'query'],
  headers: ['headers'],
  body: ['body'],
};

describe('each injection type in each location', () => {
  for (const type of INJECTION_TYPES) {
    for (const [location, covered] of Object.entries(COVERS)) {
      it(`${type} in ${location}: refused where it looks, ignored elsewhere`, async () => {
        const p = pluginFrom({ injection_types: [type], locations: [location] });
        for (const place of PLACES) {
          const v = await verdictOf(p, placed(place, SAMPLE[type]));
          if (covered.includes(place)) expect(v, `${type} in ${place}`).toEqual({ status: 400, message: 'Bad Request' });
          else expect(v, `${type} in ${place} (not configured)`).toBeUndefined();
        }
        // The clean version of the same request passes everywhere.
        for (const place of PLACES) expect(await verdictOf(p, placed(place, 'a perfectly normal value'))).toBeUndefined();
      });
    }
  }

  it('a type that is not enabled does not fire (sql only: script tags pass)', async () => {
    const p = pluginFrom({ injection_types: ['sql'], locations: ['path_and_query'] });
    expect(await verdictOf(p, placed('query', SAMPLE.js))).toBeUndefined();
    expect(await verdictOf(p, placed('query', SAMPLE.sql))).toBeDefined();
  });

  it('checks header names and query argument names too', async () => {
    const p = pluginFrom({ injection_types: ['sql'], locations: ['path_and_query', 'headers'] });
    expect(await verdictOf(p, { query: `${encodeURIComponent("' or 1=1--")}=x` })).toBeDefined();
    const c = pluginFrom({ injection_types: [], custom_injections: [{ name: 'debug-header', regex: '^x-debug-' }], locations: ['headers'] });
    expect(await verdictOf(c, { headers: { 'x-debug-mode': 'on' } })).toBeDefined();
    expect(await verdictOf(c, { headers: { 'x-mode': 'debug' } })).toBeUndefined();
  });

  it('checks every query argument, not only the first 100 (Kong get_query stops at 100)', async () => {
    const p = pluginFrom({ injection_types: ['sql'] });
    const args = Array.from({ length: 150 }, (_, i) => `a${i}=${i}`);
    args.push(`last=${encodeURIComponent("' OR '1'='1")}`);
    expect(await verdictOf(p, { query: args.join('&') })).toBeDefined();
  });
});

// ---------------------------------------------------------------------------------------

describe('custom injections', () => {
  it('match case-insensitively like Kong (PCRE "i"), and (?-i) makes them case-sensitive', async () => {
    const p = pluginFrom({ injection_types: [], custom_injections: [{ name: 'ldap', regex: String.raw`\*\)\(\|?\(?objectclass=` }], locations: ['query'] });
    expect(await verdictOf(p, { query: `u=${encodeURIComponent('*)(|(ObjectClass=*))')}` })).toBeDefined();
    const cs = pluginFrom({ injection_types: [], custom_injections: [{ name: 'token', regex: '(?-i)SECRET' }], locations: ['query'] });
    expect(await verdictOf(cs, { query: 'x=SECRET' })).toBeDefined();
    expect(await verdictOf(cs, { query: 'x=secret' })).toBeUndefined();
  });

  it("are checked before the built-in types and named in the log (Kong's order)", async () => {
    const p = pluginFrom({ injection_types: ['sql'], custom_injections: [{ name: 'no-quotes', regex: "'" }], locations: ['query'] });
    await verdictOf(p, { query: `q=${encodeURIComponent("' OR '1'='1")}` });
    expect(p.logs).toHaveLength(1);
    expect(p.logs[0]!.obj).toMatchObject({ injection: 'no-quotes', rule: 'no-quotes', custom: true, location: 'query' });
  });

  it("Kong's example [^a-zA-Z0-9] refuses anything but letters and digits in path and query", async () => {
    const p = pluginFrom({ injection_types: [], custom_injections: [{ name: 'Custom regex pattern', regex: '[^a-zA-Z0-9]' }], locations: ['path_and_query'] });
    expect(await verdictOf(p, { path: '/abc', query: 'x=123' })).toBeUndefined();
    expect(await verdictOf(p, { path: '/abc', query: 'x=1-2' })).toBeDefined();
    expect(await verdictOf(p, { path: '/a%20b' })).toBeDefined();
  });

  it('a double-encoding guard: a custom rule on leftover escapes after the one decoding', async () => {
    const p = pluginFrom({ injection_types: ['sql'], custom_injections: [{ name: 'double-encoding', regex: '%[0-9a-f]{2}' }], locations: ['query'] });
    expect(await verdictOf(p, { query: 'q=%2527%2520OR%2520%25271%2527%253D%25271' })).toBeDefined();
    expect(p.logs[0]!.obj).toMatchObject({ injection: 'double-encoding' });
  });
});

// ---------------------------------------------------------------------------------------

describe('decoding before matching', () => {
  it('percent-decodes once; malformed escapes stay as sent and do not stop the rest', () => {
    expect(percentDecode('%27%20OR%20%271%27%3D%271', false)).toBe("' OR '1'='1");
    expect(percentDecode('a+b%2Bc', true)).toBe('a b+c');
    expect(percentDecode('a+b', false)).toBe('a+b');
    expect(percentDecode('%zz%27x%', false)).toBe("%zz'x%");
    expect(percentDecode('%2527', false)).toBe('%27');
    expect(percentDecode('%c0%a7', false)).toBe('\ufffd\ufffd');
    expect(percentDecode('caf%C3%A9', false)).toBe('café');
  });

  it("catches an encoded payload in path and query, + as a space, a malformed escape not hiding the rest", async () => {
    const p = pluginFrom({ injection_types: ['sql'] });
    expect(await verdictOf(p, { query: 'id=1+UNION+SELECT+1,2--' })).toBeDefined();
    expect(await verdictOf(p, { query: 'id=%zz%27%20OR%20%271%27%3D%271' })).toBeDefined();
    expect(await verdictOf(p, { path: '/users/1%27%20OR%20%271%27%3D%271' })).toBeDefined();
    expect(await verdictOf(p, { path: "/users/1'+OR+'1'='1" })).toBeDefined();
    // A %2F hides no segment boundary from the check: the segment is decoded whole.
    expect(await verdictOf(p, { path: '/files/1%20UNION%2F**%2FSELECT%201,2' })).toBeDefined();
  });

  it('decodes once, as Kong: a double-encoded payload reaches the upstream still encoded and is not a match', async () => {
    const p = pluginFrom({ injection_types: ['sql'] });
    expect(await verdictOf(p, { query: 'q=%2527%2520OR%2520%25271%2527%253D%25271' })).toBeUndefined();
  });

  it('decodes percent-encoded header values (cookies, Referer) in addition to the raw value', async () => {
    const p = pluginFrom({ injection_types: ['sql'], locations: ['headers'] });
    expect(await verdictOf(p, { headers: { cookie: 'id=1%27%20OR%20%271%27%3D%271' } })).toBeDefined();
    expect(await verdictOf(p, { headers: { cookie: 'name=O%27Brien; theme=dark' } })).toBeUndefined();
  });

  it('reads JSON strings decoded: \\u escapes cannot hide a payload, JSON quotes never reach a rule', async () => {
    const p = pluginFrom({ injection_types: ['sql', 'js'], locations: ['body'] });
    expect(await verdictOf(p, { body: '{"a":"\\u003cscript\\u003ealert(1)\\u003c/script\\u003e"}', headers: JSON_CT })).toBeDefined();
    expect(await verdictOf(p, { body: '{"name":"\\u0027 OR \\u00271\\u0027=\\u00271"}', headers: JSON_CT })).toBeDefined();
    expect(await verdictOf(p, { body: '{"or":"and","q":"\\"x\\" or \\"y\\"","list":["\'","--","#"],"n":1}', headers: JSON_CT })).toBeUndefined();
  });
});

// ---------------------------------------------------------------------------------------

describe('bodies', () => {
  const sqlBody = pluginFrom({ injection_types: ['sql'], locations: ['body'] });
  const attack = "' OR '1'='1";

  it('checks JSON keys as well as values, and names the JSON path in the log', async () => {
    const p = pluginFrom({ injection_types: ['sql'], locations: ['body'] });
    expect(await verdictOf(p, { body: JSON.stringify({ user: { [attack]: 1 } }), headers: JSON_CT })).toBeDefined();
    expect(p.logs[0]!.obj).toMatchObject({ location: 'body', field: `$.user.${attack}`, part: 'name' });
    expect(await verdictOf(p, { body: JSON.stringify({ list: [1, { q: attack }] }), headers: { 'content-type': 'application/problem+json' } })).toBeDefined();
    expect(p.logs[1]!.obj).toMatchObject({ field: '$.list[1].q', part: 'value' });
  });

  it('matches a body that is not valid JSON as text (an upstream may be lenient)', async () => {
    expect(await verdictOf(sqlBody, { body: `{"q": "${attack}", }`, headers: JSON_CT })).toBeDefined();
  });

  it('walks deeply nested JSON without recursion', async () => {
    const deep = `${'['.repeat(20000)}"${attack}"${']'.repeat(20000)}`;
    expect(await verdictOf(sqlBody, { body: deep, headers: JSON_CT })).toBeDefined();
    expect(await verdictOf(sqlBody, { body: `${'['.repeat(20000)}"fine"${']'.repeat(20000)}`, headers: JSON_CT })).toBeUndefined();
  });

  it('decodes urlencoded forms (names and values, + as a space)', async () => {
    expect(await verdictOf(sqlBody, { body: 'user=admin&pass=%27+OR+%271%27%3D%271', headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' } })).toBeDefined();
    expect(await verdictOf(sqlBody, { body: 'user=O%27Brien&note=select+a+seat', headers: { 'content-type': 'application/x-www-form-urlencoded' } })).toBeUndefined();
  });

  it('multipart: checks field names, file names and text fields; not file contents', async () => {
    const b = 'XyZ123';
    const ct = { 'content-type': `multipart/form-data; boundary="${b}"` };
    const part = (disposition: string, content: string, type = '') => `--${b}\r\nContent-Disposition: form-data; ${disposition}\r\n${type}\r\n${content}\r\n`;
    const body = (...parts: string[]) => `${parts.join('')}--${b}--\r\n`;
    expect(await verdictOf(sqlBody, { body: body(part('name="a"', 'fine'), part('name="q"', attack)), headers: ct })).toBeDefined();
    expect(await verdictOf(sqlBody, { body: body(part('name="meta"', JSON.stringify({ q: attack }), 'Content-Type: application/json\r\n')), headers: ct })).toBeDefined();
    expect(await verdictOf(sqlBody, { body: body(part(`name="f"; filename="${attack}.txt"`, 'x')), headers: ct })).toBeDefined();
    expect(await verdictOf(sqlBody, { body: body(part('name="f"; filename="dump.sql"', `SELECT 1; DROP TABLE users; ${attack}`, 'Content-Type: text/plain\r\n')), headers: ct })).toBeUndefined();
    // Not multipart after all (wrong boundary): matched as text.
    expect(await verdictOf(sqlBody, { body: `--other\r\n\r\n${attack}\r\n--other--`, headers: ct })).toBeDefined();
  });

  it('text, XML and untyped bodies are matched as text; binary types are not read at all', async () => {
    expect(await verdictOf(sqlBody, { body: `<q>${attack}</q>`, headers: { 'content-type': 'application/soap+xml' } })).toBeDefined();
    expect(await verdictOf(sqlBody, { body: attack })).toBeDefined();
    const { verdict, feed } = await runAccess(sqlBody, { body: attack, headers: { 'content-type': 'application/octet-stream' } });
    expect(verdict).toBeUndefined();
    expect(feed.attached).toBe(0);
  });

  it('honours the charset: UTF-16 is decoded, an unknown charset is refused (cannot be inspected)', async () => {
    const utf16 = Buffer.from(JSON.stringify({ q: attack }), 'utf16le');
    expect(await verdictOf(sqlBody, { body: utf16, headers: { 'content-type': 'application/json; charset=utf-16le' } })).toBeDefined();
    const be = Buffer.from(utf16).swap16();
    expect(await verdictOf(sqlBody, { body: be, headers: { 'content-type': 'application/json; charset=UTF-16BE' } })).toBeDefined();
    expect(await verdictOf(sqlBody, { body: '{"q":"fine"}', headers: { 'content-type': 'application/json; charset=ebcdic' } })).toEqual({ status: 400, message: 'Bad Request' });
    expect(sqlBody.logs.at(-1)!.obj).toMatchObject({ location: 'body', reason: "charset 'ebcdic' is not supported", action: 'block' });
  });

  it('decompresses gzip, deflate and br bodies; an unknown or corrupt coding is refused', async () => {
    const doc = Buffer.from(JSON.stringify({ q: attack }));
    for (const [coding, data] of [['gzip', gzipSync(doc)], ['deflate', deflateSync(doc)], ['br', brotliCompressSync(doc)]] as const) {
      expect(await verdictOf(sqlBody, { body: data, headers: { ...JSON_CT, 'content-encoding': coding } }), coding).toBeDefined();
      expect(await verdictOf(sqlBody, { body: gzipSync('{"q":"fine"}'), headers: { ...JSON_CT, 'content-encoding': 'gzip' } })).toBeUndefined();
    }
    expect(await verdictOf(sqlBody, { body: doc, headers: { ...JSON_CT, 'content-encoding': 'zstd' } })).toEqual({ status: 400, message: 'Bad Request' });
    expect(await verdictOf(sqlBody, { body: doc, headers: { ...JSON_CT, 'content-encoding': 'gzip' } })).toEqual({ status: 400, message: 'Bad Request' });
    expect(sqlBody.logs.at(-1)!.obj).toMatchObject({ reason: 'corrupt gzip body' });
  });

  it(`refuses with 413 a body over ${BODY_INSPECTION_LIMIT} bytes: announced (before reading), chunked, or decompressed`, async () => {
    const big = Buffer.alloc(BODY_INSPECTION_LIMIT + 1, 0x61);
    const announced = await runAccess(sqlBody, { body: big, headers: { 'content-type': 'text/plain' } });
    expect(announced.verdict).toEqual({ status: 413, message: TOO_LARGE_MESSAGE });
    expect(announced.feed.attached).toBe(0);
    const chunked = await runAccess(sqlBody, { body: big, chunked: true, splits: [65536, 131072], headers: { 'content-type': 'text/plain' } });
    expect(chunked.verdict).toEqual({ status: 413, message: TOO_LARGE_MESSAGE });
    const bomb = gzipSync(Buffer.alloc(BODY_INSPECTION_LIMIT * 4, 0x20));
    expect(bomb.length).toBeLessThan(16384);
    expect(await verdictOf(sqlBody, { body: bomb, headers: { 'content-type': 'text/plain', 'content-encoding': 'gzip' } })).toEqual({ status: 413, message: TOO_LARGE_MESSAGE });
    // At the limit exactly: inspected and let through.
    expect(await verdictOf(sqlBody, { body: Buffer.alloc(BODY_INSPECTION_LIMIT, 0x61), headers: { 'content-type': 'text/plain' } })).toBeUndefined();
  });

  it('finds a payload wherever the chunk boundaries fall (every split position, 2 and 3 pieces)', async () => {
    const p = pluginFrom({ injection_types: ['sql', 'js'], locations: ['body'] });
    const body = Buffer.from(JSON.stringify({ a: 'x', b: [1, 2], c: "it's '1' OR '1'='1" }));
    for (let i = 1; i < body.length; i++) {
      expect(await verdictOf(p, { body, headers: JSON_CT, chunked: true, splits: [i] }), `split at ${i}`).toBeDefined();
      expect(await verdictOf(p, { body, headers: JSON_CT, splits: [Math.floor(i / 2), i] }), `split at ${Math.floor(i / 2)},${i}`).toBeDefined();
    }
    const clean = Buffer.from(JSON.stringify({ a: "O'Brien", b: '<b>bold</b>' }));
    for (let i = 1; i < clean.length; i++) expect(await verdictOf(p, { body: clean, headers: JSON_CT, chunked: true, splits: [i] })).toBeUndefined();
  });

  it('with no rule at all (no types, no custom injection) has no access phase and reads nothing', async () => {
    const p = pluginFrom({ injection_types: [], locations: ['body', 'headers'] });
    expect(p.handler.access).toBeUndefined();
    const r = await runAccess(p, { body: JSON.stringify({ q: attack }), headers: JSON_CT });
    expect(r.feed.attached).toBe(0);
  });

  it('does not read the body when the location is not configured, nor a request without one', async () => {
    const p = pluginFrom({ injection_types: ['sql'], locations: ['path_and_query', 'headers'] });
    const r = await runAccess(p, { body: JSON.stringify({ q: attack }), headers: JSON_CT });
    expect(r.verdict).toBeUndefined();
    expect(r.feed.attached).toBe(0);
    expect(r.ctx.body).toBeNull();
    expect((await runAccess(sqlBody, { method: 'GET' })).verdict).toBeUndefined();
  });

  it('block mode buffers the checked body: the proxy sends exactly those bytes', async () => {
    const text = JSON.stringify({ q: 'fine' });
    const r = await runAccess(sqlBody, { body: text, headers: JSON_CT, splits: [3, 7] });
    expect(r.verdict).toBeUndefined();
    expect(r.ctx.body?.toString()).toBe(text);
  });
});

// ---------------------------------------------------------------------------------------

describe('the refusal and the log line', () => {
  it('answers with error_status_code and error_message (Kong error document), logs a warning', async () => {
    const p = pluginFrom({ injection_types: ['js'], locations: ['query'], error_status_code: 422, error_message: 'Unprocessable: injection detected' });
    expect(await verdictOf(p, { query: `c=${encodeURIComponent('<script>alert(1)</script>')}` })).toEqual({ status: 422, message: 'Unprocessable: injection detected' });
    expect(p.logs).toEqual([
      {
        level: 'warn',
        obj: { requestId: '0123456789abcdef0123456789abcdef', injection: 'js', rule: 'js.script_tag', custom: false, location: 'query', field: 'c', part: 'value', action: 'block' },
        msg: "threat detected: 'js', action taken: block, found in query",
      },
    ]);
  });

  it('stops at the first location with a finding: path and query, then headers, then the body (not read)', async () => {
    const p = pluginFrom({ injection_types: ['sql'], locations: ['body', 'headers', 'path_and_query'] });
    const r = await runAccess(p, { path: `/x/${encodeURIComponent("1' OR '1'='1")}`, headers: { 'x-a': "' OR 'a'='a", ...JSON_CT }, body: '{"q":"\' OR 1=1--"}' });
    expect(r.verdict).toBeDefined();
    expect(p.logs.map((l) => l.obj['location'])).toEqual(['path']);
    expect(p.logs[0]!.obj['field']).toBe('segment 2');
    expect(r.feed.attached).toBe(0);
  });

  it('never logs the value, and caps the field name at 64 characters', async () => {
    const secretish = `' OR '1'='1 -- ${'s3cr3t-'.repeat(30)}`;
    const p = pluginFrom({ injection_types: ['sql'], locations: ['path_and_query', 'headers', 'body'], enforcement_mode: 'log_only' });
    await runAccess(p, { query: `${encodeURIComponent(secretish)}=1&v=${encodeURIComponent(secretish)}`, headers: { authorization: secretish }, body: JSON.stringify({ [secretish]: secretish }), splits: [10] });
    const text = JSON.stringify(p.logs);
    expect(p.logs.length).toBe(3);
    expect(text).not.toContain('s3cr3t-s3cr3t-s3cr3t-s3cr3t-s3cr3t-s3cr3t-s3cr3t-s3cr3t-s3cr3t');
    for (const l of p.logs) expect(String(l.obj['field']).length).toBeLessThanOrEqual(65);
    expect(p.logs.find((l) => l.obj['location'] === 'headers')!.obj['field']).toBe('authorization');
  });
});

describe('log_only', () => {
  const p = pluginFrom({ injection_types: ['sql', 'js'], locations: ['path_and_query', 'headers', 'body'], enforcement_mode: 'log_only' });

  it('lets the request through and logs one line per location with a finding, action log_only', async () => {
    p.logs.length = 0;
    const r = await runAccess(p, { query: `q=${encodeURIComponent('<script>x</script>')}`, headers: { 'x-a': "' OR 'a'='a", ...JSON_CT }, body: JSON.stringify({ q: "' OR 1=1--" }), splits: [5, 9] });
    expect(r.verdict).toBeUndefined();
    expect(p.logs.map((l) => [l.obj['location'], l.obj['injection'], l.obj['action']])).toEqual([
      ['query', 'js', 'log_only'],
      ['headers', 'sql', 'log_only'],
      ['body', 'sql', 'log_only'],
    ]);
    expect(p.logs[2]!.msg).toBe("threat detected: 'sql', action taken: log_only, found in body");
  });

  it('streams the body upstream untouched (no buffering by the plugin) and checks it at its end', async () => {
    p.logs.length = 0;
    const text = JSON.stringify({ a: 1, q: "' OR 1=1--" });
    const r = await runAccess(p, { body: text, headers: JSON_CT, chunked: true, splits: [4, 11, 20] });
    expect(r.verdict).toBeUndefined();
    expect(r.ctx.body).toBeNull();
    expect(Buffer.concat(r.feed.delivered).toString()).toBe(text);
    expect(p.logs).toHaveLength(1);
  });

  it('logs a body it cannot inspect (over the limit, unknown coding) and lets it through', async () => {
    p.logs.length = 0;
    const big = await runAccess(p, { body: Buffer.alloc(BODY_INSPECTION_LIMIT + 10, 0x61), chunked: true, splits: [500000], headers: { 'content-type': 'text/plain' } });
    expect(big.verdict).toBeUndefined();
    expect(Buffer.concat(big.feed.delivered).length).toBe(BODY_INSPECTION_LIMIT + 10);
    const odd = await runAccess(p, { body: 'x', headers: { 'content-type': 'text/plain', 'content-encoding': 'compress' } });
    expect(odd.verdict).toBeUndefined();
    expect(p.logs.map((l) => l.obj['reason'])).toEqual([`body over ${BODY_INSPECTION_LIMIT} bytes`, "content coding 'compress' is not supported"]);
  });
});

describe('in a chain (Kong PRIORITY order)', () => {
  it('runs after key-auth (1250): an unauthenticated request gets 401 before any inspection', () => {
    const r = loadConfigText(
      `${HEAD}services:
  - name: s
    url: http://127.0.0.1:1
    routes:
      - name: r
        paths: [/api]
        plugins:
          - name: injection-protection
          - name: key-auth
consumers:
  - username: alice
    keyauth_credentials:
      - key: alice-key
`,
      'kong.yml',
      {},
    );
    if (!r.ok) throw new Error(JSON.stringify(r.issues));
    const env: PluginEnv = { workerId: 1, log: { info() {}, warn() {}, error() {} }, consumers: new ConsumerIndex(r.config.consumers) };
    const chain = compilePipelines(r.config, pluginDefinitions, () => env).forRoute(r.config.routes[0]!);
    const mk = (headers: Record<string, string>, query: string) => makeRequest({ path: '/api', query, headers }).ctx;
    expect(runChain(chain, mk({}, `q=${encodeURIComponent("' OR '1'='1")}`))).toMatchObject({ status: 401 });
    expect(runChain(chain, mk({ apikey: 'alice-key' }, `q=${encodeURIComponent("' OR '1'='1")}`))).toMatchObject({ status: 400, message: 'Bad Request' });
    expect(runChain(chain, mk({ apikey: 'alice-key' }, 'q=hello'))).toBeUndefined();
  });
});
