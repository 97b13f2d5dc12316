/**
 * GET /metrics on the admin API: the workers' shared-memory counters (src/shared/shm/metrics.ts)
 * summed by the supervisor and written in the Prometheus text format (version 0.0.4), with
 * Kong's metric names, labels and bucket edges so Kong's Grafana dashboard works as is:
 *
 *   kong_http_requests_total{service,route,code,source,workspace,consumer}
 *   kong_kong_latency_ms / kong_upstream_latency_ms / kong_request_latency_ms
 *       _bucket{service,route,workspace,le} _sum _count
 *   kong_bandwidth_bytes{service,route,direction,workspace,consumer}
 *   kong_nginx_requests_total{subsystem}   every request counted above (our equivalent)
 *   portcullis_worker_restarts_total, portcullis_config_reloads_total,
 *   portcullis_worker_requests_total{worker}   requests per worker id
 *   portcullis_metrics_series{state}       series slots used / capacity (overflow beyond)
 *
 * `consumer` is always "" (Kong's default, per_consumer off: per-consumer series would make
 * the label set unbounded); `workspace` is always "default".
 */
import {
  C_CODES,
  C_EGRESS,
  C_INGRESS,
  C_KONG_LAT,
  C_REQUEST_LAT,
  C_UPSTREAM_LAT,
  CODE_OTHER,
  CODE_SLOTS,
  KONG_LATENCY_BUCKETS,
  MetricsReader,
  UPSTREAM_LATENCY_BUCKETS,
  type SeriesTotals,
} from '../shared/shm/metrics.js';

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** What the supervisor itself counts. */
export interface SupervisorCounters {
  readonly workerRestarts: number;
  readonly configReloads?: number;
}

/** Escapes a label value (Prometheus text format: backslash, double quote, newline). */
export function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

export class MetricsExporter {
  private readonly reader: MetricsReader;

  constructor(buffer: SharedArrayBuffer) {
    this.reader = new MetricsReader(buffer);
  }

  render(sup: SupervisorCounters): string {
    const series = this.reader.read();
    const out: string[] = [];
    const help = (name: string, type: string, text: string): void => {
      out.push(`# HELP ${name} ${text}`, `# TYPE ${name} ${type}`);
    };
    const sr = (s: SeriesTotals): string => `service="${escapeLabel(s.service)}",route="${escapeLabel(s.route)}"`;

    help('kong_http_requests_total', 'counter', 'HTTP status codes per consumer/service/route in Kong');
    let total = 0;
    for (const s of series) {
      for (let src = 0; src < 2; src++) {
        const source = src === 0 ? 'service' : 'kong';
        for (let c = 0; c < CODE_SLOTS; c++) {
          const v = s.counters[C_CODES + src * CODE_SLOTS + c]!;
          if (v === 0) continue;
          total += v;
          const code = c === CODE_OTHER ? 'other' : String(c + 100);
          out.push(`kong_http_requests_total{${sr(s)},code="${code}",source="${source}",workspace="default",consumer=""} ${v}`);
        }
      }
    }

    histogram(out, series, sr, 'kong_kong_latency_ms', 'Latency added by Kong and enabled plugins for each service/route in Kong', C_KONG_LAT, KONG_LATENCY_BUCKETS);
    histogram(out, series, sr, 'kong_upstream_latency_ms', 'Latency added by upstream response for each service/route in Kong', C_UPSTREAM_LAT, UPSTREAM_LATENCY_BUCKETS);
    histogram(out, series, sr, 'kong_request_latency_ms', 'Total latency incurred during requests for each service/route in Kong', C_REQUEST_LAT, UPSTREAM_LATENCY_BUCKETS);

    help('kong_bandwidth_bytes', 'counter', 'Total bandwidth (ingress/egress) throughput in bytes (request and response bodies)');
    for (const s of series) {
      const ingress = s.counters[C_INGRESS]!;
      const egress = s.counters[C_EGRESS]!;
      if (ingress > 0) out.push(`kong_bandwidth_bytes{${sr(s)},direction="ingress",workspace="default",consumer=""} ${ingress}`);
      if (egress > 0) out.push(`kong_bandwidth_bytes{${sr(s)},direction="egress",workspace="default",consumer=""} ${egress}`);
    }

    help('kong_nginx_requests_total', 'gauge', 'Number of requests total');
    out.push(`kong_nginx_requests_total{subsystem="http"} ${total}`);

    help('portcullis_worker_restarts_total', 'counter', 'Worker threads replaced (crashes and requested restarts)');
    out.push(`portcullis_worker_restarts_total ${sup.workerRestarts}`);
    help('portcullis_config_reloads_total', 'counter', 'Config reloads applied since start');
    out.push(`portcullis_config_reloads_total ${sup.configReloads ?? 0}`);
    help('portcullis_worker_requests_total', 'counter', 'Requests counted by each worker id (replacement threads continue their id)');
    this.reader.requestsBySlice.forEach((v, k) => out.push(`portcullis_worker_requests_total{worker="${k}"} ${v}`));
    const usage = this.reader.usage();
    help('portcullis_metrics_series', 'gauge', 'Metric series slots (service, route) in use and available; past capacity routes count under route="_overflow"');
    out.push(`portcullis_metrics_series{state="used"} ${usage.registered}`);
    out.push(`portcullis_metrics_series{state="capacity"} ${usage.capacity}`);
    return out.join('\n') + '\n';
  }
}

function histogram(
  out: string[],
  series: readonly SeriesTotals[],
  sr: (s: SeriesTotals) => string,
  name: string,
  text: string,
  base: number,
  edges: readonly number[],
): void {
  out.push(`# HELP ${name} ${text}`, `# TYPE ${name} histogram`);
  for (const s of series) {
    let count = 0;
    for (let i = 0; i <= edges.length; i++) count += s.counters[base + i]!;
    if (count === 0) continue;
    const labels = `${sr(s)},workspace="default"`;
    let cum = 0;
    for (let i = 0; i < edges.length; i++) {
      cum += s.counters[base + i]!;
      out.push(`${name}_bucket{${labels},le="${edges[i]}"} ${cum}`);
    }
    out.push(`${name}_bucket{${labels},le="+Inf"} ${count}`);
    out.push(`${name}_sum{${labels}} ${s.counters[base + edges.length + 1]!}`);
    out.push(`${name}_count{${labels}} ${count}`);
  }
}

const exporters = new WeakMap<SharedArrayBuffer, MetricsExporter>();

/** Answers GET/HEAD /metrics (one exporter per buffer: it keeps the monotonic read state). */
export function serveMetrics(
  sup: SupervisorCounters & { readonly metricsBuffer: SharedArrayBuffer | null },
  res: import('node:http').ServerResponse,
  head: boolean,
): void {
  const buf = sup.metricsBuffer;
  if (buf === null) {
    res.writeHead(503, { 'Content-Type': 'application/json; charset=utf-8' });
    res.end(head ? undefined : JSON.stringify({ message: 'metrics are not available before the workers start' }));
    return;
  }
  let exp = exporters.get(buf);
  if (exp === undefined) exporters.set(buf, (exp = new MetricsExporter(buf)));
  const text = exp.render(sup);
  res.writeHead(200, { 'Content-Type': METRICS_CONTENT_TYPE, 'Content-Length': Buffer.byteLength(text) });
  res.end(head ? undefined : text);
}
