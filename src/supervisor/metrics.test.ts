/**
 * The Prometheus exporter over a metrics buffer: Kong's names and labels, cumulative
 * buckets, label escaping, supervisor counters.
 */
import { describe, expect, it } from 'vitest';
import { MetricsRecorder, createMetricsBuffer } from '../shared/shm/metrics.js';
import { MetricsExporter, escapeLabel } from './metrics.js';

describe('MetricsExporter', () => {
  it('writes Kong-named series with cumulative buckets, sums and counts', () => {
    const sab = createMetricsBuffer(2);
    const a = new MetricsRecorder(sab, 0);
    const b = new MetricsRecorder(sab, 1);
    const s = a.series('svc', 'r');
    expect(b.series('svc', 'r')).toBe(s);
    const base = { series: s, status: 200, fromService: true, kongMs: 3, upstreamMs: 60, ingressBytes: 5, egressBytes: 7 };
    a.record({ ...base, requestMs: 20 });
    b.record({ ...base, requestMs: 90 });
    b.record({ ...base, status: 429, fromService: false, requestMs: 1, kongMs: 1, upstreamMs: -1, ingressBytes: 0, egressBytes: 40 });
    const text = new MetricsExporter(sab).render({ workerRestarts: 2, configReloads: 5 });
    const lines = text.split('\n');
    const L = 'service="svc",route="r"';
    expect(lines).toContain(`kong_http_requests_total{${L},code="200",source="service",workspace="default",consumer=""} 2`);
    expect(lines).toContain(`kong_http_requests_total{${L},code="429",source="kong",workspace="default",consumer=""} 1`);
    expect(lines).toContain(`kong_request_latency_ms_bucket{${L},workspace="default",le="25"} 2`);
    expect(lines).toContain(`kong_request_latency_ms_bucket{${L},workspace="default",le="80"} 2`);
    expect(lines).toContain(`kong_request_latency_ms_bucket{${L},workspace="default",le="100"} 3`);
    expect(lines).toContain(`kong_request_latency_ms_bucket{${L},workspace="default",le="+Inf"} 3`);
    expect(lines).toContain(`kong_request_latency_ms_sum{${L},workspace="default"} 111`);
    expect(lines).toContain(`kong_request_latency_ms_count{${L},workspace="default"} 3`);
    expect(lines).toContain(`kong_upstream_latency_ms_count{${L},workspace="default"} 2`);
    expect(lines).toContain(`kong_upstream_latency_ms_bucket{${L},workspace="default",le="50"} 0`);
    expect(lines).toContain(`kong_kong_latency_ms_bucket{${L},workspace="default",le="1"} 1`);
    expect(lines).toContain(`kong_kong_latency_ms_bucket{${L},workspace="default",le="5"} 3`);
    expect(lines).toContain(`kong_bandwidth_bytes{${L},direction="ingress",workspace="default",consumer=""} 10`);
    expect(lines).toContain(`kong_bandwidth_bytes{${L},direction="egress",workspace="default",consumer=""} 54`);
    expect(lines).toContain('kong_nginx_requests_total{subsystem="http"} 3');
    expect(lines).toContain('portcullis_worker_requests_total{worker="0"} 1');
    expect(lines).toContain('portcullis_worker_requests_total{worker="1"} 2');
    expect(lines).toContain('portcullis_worker_restarts_total 2');
    expect(lines).toContain('portcullis_config_reloads_total 5');
    expect(lines).toContain('portcullis_metrics_series{state="used"} 3');
    expect(lines).toContain('# TYPE kong_request_latency_ms histogram');
    expect(text.endsWith('\n')).toBe(true);
    // Series with no traffic write no samples (only HELP/TYPE).
    expect(lines.filter((l) => !l.startsWith('#') && l.includes('_overflow'))).toEqual([]);
  });

  it('escapes label values', () => {
    expect(escapeLabel('a"b\\c\nd')).toBe('a\\"b\\\\c\\nd');
    const sab = createMetricsBuffer(1);
    const rec = new MetricsRecorder(sab, 0);
    rec.record({ series: rec.series('host"x', 'r\\1'), status: 200, fromService: true, requestMs: 1, kongMs: 1, upstreamMs: 1, ingressBytes: 0, egressBytes: 0 });
    expect(new MetricsExporter(sab).render({ workerRestarts: 0 })).toContain('kong_http_requests_total{service="host\\"x",route="r\\\\1",code="200"');
  });
});
