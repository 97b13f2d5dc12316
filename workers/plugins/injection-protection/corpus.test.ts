/**
 * The injection corpus (corpus/attacks.json, corpus/benign.json) through the plugin, in every
 * place and encoding a client can use: query values and names (percent-encoded, `+` for
 * spaces), path segments, headers, JSON bodies (values, keys, \u-escaped), urlencoded forms,
 * multipart fields, text bodies, gzip-compressed JSON and JSON bodies split into many chunks.
 *
 * - Catch rate, per injection type, with only that type enabled: an attack counts as caught
 *   only when it is refused in every delivery.
 * - False positives, with every type enabled and every location: a benign input counts as a
 *   false positive when any delivery is refused.
 * Both are printed (the README quotes them) and asserted: 100% and 0.
 */
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { pluginFrom, runAccess, type TestPlugin, type TestRequest } from '../../../test/helpers/injection-requests.js';
import { INJECTION_TYPES, type InjectionType } from './patterns.js';

interface AttackEntry {
  value: string;
  technique: string;
}
type Attacks = Record<Exclude<InjectionType, 'sql_low_sensitivity'>, AttackEntry[]>;
interface Benign {
  [category: string]: unknown[];
  json_documents: Array<Record<string, unknown>>;
}

const attacks = JSON.parse(readFileSync(new URL('./corpus/attacks.json', import.meta.url), 'utf8')) as Attacks;
const benign = JSON.parse(readFileSync(new URL('./corpus/benign.json', import.meta.url), 'utf8')) as Benign;

const ALL_LOCATIONS = ['path_and_query', 'headers', 'body'];
const JSON_CT = { 'content-type': 'application/json' };

/** A header value a client can send: visible ASCII, spaces and tabs. */
function headerSafe(v: string): boolean {
  return /^[\t\x20-\x7e]*$/.test(v);
}

function jsonUnicodeEscaped(doc: unknown): string {
  return JSON.stringify(doc).replace(/[<>'&]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function multipart(name: string, value: string): TestRequest {
  const boundary = '----portcullis7MA4YWxkTrZu0gW';
  const body = `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n--${boundary}\r\nContent-Disposition: form-data; name="upload"; filename="notes.bin"\r\nContent-Type: application/octet-stream\r\n\r\n\x00\x01binary\r\n--${boundary}--\r\n`;
  return { body, headers: { 'content-type': `multipart/form-data; boundary=${boundary}` } };
}

function splitEvery(len: number, parts: number): number[] {
  const out: number[] = [];
  for (let i = 1; i < parts; i++) out.push(Math.floor((len * i) / parts));
  return out;
}

interface Delivery {
  name: string;
  applies?: (v: string) => boolean;
  request: (v: string) => TestRequest;
}

const DELIVERIES: Delivery[] = [
  { name: 'query value', request: (v) => ({ query: `page=2&q=${encodeURIComponent(v)}` }) },
  { name: 'query value, + for spaces', request: (v) => ({ query: `q=${encodeURIComponent(v).replace(/%20/g, '+')}&page=2` }) },
  { name: 'query name', request: (v) => ({ query: `${encodeURIComponent(v)}=1` }) },
  { name: 'path segment', request: (v) => ({ path: `/api/items/${encodeURIComponent(v)}/details` }) },
  { name: 'header value', applies: headerSafe, request: (v) => ({ headers: { 'x-comment': v } }) },
  { name: 'json value', request: (v) => ({ body: JSON.stringify({ id: 7, comment: v }), headers: JSON_CT }) },
  { name: 'json key', request: (v) => ({ body: JSON.stringify({ data: { [v]: true } }), headers: JSON_CT }) },
  { name: 'json, \\u-escaped', request: (v) => ({ body: jsonUnicodeEscaped({ list: ['x', v] }), headers: { 'content-type': 'application/vnd.api+json' } }) },
  { name: 'form field', request: (v) => ({ body: new URLSearchParams({ name: 'x', comment: v }).toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' } }) },
  { name: 'multipart field', request: (v) => multipart('comment', v) },
  { name: 'text body', request: (v) => ({ body: v, headers: { 'content-type': 'text/plain; charset=utf-8' } }) },
  { name: 'gzip json', request: (v) => ({ body: gzipSync(JSON.stringify({ comment: v })), headers: { ...JSON_CT, 'content-encoding': 'gzip' } }) },
  {
    name: 'chunked json, 9 pieces',
    request: (v) => {
      const body = Buffer.from(JSON.stringify({ a: [1, 2, { comment: v }] }));
      return { body, headers: JSON_CT, chunked: true, splits: splitEvery(body.length, 9) };
    },
  },
];

async function refused(p: TestPlugin, r: TestRequest): Promise<boolean> {
  const { verdict } = await runAccess(p, r);
  return verdict !== undefined;
}

/** Deliveries in which `value` was let through. */
async function misses(p: TestPlugin, value: string): Promise<string[]> {
  const out: string[] = [];
  for (const d of DELIVERIES) {
    if (d.applies !== undefined && !d.applies(value)) continue;
    if (!(await refused(p, d.request(value)))) out.push(d.name);
  }
  return out;
}

function pct(n: number, of: number): string {
  return `${((100 * n) / of).toFixed(1)}%`;
}

describe('injection corpus: catch rate per type (only that type enabled, every delivery)', () => {
  const rows: string[] = [];
  const types = Object.keys(attacks) as Array<keyof Attacks>;

  for (const type of types) {
    it(`${type}: every attack is refused wherever it is sent`, async () => {
      const p = pluginFrom({ injection_types: [type], locations: ALL_LOCATIONS });
      const missed: string[] = [];
      for (const a of attacks[type]) {
        const m = await misses(p, a.value);
        if (m.length > 0) missed.push(`${JSON.stringify(a.value)} missed in: ${m.join(', ')}`);
      }
      const caught = attacks[type].length - missed.length;
      rows.push(`${type.padEnd(18)} ${String(caught).padStart(3)}/${String(attacks[type].length).padEnd(3)} ${pct(caught, attacks[type].length)}`);
      expect(missed, missed.join('\n')).toEqual([]);
    });
  }

  it('sql_low_sensitivity: catches the unambiguous SQL techniques (union, stacked, time, functions), leaves quote heuristics to sql', async () => {
    const p = pluginFrom({ injection_types: ['sql_low_sensitivity'], locations: ALL_LOCATIONS });
    const targeted = new Set(['union', 'stacked', 'time', 'error_and_function']);
    const missedTargeted: string[] = [];
    let caught = 0;
    for (const a of attacks.sql) {
      const m = await misses(p, a.value);
      if (m.length === 0) caught++;
      else if (targeted.has(a.technique)) missedTargeted.push(`${JSON.stringify(a.value)} (${a.technique}) missed in: ${m.join(', ')}`);
    }
    const inScope = attacks.sql.filter((a) => targeted.has(a.technique)).length;
    rows.push(`${'sql_low_sensitivity'.padEnd(18)} ${String(caught).padStart(3)}/${String(attacks.sql.length).padEnd(3)} ${pct(caught, attacks.sql.length)} of the sql corpus; ${inScope - missedTargeted.length}/${inScope} of its targeted techniques`);
    expect(missedTargeted, missedTargeted.join('\n')).toEqual([]);
    // Tautologies and comment tricks are what it leaves out: it must let some through.
    expect(caught).toBeLessThan(attacks.sql.length);
  });

  it('prints the catch rates', () => {
    const total = types.reduce((n, t) => n + attacks[t].length, 0);
    console.log(`\ninjection corpus: ${total} attacks x ${DELIVERIES.length} deliveries\n${rows.join('\n')}`);
    expect(rows.length).toBe(types.length + 1);
  });
});

describe('injection corpus: false positives (every type, every location)', () => {
  const everything = { injection_types: [...INJECTION_TYPES], locations: ALL_LOCATIONS };

  it('lets every benign input through, wherever it is sent, and counts the false positives', async () => {
    const p = pluginFrom(everything);
    const flagged: string[] = [];
    let checked = 0;
    const perCategory: string[] = [];
    for (const [category, values] of Object.entries(benign)) {
      if (category === 'json_documents') continue;
      let fp = 0;
      for (const v of values as string[]) {
        checked++;
        const m = await misses(p, v);
        const applicable = DELIVERIES.filter((d) => d.applies === undefined || d.applies(v)).length;
        if (m.length < applicable) {
          fp++;
          flagged.push(`${category}: ${JSON.stringify(v)} refused (let through only in: ${m.join(', ') || 'none'})`);
        }
      }
      perCategory.push(`${category} ${fp}/${values.length}`);
    }
    let docFp = 0;
    for (const doc of benign.json_documents) {
      checked++;
      const text = JSON.stringify(doc);
      const deliveries: TestRequest[] = [
        { body: text, headers: JSON_CT },
        { body: text, headers: JSON_CT, chunked: true, splits: splitEvery(text.length, 5) },
        { query: `filter=${encodeURIComponent(text)}` },
        { body: `${text}\n${text}\n`, headers: { 'content-type': 'application/x-ndjson' } },
      ];
      for (const r of deliveries) {
        if (await refused(p, r)) {
          docFp++;
          flagged.push(`json document ${text} refused`);
          break;
        }
      }
    }
    perCategory.push(`json_documents ${docFp}/${benign.json_documents.length}`);
    console.log(`\nbenign corpus: ${checked} inputs, false positives: ${flagged.length} (${perCategory.join(', ')})`);
    expect(flagged, flagged.join('\n')).toEqual([]);
  });

  it('also lets through real browser and API client headers', async () => {
    const p = pluginFrom(everything);
    const browser = {
      'user-agent': 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1 Safari/605.1.15',
      accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8',
      'accept-language': 'en-GB,en;q=0.9,fr;q=0.8',
      'accept-encoding': 'gzip, deflate, br, zstd',
      cookie: 'session=abc%3D%3D; theme=dark; prefs=%7B%22lang%22%3A%22en%22%2C%22name%22%3A%22O%27Brien%22%7D',
      referer: 'https://www.example.com/search?q=o%27brien+union+select+committee&page=2',
      'sec-ch-ua': '"Chromium";v="120", "Not?A_Brand";v="8"',
      'if-none-match': 'W/"5e15153d-120f"',
      authorization: 'Bearer eyJhbGciOiJSUzI1NiIsImtpZCI6IjEifQ.eyJzdWIiOiJvJ2JyaWVuIn0.c2lnbmF0dXJlK2lzL2Jhc2U2NA',
      forwarded: 'for=192.0.2.60;proto=https;by=203.0.113.43',
      'x-forwarded-for': '203.0.113.195, 70.41.3.18, 150.172.238.178',
      'content-security-policy': "default-src 'self'; script-src 'self' 'unsafe-inline'",
    };
    const { verdict } = await runAccess(p, { headers: browser });
    expect(verdict).toBeUndefined();
    expect(p.logs).toEqual([]);
  });
});
