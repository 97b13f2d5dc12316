/**
 * xml-threat-protection: Kong's config through the real loader; every limit at exactly the
 * limit (passes) and one over (refused with its rule); DOCTYPE refused by default; billion
 * laughs and XXE (file:// and http:// SYSTEM entities, external DTD, parameter entities)
 * refused in both allow_dtd modes, with a real HTTP server on loopback proving nothing is
 * ever fetched; malformed documents; the same verdict whatever the chunking; and the plugin's
 * answers: content types, Content-Length, block and log_only.
 */
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfigText } from '../../../src/config/load.js';
import type { GatewayConfig } from '../../../src/config/types.js';
import { BodyRejectedError } from '../../http/body-inspection.js';
import type { Downstream, RequestBodySink } from '../../http/downstream.js';
import { RequestContext } from '../../http/request-context.js';
import type { PluginEnv, PluginHandler, Verdict } from '../../pipeline/types.js';
import { pluginDefinitions } from '../index.js';
import { pluginSchemas } from '../registry-schemas.js';
import { xmlLimits } from './handler.js';
import { xmlThreatProtection } from './index.js';
import { MediaTypeList, mediaTypeOf } from './media-type.js';
import type { XmlThreatProtectionConfig } from './schema.js';
import { SLICE, XmlScanner, type XmlViolation } from './xml-scanner.js';

const HEAD = '_format_version: "3.0"\n';

function load(text: string): GatewayConfig {
  const r = loadConfigText(text, 'kong.yml', {});
  if (!r.ok) throw new Error(r.issues.map((i) => `${i.line}:${i.col} ${i.path}: ${i.message}`).join('\n'));
  return r.config;
}

function configOf(config: Record<string, unknown> | string = {}): XmlThreatProtectionConfig {
  const text = typeof config === 'string' ? config : JSON.stringify(config);
  return load(`${HEAD}plugins:\n  - name: xml-threat-protection\n    config: ${text}\n`).plugins[0]!.config as XmlThreatProtectionConfig;
}

/** Scans `doc` in chunks of the given sizes (cycled); null when it passes. */
function scan(doc: string | Buffer, config: Record<string, unknown> = {}, sizes: number[] = [Infinity]): XmlViolation | null {
  const buf = typeof doc === 'string' ? Buffer.from(doc, 'utf8') : doc;
  const s = new XmlScanner(xmlLimits(configOf(config)));
  let i = 0;
  let k = 0;
  while (i < buf.length) {
    const end = Math.min(buf.length, i + sizes[k++ % sizes.length]!);
    if (!s.write(Buffer.from(buf.subarray(i, end)))) return s.violation;
    i = end;
  }
  return s.end() ? null : s.violation;
}

function rule(doc: string | Buffer, config: Record<string, unknown> = {}): string | null {
  return scan(doc, config)?.rule ?? null;
}

/** Verdicts (rule only) for the whole document, 1- and 2-byte chunks and every split position. */
function verdicts(doc: string, config: Record<string, unknown> = {}): Set<string | null> {
  const buf = Buffer.from(doc, 'utf8');
  const out = new Set<string | null>();
  const r = (v: XmlViolation | null) => v?.rule ?? null;
  out.add(r(scan(buf, config))).add(r(scan(buf, config, [1]))).add(r(scan(buf, config, [2]))).add(r(scan(buf, config, [3, 7, 1])));
  for (let cut = 1; cut < buf.length; cut++) out.add(r(scan(buf, config, [cut, Infinity])));
  return out;
}

const LOL = (() => {
  let dtd = '<!ENTITY lol "lol">';
  for (let i = 1; i <= 9; i++) dtd += `<!ENTITY lol${i} "${`&lol${i === 1 ? '' : i - 1};`.repeat(10)}">`;
  return `<?xml version="1.0"?>\n<!DOCTYPE lolz [${dtd}]>\n<lolz>&lol9;</lolz>`;
})();

describe('xml-threat-protection config (Kong EE schema, through the loader)', () => {
  it("fills Kong's defaults (and ours for the answer)", () => {
    const p = load(`${HEAD}plugins:\n  - name: xml-threat-protection\n`).plugins[0]!;
    expect(p.config).toEqual({
      checked_content_types: ['application/xml'],
      allowed_content_types: [],
      allow_dtd: false,
      namespace_aware: true,
      max_depth: 50,
      max_children: 100,
      max_attributes: 100,
      max_namespaces: 20,
      document: 10485760,
      buffer: 1048576,
      localname: 1024,
      prefix: 1024,
      namespaceuri: 1024,
      attribute: 1048576,
      text: 1048576,
      comment: 1024,
      pitarget: 1024,
      pidata: 1024,
      entityname: 1024,
      entity: 1024,
      entityproperty: 1024,
      bla_max_amplification: 100,
      bla_threshold: 8388608,
      enforcement_mode: 'block',
      error_status_code: 400,
      error_message: 'Bad Request',
    });
  });

  it("loads Kong's documented example, and is registered with PRIORITY 1008", () => {
    expect(configOf('{ max_depth: 50, localname: 512, prefix: 512, namespaceuri: 1024 }')).toMatchObject({ max_depth: 50, localname: 512 });
    expect(pluginSchemas.get('xml-threat-protection')?.priority).toBe(1008);
    expect(pluginDefinitions.get('xml-threat-protection')?.priority).toBe(1008);
  });

  it('refuses bad values with their path', () => {
    const r = loadConfigText(`${HEAD}plugins:\n  - name: xml-threat-protection\n    config: { bla_threshold: 10, checked_content_types: [xml], max_depth: -1 }\n`, 'kong.yml', {});
    expect(r.ok).toBe(false);
    expect(r.ok ? [] : r.issues.map((i) => `${i.path}: ${i.message}`).sort()).toEqual([
      'plugins[0].config.bla_threshold: value should be between 1024 and 2147483648',
      "plugins[0].config.checked_content_types[0]: 'xml' is not a media type (type/subtype)",
      'plugins[0].config.max_depth: value should be between 0 and 2147483648',
    ]);
  });
});

describe('each limit: exactly the limit passes, one more is refused (any chunking)', () => {
  const x = (n: number, s: string) => s.repeat(n);
  const cases: Array<{ rule: string; config: Record<string, unknown>; ok: string; over: string }> = [
    { rule: 'max_depth', config: { max_depth: 3 }, ok: '<a><b><c/></b></a>', over: '<a><b><c><d/></c></b></a>' },
    { rule: 'max_children', config: { max_children: 3 }, ok: '<r><a/>text<![CDATA[cd]]>more<!--c--></r>', over: '<r><a/>text<!--c--><?p?></r>' },
    { rule: 'max_children', config: { max_children: 2 }, ok: '<r><a/><b/></r>', over: '<r><a/><b/><c/></r>' },
    { rule: 'max_attributes', config: { max_attributes: 2 }, ok: '<r xmlns:p="urn:p" a="1" p:b="2"/>', over: '<r a="1" b="2" c="3"/>' },
    { rule: 'max_namespaces', config: { max_namespaces: 2 }, ok: '<r xmlns="urn:a" xmlns:b="urn:b" a="1" c="2" d="3"/>', over: '<r xmlns="urn:a" xmlns:b="urn:b" xmlns:c="urn:c"/>' },
    { rule: 'localname', config: { localname: 5 }, ok: '<abcde xmlns:p="urn:p" p:fghij="1"/>', over: '<abcdef/>' },
    { rule: 'localname', config: { localname: 5 }, ok: '<r xmlns:p="urn:p" p:fghij="1"/>', over: '<r xmlns:p="urn:p" p:fghijk="1"/>' },
    { rule: 'prefix', config: { prefix: 3 }, ok: '<abc:r xmlns:abc="urn:a"/>', over: '<abcd:r xmlns:abcd="urn:a"/>' },
    { rule: 'namespaceuri', config: { namespaceuri: 5 }, ok: '<r xmlns="urn:a"/>', over: '<r xmlns="urn:ab"/>' },
    { rule: 'attribute', config: { attribute: 4 }, ok: '<r a="éé&amp;&#x41;"/>', over: '<r a="12345"/>' },
    { rule: 'text', config: { text: 6 }, ok: '<r>abc<![CDATA[d]]>e&lt;<a/>123456</r>', over: '<r>abc<![CDATA[de]]>fg</r>' },
    { rule: 'text', config: { text: 3 }, ok: '<r>😀é日</r>', over: '<r>😀é日x</r>' },
    { rule: 'comment', config: { comment: 4 }, ok: '<r><!--abcd--></r>', over: '<r><!--abcde--></r>' },
    { rule: 'pitarget', config: { pitarget: 3 }, ok: '<r><?abc x?></r>', over: '<r><?abcd x?></r>' },
    { rule: 'pidata', config: { pidata: 3 }, ok: '<r><?p abc?></r>', over: '<r><?p abcd?></r>' },
    { rule: 'document', config: { document: 20 }, ok: `<r>${x(13, 'a')}</r>`, over: `<r>${x(14, 'a')}</r>` },
  ];
  for (const c of cases) {
    it(`${c.rule} ${JSON.stringify(c.config)}: ${c.ok} passes, ${c.over} is refused`, () => {
      expect(verdicts(c.ok, c.config)).toEqual(new Set([null]));
      expect(verdicts(c.over, c.config)).toEqual(new Set([c.rule]));
    });
  }

  it('namespace_aware: false counts xmlns declarations as attributes and checks whole names as local names', () => {
    const doc = '<p:r xmlns:p="urn:p" a="1"/>';
    expect(rule(doc, { max_attributes: 1 })).toBeNull();
    expect(rule(doc, { max_attributes: 1, namespace_aware: false })).toBe('max_attributes');
    expect(rule('<pp:r xmlns:pp="u"/>', { localname: 4, namespace_aware: false })).toBe('localname');
    expect(rule('<pp:r xmlns:pp="u"/>', { localname: 4 })).toBeNull();
  });

  it('buffer: a tag whose attributes are still arriving is refused before it is complete', () => {
    const big = `<r a="${'x'.repeat(3 * SLICE)}`;
    const s = new XmlScanner(xmlLimits(configOf({ buffer: 2 * SLICE })));
    expect(s.write(Buffer.from(big))).toBe(false);
    expect(s.violation).toMatchObject({ rule: 'buffer' });
    // Under the buffer, the same attribute is fine once the tag closes.
    expect(rule(`${big}"/>`, { buffer: 4 * SLICE })).toBeNull();
  });
});

describe('DTDs, billion laughs and XXE', () => {
  let hits = 0;
  let server: Server;
  let port = 0;
  beforeAll(async () => {
    server = createServer((_req, res) => {
      hits++;
      res.end('<!ENTITY leak "leaked">');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as { port: number }).port;
  });
  afterAll(async () => {
    await new Promise<void>((r) => server.close(() => r()));
  });

  it('refuses a DOCTYPE by default (allow_dtd: false)', () => {
    expect(verdicts('<!DOCTYPE r><r/>')).toEqual(new Set(['allow_dtd']));
    expect(rule(LOL)).toBe('allow_dtd');
  });

  it('refuses billion laughs with allow_dtd: the amplification is computed, nothing is expanded', () => {
    // Refused at the first reference: 10^9 characters' worth, never materialised.
    expect(scan(LOL, { allow_dtd: true })).toMatchObject({ rule: 'bla_max_amplification' });
    expect(verdicts(LOL, { allow_dtd: true })).toEqual(new Set(['bla_max_amplification']));
    // A reference to an entity nobody declared is an error, not an expansion.
    expect(scan('<lolz>&lol9;</lolz>')).toMatchObject({ rule: 'invalid_xml', detail: expect.stringContaining('undefined entity') });
  });

  it('bla_threshold and bla_max_amplification: small or modest expansions pass', () => {
    const doc = '<!DOCTYPE r [<!ENTITY e "0123456789">]><r>&e;&e;</r>';
    expect(rule(doc, { allow_dtd: true })).toBeNull();
    // 100 references of 1000 characters: 100 kB from a ~1.2 kB document.
    const many = `<!DOCTYPE r [<!ENTITY k "${'k'.repeat(1000)}">]><r>${'&k;'.repeat(100)}</r>`;
    expect(rule(many, { allow_dtd: true })).toBeNull(); // under the 8 MiB threshold
    expect(rule(many, { allow_dtd: true, bla_threshold: 1024, bla_max_amplification: 50 })).toBe('bla_max_amplification');
    expect(rule(many, { allow_dtd: true, bla_threshold: 1024, bla_max_amplification: 100 })).toBeNull();
  });

  it('accounts expanded entities in text and attribute limits', () => {
    const doc = '<!DOCTYPE r [<!ENTITY e "12345">]><r a="&e;">&e;</r>';
    expect(rule(doc, { allow_dtd: true, text: 5, attribute: 5 })).toBeNull();
    expect(rule(doc, { allow_dtd: true, text: 4 })).toBe('text');
    expect(rule(doc, { allow_dtd: true, attribute: 4 })).toBe('attribute');
  });

  it('refuses entity names and values over entityname / entity', () => {
    expect(rule('<!DOCTYPE r [<!ENTITY abcd "x">]><r/>', { allow_dtd: true, entityname: 4 })).toBeNull();
    expect(rule('<!DOCTYPE r [<!ENTITY abcde "x">]><r/>', { allow_dtd: true, entityname: 4 })).toBe('entityname');
    expect(rule('<!DOCTYPE r [<!ENTITY e "abcd">]><r/>', { allow_dtd: true, entity: 4 })).toBeNull();
    expect(rule('<!DOCTYPE r [<!ENTITY e "abcde">]><r/>', { allow_dtd: true, entity: 4 })).toBe('entity');
  });

  it('refuses XXE (file:// and http:// SYSTEM entities, external DTDs, parameter entities) in both modes; the server is never contacted', async () => {
    const attacks = [
      '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><r>&xxe;</r>',
      `<?xml version="1.0"?><!DOCTYPE r [<!ENTITY xxe SYSTEM "http://127.0.0.1:${port}/secret">]><r>&xxe;</r>`,
      `<!DOCTYPE r [<!ENTITY xxe PUBLIC "-//X//EN" "http://127.0.0.1:${port}/pub">]><r>&xxe;</r>`,
      `<!DOCTYPE r SYSTEM "http://127.0.0.1:${port}/ext.dtd"><r>&leak;</r>`,
      `<!DOCTYPE r [<!ENTITY % remote SYSTEM "http://127.0.0.1:${port}/oob.dtd">%remote;]><r/>`,
      `<!DOCTYPE r [<!ENTITY % p "x">]><r/>`,
      '<!DOCTYPE r [<!ENTITY a "&b;"><!ENTITY b "&a;">]><r>&a;</r>',
      '<!DOCTYPE r [<!ENTITY a "&nope;">]><r>&a;</r>',
      '<!DOCTYPE r [<!ENTITY e "x"><!ATTLIST r a CDATA "&e;&e;">]><r/>',
    ];
    const expected = ['external_entity', 'external_entity', 'external_entity', 'external_entity', 'parameter_entity', 'parameter_entity', 'invalid_dtd', 'invalid_dtd', 'invalid_dtd'];
    attacks.forEach((doc, i) => {
      expect(rule(doc), doc).toBe('allow_dtd');
      expect(rule(doc, { allow_dtd: true }), doc).toBe(expected[i]);
      expect(verdicts(doc, { allow_dtd: true }), doc).toEqual(new Set([expected[i]]));
    });
    await new Promise((r) => setTimeout(r, 200));
    expect(hits).toBe(0);
    // The server does answer: nothing above reached it.
    await fetch(`http://127.0.0.1:${port}/probe`).then((r) => r.text());
    expect(hits).toBe(1);
  });
});

describe('malformed documents are refused as invalid_xml, in any chunking', () => {
  const bad: Array<string | Buffer> = [
    '<r>',
    '<r><a></r>',
    '<r></a>',
    '<r/><r/>',
    '<r/>trailing',
    'text<r/>',
    '<r a="1" a="2"/>',
    '<r a=1/>',
    '<r>&undefined;</r>',
    '<r>&#0;</r>',
    '<r>a < b</r>',
    '<1r/>',
    '   ',
    '<?xml version="1.0" encoding="ISO-8859-1"?><r/>',
    '<?xml version="1.0" encoding="UTF-16"?><r/>',
    '<r xmlns:p="urn:p"><q:a/></r>',
    Buffer.from([0x3c, 0x72, 0x3e, 0xff, 0x3c, 0x2f, 0x72, 0x3e]),
    Buffer.from([0x3c, 0x72, 0x3e, 0xc3]),
  ];
  for (const doc of bad) {
    it(`refuses ${JSON.stringify(typeof doc === 'string' ? doc : doc.toString('latin1'))}`, () => {
      expect(scan(doc)?.rule).toBe('invalid_xml');
      if (typeof doc === 'string') expect(verdicts(doc)).toEqual(new Set(['invalid_xml']));
      else expect(scan(doc, {}, [1])?.rule).toBe('invalid_xml');
    });
  }

  it('passes well-formed documents in any chunking (BOM, declaration, namespaces, CDATA, comments, PIs, multi-byte)', () => {
    const docs = [
      '\ufeff<?xml version="1.0" encoding="utf-8"?>\n<r xmlns="urn:a" xmlns:b="urn:b" b:x="é"><b:c>😀 日本 &amp; &#x1F600;<![CDATA[<not a tag>]]></b:c><!-- c --><?pi d?></r>\n',
      '<r/>',
      '<soap:Envelope xmlns:soap="http://www.w3.org/2003/05/soap-envelope"><soap:Body><m:Get xmlns:m="urn:m"><m:Id>1</m:Id></m:Get></soap:Body></soap:Envelope>',
    ];
    for (const doc of docs) expect(verdicts(doc), doc).toEqual(new Set([null]));
    expect(scan('')).toBeNull();
  });
});

describe('media types', () => {
  it('matches exact types, type/* , */* and suffix patterns, ignoring parameters and case', () => {
    expect(mediaTypeOf('Application/XML; charset=utf-8')).toBe('application/xml');
    expect(mediaTypeOf('xml')).toBeNull();
    const l = new MediaTypeList(['application/xml', 'text/*', 'application/*+xml']);
    expect(['application/xml', 'text/xml', 'text/plain', 'application/soap+xml', 'application/atom+xml'].every((t) => l.matches(t))).toBe(true);
    expect(['application/json', 'application/xmlx', 'application/+xml', 'image/svg+xml'].some((t) => l.matches(t))).toBe(false);
    expect(new MediaTypeList(['*/*']).matches('image/png')).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------
// The plugin: content types, answers, log_only.

interface LogLine {
  level: string;
  obj: Record<string, unknown>;
  msg: string | undefined;
}

function handlerFor(config: Record<string, unknown> = {}): { h: PluginHandler; logs: LogLine[] } {
  const logs: LogLine[] = [];
  const push = (level: string) => (obj: object, msg?: string) => void logs.push({ level, obj: obj as Record<string, unknown>, msg });
  const log = { info: push('info'), warn: push('warn'), error: push('error') };
  return { h: xmlThreatProtection.create(configOf(config), { log } as unknown as PluginEnv), logs };
}

function request(opts: { method?: string; contentType?: string; framing?: number | 'chunked' | 'none' } = {}): RequestContext {
  const headers: Record<string, string> = Object.assign(Object.create(null), { host: 'api.example.com' });
  if (opts.contentType !== undefined) headers['content-type'] = opts.contentType;
  const framing = opts.framing ?? 'chunked';
  const ctx = new RequestContext('req-0002', opts.method ?? 'POST', '/soap', '', headers, null, 'api.example.com', 8000, 'http', '10.0.0.7', '10.0.0.7', 0);
  const unexpected = () => {
    throw new Error('not used');
  };
  ctx.downstream = {
    aborted: false,
    finished: false,
    headSent: false,
    hasBody: framing !== 'none' && framing !== 0,
    contentLength: typeof framing === 'number' ? framing : -1,
    limitBody: unexpected,
    attachBody: unexpected,
    pauseBody: unexpected,
    resumeBody: unexpected,
    respond: unexpected,
    writeHead: unexpected,
    write: unexpected,
    end: unexpected,
    onDrain: null,
    onAbort: null,
    destroy: unexpected,
  } as unknown as Downstream;
  return ctx;
}

function verdict(h: PluginHandler, ctx: RequestContext): Verdict {
  const v = h.access!(ctx);
  if (v instanceof Promise) throw new Error('expected a synchronous verdict');
  return v;
}

function stream(ctx: RequestContext, chunks: string[]): { bytes: string; ended: boolean; error: Error | null } {
  const got = { bytes: '', ended: false, error: null as Error | null };
  const sink: RequestBodySink = ctx.bodySink({
    onBodyChunk: (c) => void (got.bytes += c.toString()),
    onBodyEnd: () => void (got.ended = true),
    onBodyError: (e) => void (got.error = e),
  });
  for (const c of chunks) sink.onBodyChunk(Buffer.from(c));
  sink.onBodyEnd();
  return got;
}

describe('xml-threat-protection: which requests, and the answers', () => {
  it('checks checked_content_types, lets allowed_content_types through, refuses any other body with 415', () => {
    const { h, logs } = handlerFor({ checked_content_types: ['application/xml', 'application/*+xml'], allowed_content_types: ['application/json'] });
    const soap = request({ contentType: 'application/soap+xml; charset=utf-8' });
    expect(verdict(h, soap)).toBeUndefined();
    expect(stream(soap, ['<r>', '<a/>', '</r>'])).toEqual({ bytes: '<r><a/></r>', ended: true, error: null });
    const json = request({ contentType: 'application/json' });
    expect(verdict(h, json)).toBeUndefined();
    expect(stream(json, ['{"not":"xml"}'])).toMatchObject({ ended: true, error: null });
    expect(verdict(h, request({ contentType: 'text/plain' }))).toEqual({ status: 415, message: 'Unsupported Media Type' });
    expect(verdict(h, request({}))).toEqual({ status: 415, message: 'Unsupported Media Type' });
    expect(logs.map((l) => l.obj.rule)).toEqual(['content_type', 'content_type']);
  });

  it('lets requests without a body through whatever their Content-Type (Kong 3.12)', () => {
    const { h } = handlerFor();
    expect(verdict(h, request({ method: 'GET', framing: 'none' }))).toBeUndefined();
    expect(verdict(h, request({ framing: 0, contentType: 'text/plain' }))).toBeUndefined();
  });

  it('refuses a Content-Length over `document` before reading, with the configured answer', () => {
    const { h } = handlerFor({ document: 100, error_status_code: 413, error_message: 'XML too large' });
    expect(verdict(h, request({ contentType: 'application/xml', framing: 101 }))).toEqual({ status: 413, message: 'XML too large' });
    expect(verdict(h, request({ contentType: 'application/xml', framing: 100 }))).toBeUndefined();
  });

  it('stops a streamed body at the violating chunk: the next stage gets neither it nor the rest', () => {
    const { h, logs } = handlerFor({ max_depth: 2 });
    const ctx = request({ contentType: 'application/xml' });
    verdict(h, ctx);
    const got = stream(ctx, ['<r><a>', '<b/>', '</a></r>']);
    expect(got.error).toBeInstanceOf(BodyRejectedError);
    expect((got.error as BodyRejectedError).reply).toEqual({ status: 400, message: 'Bad Request' });
    expect(got).toMatchObject({ bytes: '', ended: false });
    expect(logs).toMatchObject([{ level: 'info', obj: { request_id: 'req-0002', rule: 'max_depth', enforcement_mode: 'block' } }]);
  });

  it('log_only: a violating body (even XXE) goes through whole, one warning names the rule, no content', () => {
    const { h, logs } = handlerFor({ enforcement_mode: 'log_only' });
    const ctx = request({ contentType: 'application/xml' });
    expect(verdict(h, ctx)).toBeUndefined();
    const doc = '<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>secret-text &x;</r>';
    expect(stream(ctx, [doc.slice(0, 20), doc.slice(20)])).toEqual({ bytes: doc, ended: true, error: null });
    expect(logs).toHaveLength(1);
    expect(logs[0]).toMatchObject({ level: 'warn', obj: { rule: 'allow_dtd', enforcement_mode: 'log_only' } });
    expect(JSON.stringify(logs)).not.toContain('secret-text');
    const { h: h2, logs: logs2 } = handlerFor({ enforcement_mode: 'log_only' });
    expect(verdict(h2, request({ contentType: 'text/plain' }))).toBeUndefined();
    expect(logs2).toMatchObject([{ level: 'warn', obj: { rule: 'content_type' } }]);
  });
});
