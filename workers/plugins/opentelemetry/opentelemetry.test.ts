/**
 * opentelemetry: config through the real loader (Kong's names and defaults), W3C
 * traceparent parsing, the handler's propagation and sampling, and the exporter's bounded
 * queue. The OTLP wire format is tested end to end in test/integration/opentelemetry.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { loadConfigText } from '../../../src/config/load.js';
import { RequestContext } from '../../http/request-context.js';
import type { PluginEnv } from '../../pipeline/types.js';
import { pluginDefinitions } from '../index.js';
import { pluginSchemas } from '../registry-schemas.js';
import { OtlpExporter, type ExporterSettings } from './exporter.js';
import { createOpenTelemetry, exporterSettings, unixNanos } from './handler.js';
import { openTelemetry } from './index.js';
import { formatTraceParent, newSpanId, newTraceId, parseTraceParent } from './propagation.js';
import type { OpenTelemetryConfig } from './schema.js';

const env = { workerId: 0, log: { info() {}, warn() {}, error() {} } } as unknown as PluginEnv;

function conf(extra: string): OpenTelemetryConfig {
  const text = `_format_version: "3.0"\nplugins:\n  - name: opentelemetry\n    config: ${extra}\n`;
  const r = loadConfigText(text, 'kong.yml', {});
  if (!r.ok) throw new Error(r.issues.map((i) => `${i.path}: ${i.message}`).join('\n'));
  return r.config.plugins[0]!.config as unknown as OpenTelemetryConfig;
}

function issues(extra: string): string[] {
  const r = loadConfigText(`_format_version: "3.0"\nplugins:\n  - name: opentelemetry\n    config: ${extra}\n`, 'kong.yml', {});
  if (r.ok) throw new Error('expected the config to be refused');
  return r.issues.map((i) => `${i.path}: ${i.message}`);
}

function ctx(headers: Record<string, string> = {}): RequestContext {
  return new RequestContext('0'.repeat(31) + '1', 'GET', '/a', '', { host: 'gw', ...headers }, null, 'gw', 8000, 'http', '127.0.0.1', '127.0.0.1', performance.now());
}

describe('opentelemetry config', () => {
  it('is registered with Kong priority 14 in both lists', () => {
    expect(openTelemetry.priority).toBe(14);
    expect(pluginSchemas.get('opentelemetry')?.priority).toBe(14);
    expect(pluginDefinitions.get('opentelemetry')).toBe(openTelemetry);
  });

  it("has Kong's defaults and accepts the pre-3.8 `endpoint` name", () => {
    const c = conf('{ endpoint: "http://collector:4318/v1/traces" }');
    expect(c.traces_endpoint).toBe('http://collector:4318/v1/traces');
    expect(c.connect_timeout).toBe(1000);
    expect(c.send_timeout).toBe(5000);
    expect(c.read_timeout).toBe(5000);
    expect(c.header_type).toBe('w3c');
    expect(c.queue.max_batch_size).toBe(200);
    expect(c.queue.max_entries).toBe(10000);
    const s = exporterSettings(c);
    expect(s.maxCoalescingDelayMs).toBe(1000);
    expect(s.resource['service.name']).toBe('kong');
  });

  it('batch_span_count / batch_flush_delay override the queue settings', () => {
    const s = exporterSettings(conf('{ traces_endpoint: "http://c/v1/traces", batch_span_count: 7, batch_flush_delay: 3 }'));
    expect(s.maxBatchSize).toBe(7);
    expect(s.maxCoalescingDelayMs).toBe(3000);
  });

  it('refuses a missing endpoint, a non-http URL, a bad sampling_rate and unsupported header types', () => {
    expect(issues('{}').join('\n')).toMatch(/traces_endpoint: required field missing/);
    expect(issues('{ traces_endpoint: "ftp://x" }').join('\n')).toMatch(/expected an http or https URL/);
    expect(issues('{ traces_endpoint: "http://x", sampling_rate: 2 }').join('\n')).toMatch(/between 0 and 1/);
    expect(issues('{ traces_endpoint: "http://x", header_type: b3 }').join('\n')).toMatch(/expected one of/);
  });
});

describe('W3C traceparent', () => {
  it('parses valid headers and refuses invalid ones', () => {
    expect(parseTraceParent('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01')).toEqual({
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      spanId: '00f067aa0ba902b7',
      sampled: true,
    });
    expect(parseTraceParent('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00')?.sampled).toBe(false);
    // A later version may append fields.
    expect(parseTraceParent('01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra')?.traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    for (const bad of [
      undefined,
      '',
      'ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
      '00-00000000000000000000000000000000-00f067aa0ba902b7-01',
      '00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01',
      '00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01',
      '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra',
    ]) {
      expect(parseTraceParent(bad), String(bad)).toBeNull();
    }
  });

  it('makes distinct well-formed ids', () => {
    const ids = new Set<string>();
    for (let i = 0; i < 2000; i++) ids.add(newSpanId());
    expect(ids.size).toBe(2000);
    expect(newTraceId()).toMatch(/^[0-9a-f]{32}$/);
    expect(formatTraceParent('a'.repeat(32), 'b'.repeat(16), false)).toBe(`00-${'a'.repeat(32)}-${'b'.repeat(16)}-00`);
  });

  it('converts performance time to unix nanoseconds', () => {
    const now = performance.now();
    const ns = BigInt(unixNanos(now));
    expect(Number(ns / 1_000_000n) - Math.round(performance.timeOrigin + now)).toBeLessThanOrEqual(1);
    expect(unixNanos(now)).toMatch(/^\d{19}$/);
  });
});

describe('opentelemetry handler', () => {
  it('continues an incoming trace and injects our upstream span as the parent', () => {
    const h = createOpenTelemetry(conf('{ traces_endpoint: "http://127.0.0.1:9/v1/traces" }'), env);
    const c = ctx({ traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' });
    expect(h.access!(c)).toBeUndefined();
    const tp = parseTraceParent(c.headers['traceparent']);
    expect(tp?.traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(tp?.spanId).not.toBe('00f067aa0ba902b7');
    expect(tp?.sampled).toBe(true);
  });

  it("header_type 'ignore' starts a new trace whatever came in", () => {
    const h = createOpenTelemetry(conf('{ traces_endpoint: "http://127.0.0.1:9/v1/traces", header_type: ignore }'), env);
    const c = ctx({ traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' });
    h.access!(c);
    expect(parseTraceParent(c.headers['traceparent'])?.traceId).not.toBe('4bf92f3577b34da6a3ce929d0e0e4736');
  });

  it('sampling_rate 0 queues nothing; 1 queues the server span, even when access never ran', () => {
    const none = createOpenTelemetry(conf('{ traces_endpoint: "http://127.0.0.1:9/v1/unsampled", sampling_rate: 0 }'), env);
    const c0 = ctx();
    none.access!(c0);
    none.log!(c0);
    expect(none.exporter.pending).toBe(0);
    expect(c0.headers['traceparent']).toMatch(/-00$/);

    const all = createOpenTelemetry(conf('{ traces_endpoint: "http://127.0.0.1:9/v1/sampled", queue: { max_coalescing_delay: 60 } }'), env);
    const c1 = ctx();
    c1.status = 401;
    all.log!(c1);
    expect(all.exporter.pending).toBe(1);
  });
});

describe('OTLP exporter queue', () => {
  const settings: ExporterSettings = {
    endpoint: 'http://127.0.0.1:9/v1/traces',
    headers: {},
    resource: { 'service.name': 'kong' },
    maxBatchSize: 1000,
    maxCoalescingDelayMs: 60_000,
    maxEntries: 3,
    maxBytes: null,
    maxRetryTimeMs: 0,
    initialRetryDelayMs: 10,
    maxRetryDelayMs: 10,
    concurrencyLimit: 1,
    connectTimeoutMs: 100,
    sendTimeoutMs: 100,
    readTimeoutMs: 100,
  };

  it('drops and counts spans beyond max_entries without throwing', () => {
    let warnings = 0;
    const e = new OtlpExporter(settings, { warn: () => warnings++ });
    for (let i = 0; i < 5; i++) e.enqueue('{}');
    expect(e.pending).toBe(3);
    expect(e.dropped).toBe(2);
    expect(warnings).toBe(1);
  });

  it('counts a batch the collector never accepts as failed (unreachable endpoint)', async () => {
    const e = new OtlpExporter({ ...settings, maxEntries: 10 }, { warn() {} });
    e.enqueue('{}');
    e.enqueue('{}');
    await e.flush();
    expect(e.failed).toBe(2);
    expect(e.exported).toBe(0);
  });
});
