/**
 * xml-threat-protection through a real gateway process in front of a real upstream:
 * - a large chunked XML upload that breaks a limit 1 MB in is answered while the client is
 *   still sending; the upstream's request is aborted, never completed;
 * - a valid large chunked upload reaches the upstream byte for byte;
 * - billion laughs and XXE (file:// and http:// SYSTEM entities, an external DTD) are refused
 *   with and without allow_dtd, and a real HTTP server on loopback named in them is never
 *   contacted (neither by the gateway nor, since nothing is proxied, by the upstream);
 * - a Content-Type neither checked nor allowed gets 415; an allowed one passes unchecked;
 * - log_only: the violating body reaches the upstream whole and the gateway logs the rule.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chunkedUpload } from '../helpers/chunked-upload.js';
import { startGateway, type Gateway } from '../helpers/gateway.js';
import { httpReq } from '../helpers/http-client.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

const MB = 1024 * 1024;

interface UploadRecord {
  bytes: number;
  sha256: string | null;
  complete: boolean;
  aborted: boolean;
}

const uploads: UploadRecord[] = [];

function handler(req: IncomingMessage, res: ServerResponse): void {
  const rec: UploadRecord = { bytes: 0, sha256: null, complete: false, aborted: false };
  uploads.push(rec);
  const hash = createHash('sha256');
  req.on('data', (c: Buffer) => {
    rec.bytes += c.length;
    hash.update(c);
  });
  req.on('end', () => {
    rec.complete = true;
    rec.sha256 = hash.digest('hex');
    const body = JSON.stringify({ bytes: rec.bytes, sha256: rec.sha256 });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  req.on('close', () => {
    if (!rec.complete) rec.aborted = true;
  });
}

function config(upstreamUrl: string): string {
  return `_format_version: "3.0"
services:
  - name: backend
    url: ${upstreamUrl}
    routes:
      - name: big
        paths: [/big]
        plugins:
          - name: xml-threat-protection
            config:
              document: 20971520
              max_children: 1000000
              text: 100
              error_status_code: 422
              error_message: Invalid XML
      - name: defaults
        paths: [/defaults]
        plugins:
          - name: xml-threat-protection
            config:
              checked_content_types: [application/xml, text/xml, application/*+xml]
              allowed_content_types: [application/json]
      - name: dtd
        paths: [/dtd]
        plugins:
          - name: xml-threat-protection
            config: { allow_dtd: true }
      - name: tap
        paths: [/tap]
        plugins:
          - name: xml-threat-protection
            config: { max_depth: 2, enforcement_mode: log_only }
`;
}

let upstream: Upstream;
let gw: Gateway;
let attackerHits = 0;
let attacker: Server;
let attackerPort = 0;

beforeAll(async () => {
  upstream = await startUpstream(handler);
  gw = await startGateway(config(upstream.url), { workers: 1 });
  attacker = createServer((_req, res) => {
    attackerHits++;
    res.end('<!ENTITY leak "leaked">');
  });
  await new Promise<void>((r) => attacker.listen(0, '127.0.0.1', r));
  attackerPort = (attacker.address() as { port: number }).port;
});

afterAll(async () => {
  await gw?.stop();
  await upstream?.close();
  await new Promise<void>((r) => attacker.close(() => r()));
});

async function until(cond: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A large XML document of small items; with `violateAt`, one text there is too long. */
function bigDocument(totalBytes: number, violateAt: number | null): Buffer {
  const parts = ['<?xml version="1.0" encoding="UTF-8"?>\n<orders xmlns="urn:orders">'];
  let size = parts[0]!.length;
  let i = 0;
  let violated = false;
  while (size < totalBytes) {
    const text = violateAt !== null && !violated && size >= violateAt ? 'x'.repeat(101) : `item ${i} é 😀 &amp;`;
    if (text.length > 100) violated = true;
    const item = `<order id="${i}"><name>${text}</name><!-- n --></order>`;
    parts.push(item);
    size += Buffer.byteLength(item);
    i++;
  }
  parts.push('</orders>');
  return Buffer.from(parts.join(''), 'utf8');
}


function bodyOf(raw: string): string {
  return raw.slice(raw.indexOf('\r\n\r\n') + 4);
}

describe('xml-threat-protection on a streamed upload', () => {
  it('refuses a violating 10 MB chunked upload early; the upstream never gets a complete body', async () => {
    const body = bigDocument(10 * MB, MB / 2);
    const before = uploads.length;
    const r = await chunkedUpload(gw.proxyPort, '/big', body, 'application/xml', 10);
    expect(r.status).toBe(422);
    expect(JSON.parse(bodyOf(r.text)).message).toBe('Invalid XML');
    expect(r.closed).toBe(true);
    // Answered while the client was still sending: most of the 10 MB never left it.
    expect(r.finishedSending).toBe(false);
    expect(r.sentAtAnswer!).toBeGreaterThanOrEqual(MB / 2);
    expect(r.sentAtAnswer!).toBeLessThan(8 * MB);
    await until(() => uploads.length > before && uploads[before]!.aborted);
    expect(uploads[before]!.complete).toBe(false);
    expect(uploads[before]!.bytes).toBeLessThan(2 * MB);
  });

  it('passes a valid 10 MB chunked upload byte for byte', async () => {
    const body = bigDocument(10 * MB, null);
    const before = uploads.length;
    const r = await chunkedUpload(gw.proxyPort, '/big', body, 'application/xml; charset=utf-8', 1);
    expect(r.status).toBe(200);
    expect(JSON.parse(bodyOf(r.text))).toEqual({ bytes: body.length, sha256: createHash('sha256').update(body).digest('hex') });
    expect(uploads[before]).toMatchObject({ complete: true, aborted: false });
  });
});

describe('xml-threat-protection against XML attacks', () => {
  const lol = (() => {
    let dtd = '<!ENTITY lol "lol">';
    for (let i = 1; i <= 9; i++) dtd += `<!ENTITY lol${i} "${`&lol${i === 1 ? '' : i - 1};`.repeat(10)}">`;
    return `<?xml version="1.0"?><!DOCTYPE lolz [${dtd}]><lolz>&lol9;</lolz>`;
  })();

  it('refuses billion laughs with and without allow_dtd; the upstream sees nothing', async () => {
    const before = uploads.length;
    for (const path of ['/defaults', '/dtd']) {
      const r = await httpReq(gw.proxyPort, path, { method: 'POST', body: lol, headers: [['Content-Type', 'application/xml']] });
      expect(r.status, path).toBe(400);
      expect(r.json().message).toBe('Bad Request');
    }
    await new Promise((res) => setTimeout(res, 100));
    // At most a request start the gateway aborted: never a complete body.
    for (const rec of uploads.slice(before)) expect(rec.complete).toBe(false);
  });

  it('refuses XXE (file:// and http:// SYSTEM entities, external DTD) in both modes; the server named in them is never contacted', async () => {
    const attacks = [
      '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><r>&xxe;</r>',
      `<?xml version="1.0"?><!DOCTYPE r [<!ENTITY xxe SYSTEM "http://127.0.0.1:${attackerPort}/steal">]><r>&xxe;</r>`,
      `<!DOCTYPE r SYSTEM "http://127.0.0.1:${attackerPort}/ext.dtd"><r>&leak;</r>`,
      `<!DOCTYPE r [<!ENTITY % oob SYSTEM "http://127.0.0.1:${attackerPort}/oob.dtd">%oob;]><r/>`,
    ];
    const uploadsBefore = uploads.length;
    for (const path of ['/defaults', '/dtd']) {
      for (const body of attacks) {
        const r = await httpReq(gw.proxyPort, path, { method: 'POST', body, chunked: true, headers: [['Content-Type', 'application/xml']] }).catch((e: Error) => e);
        // The answer can race the client's last write: the 400, or a reset; never a 200.
        if (!(r instanceof Error)) expect(r.status, `${path} ${body}`).toBe(400);
      }
    }
    await new Promise((res) => setTimeout(res, 300));
    expect(attackerHits).toBe(0);
    // No attack reached the upstream complete (at most a request start, then aborted).
    for (const rec of uploads.slice(uploadsBefore)) expect(rec.complete).toBe(false);
    // The server is reachable: nothing above asked it anything.
    await fetch(`http://127.0.0.1:${attackerPort}/probe`).then((r) => r.text());
    expect(attackerHits).toBe(1);
  });

  it('with allow_dtd, a small internal entity passes to the upstream unchanged', async () => {
    const body = '<!DOCTYPE r [<!ENTITY co "Example Corp">]><r><c>&co;</c></r>';
    const r = await httpReq(gw.proxyPort, '/dtd', { method: 'PUT', body, headers: [['Content-Type', 'application/xml']] });
    expect(r.status).toBe(200);
    expect(r.json()).toEqual({ bytes: body.length, sha256: createHash('sha256').update(body).digest('hex') });
  });
});

describe('xml-threat-protection content types', () => {
  it('checks the checked types, passes allowed ones unchecked, answers 415 to others', async () => {
    const soap = await httpReq(gw.proxyPort, '/defaults', { method: 'POST', body: '<e:Envelope xmlns:e="urn:e"><e:Body/></e:Envelope>', headers: [['Content-Type', 'application/soap+xml']] });
    expect(soap.status).toBe(200);
    const json = await httpReq(gw.proxyPort, '/defaults', { method: 'POST', body: '{"not":"xml"}', headers: [['Content-Type', 'application/json']] });
    expect(json.status).toBe(200);
    const plain = await httpReq(gw.proxyPort, '/defaults', { method: 'POST', body: 'hello', headers: [['Content-Type', 'text/plain']] });
    expect(plain.status).toBe(415);
    expect(plain.json().message).toBe('Unsupported Media Type');
    const get = await httpReq(gw.proxyPort, '/defaults', { method: 'GET' });
    expect(get.status).toBe(200);
  });
});

describe('xml-threat-protection in log_only mode', () => {
  it('lets a violating body through whole and logs the rule, without the content', async () => {
    const body = '<r><a><b>tap-secret-text</b></a></r>';
    const r = await httpReq(gw.proxyPort, '/tap', { method: 'POST', body, chunked: true, headers: [['Content-Type', 'application/xml']] });
    expect(r.status).toBe(200);
    expect(r.json()).toEqual({ bytes: body.length, sha256: createHash('sha256').update(body).digest('hex') });
    await until(() => /xml-threat-protection: request body violates the policy/.test(gw.output()));
    const line = gw.output().split('\n').find((l) => l.includes('xml-threat-protection: request body violates'))!;
    expect(line).toContain('"rule":"max_depth"');
    expect(gw.output()).not.toContain('tap-secret-text');
  });
});
