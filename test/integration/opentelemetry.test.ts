/**
 * opentelemetry end to end: a real gateway exporting to an OTLP/HTTP JSON receiver this
 * test starts (node:http, POST /v1/traces), in front of an echo upstream.
 */
import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type Gateway } from '../helpers/gateway.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

interface OtlpAttr {
  key: string;
  value: { stringValue?: string; intValue?: string | number };
}
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: OtlpAttr[];
  status: { code: number };
}
interface Received {
  resource: Record<string, string>;
  span: OtlpSpan;
}

let receiver: Server;
let receiverUrl: string;
const received: Received[] = [];
let posts = 0;

function attrs(span: OtlpSpan): Record<string, string> {
  const out: Record<string, string> = {};
  for (const a of span.attributes) out[a.key] = String(a.value.stringValue ?? a.value.intValue);
  return out;
}

let upstream: Upstream;
let gw: Gateway;

function config(): string {
  return `_format_version: "3.0"
services:
  - name: echo
    url: ${upstream.url}
    routes:
      - name: traced
        paths: [/traced]
        plugins:
          - name: opentelemetry
            config:
              traces_endpoint: ${receiverUrl}/v1/traces
              headers: { x-collector-token: collector-secret }
              resource_attributes: { service.name: edge-gw, deployment.environment: test }
              queue: { max_coalescing_delay: 0.05 }
              http_response_header_for_traceid: x-trace-id
      - name: unsampled
        paths: [/unsampled]
        plugins:
          - name: opentelemetry
            config:
              endpoint: ${receiverUrl}/v1/traces
              sampling_rate: 0
              queue: { max_coalescing_delay: 0.05 }
`;
}

beforeAll(async () => {
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      posts++;
      if (req.method !== 'POST' || req.url !== '/v1/traces' || req.headers['content-type'] !== 'application/json' || req.headers['x-collector-token'] !== 'collector-secret') {
        res.writeHead(400).end();
        return;
      }
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
        resourceSpans: Array<{ resource: { attributes: OtlpAttr[] }; scopeSpans: Array<{ spans: OtlpSpan[] }> }>;
      };
      for (const rs of body.resourceSpans) {
        const resource: Record<string, string> = {};
        for (const a of rs.resource.attributes) resource[a.key] = String(a.value.stringValue);
        for (const ss of rs.scopeSpans) for (const span of ss.spans) received.push({ resource, span });
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as { port: number }).port}`;
  upstream = await startUpstream();
  gw = await startGateway(config(), { workers: 1 });
});

afterAll(async () => {
  await gw?.stop();
  await upstream?.close();
  await new Promise((r) => receiver?.close(r));
});

async function waitFor<T>(fn: () => T | undefined, ms = 5000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error('timed out waiting for spans');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('opentelemetry plugin', () => {
  it('exports a server span and an upstream span with HTTP semantic-convention attributes', async () => {
    const res = await fetch(gw.url('/traced/things?apikey=do-not-record'), { headers: { 'user-agent': 'otel-test' } });
    expect(res.status).toBe(200);
    const seen = (await res.json()) as { headers: Record<string, string> };
    const traceparent = seen.headers['traceparent']!;
    expect(traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    const [, traceId, parentId] = traceparent.split('-');
    expect(res.headers.get('x-trace-id')).toBe(traceId);

    const server = await waitFor(() => received.find((r) => r.span.traceId === traceId && r.span.kind === 2));
    const client = await waitFor(() => received.find((r) => r.span.traceId === traceId && r.span.kind === 3));
    expect(server.span.name).toBe('GET traced');
    expect(server.span.parentSpanId ?? '').toBe('');
    expect(server.resource['service.name']).toBe('edge-gw');
    expect(server.resource['deployment.environment']).toBe('test');
    const a = attrs(server.span);
    expect(a['http.request.method']).toBe('GET');
    expect(a['url.path']).toBe('/traced/things');
    expect(a['http.response.status_code']).toBe('200');
    expect(a['http.route']).toBe('traced');
    expect(a['server.address']).toBe('127.0.0.1');
    expect(a['client.address']).toBe('127.0.0.1');
    expect(a['kong.service.name']).toBe('echo');
    expect(a['user_agent.original']).toBe('otel-test');
    expect(JSON.stringify(server.span)).not.toContain('do-not-record');
    expect(server.span.status.code).toBe(0);
    expect(BigInt(server.span.endTimeUnixNano) >= BigInt(server.span.startTimeUnixNano)).toBe(true);
    // Wall-clock nanoseconds: within a minute of now.
    expect(Math.abs(Number(BigInt(server.span.startTimeUnixNano) / 1_000_000n) - Date.now())).toBeLessThan(60_000);

    // The upstream saw our upstream span as its parent, itself a child of the server span.
    expect(client.span.spanId).toBe(parentId);
    expect(client.span.parentSpanId).toBe(server.span.spanId);
    expect(client.span.name).toBe('GET echo');
  });

  it('continues an incoming trace: same trace id, the caller span as parent', async () => {
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const callerSpan = '00f067aa0ba902b7';
    const res = await fetch(gw.url('/traced/continue'), { headers: { traceparent: `00-${traceId}-${callerSpan}-01`, tracestate: 'vendor=x' } });
    expect(res.status).toBe(200);
    const seen = (await res.json()) as { headers: Record<string, string> };
    const [, upTrace, upParent, flags] = seen.headers['traceparent']!.split('-');
    expect(upTrace).toBe(traceId);
    expect(upParent).not.toBe(callerSpan);
    expect(flags).toBe('01');
    expect(seen.headers['tracestate']).toBe('vendor=x');
    const server = await waitFor(() => received.find((r) => r.span.traceId === traceId && r.span.kind === 2));
    expect(server.span.parentSpanId).toBe(callerSpan);
    const client = await waitFor(() => received.find((r) => r.span.traceId === traceId && r.span.kind === 3));
    expect(client.span.spanId).toBe(upParent);
  });

  it('an invalid traceparent starts a new trace', async () => {
    const bad = '00-00000000000000000000000000000000-00f067aa0ba902b7-01';
    const res = await fetch(gw.url('/traced/bad'), { headers: { traceparent: bad } });
    const seen = (await res.json()) as { headers: Record<string, string> };
    const [, upTrace] = seen.headers['traceparent']!.split('-');
    expect(upTrace).not.toBe('00000000000000000000000000000000');
    await waitFor(() => received.find((r) => r.span.traceId === upTrace && r.span.kind === 2));
  });

  it('sampling_rate 0 exports nothing but still propagates (unsampled)', async () => {
    const before = received.length;
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const res = await fetch(gw.url('/unsampled/x'));
      expect(res.status).toBe(200);
      const seen = (await res.json()) as { headers: Record<string, string> };
      const tp = seen.headers['traceparent']!;
      expect(tp).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-00$/);
      ids.push(tp.split('-')[1]!);
    }
    // A sampled request afterwards proves the exporter is flushing.
    const res = await fetch(gw.url('/traced/after'));
    const seen = (await res.json()) as { headers: Record<string, string> };
    const after = seen.headers['traceparent']!.split('-')[1]!;
    await waitFor(() => received.find((r) => r.span.traceId === after));
    await new Promise((r) => setTimeout(r, 200));
    const fresh = received.slice(before);
    expect(fresh.some((r) => ids.includes(r.span.traceId))).toBe(false);
    expect(fresh.length).toBeGreaterThan(0);
    expect(fresh.every((r) => r.span.traceId === after)).toBe(true);
    expect(posts).toBeGreaterThan(0);
  });
});
