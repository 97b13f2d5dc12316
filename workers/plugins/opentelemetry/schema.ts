/**
 * opentelemetry config: Kong 3.x's kong/plugins/opentelemetry/schema.lua names and
 * defaults for what this gateway exports (traces over OTLP/HTTP):
 * - traces_endpoint (required, referenceable); `endpoint`, its pre-3.8 name, is accepted
 *   as a shorthand for it;
 * - headers (values referenceable), resource_attributes;
 * - queue (Kong's shared queue typedef; max_batch_size 200 as the plugin's default), with
 *   the deprecated batch_span_count / batch_flush_delay overriding max_batch_size /
 *   max_coalescing_delay when set;
 * - connect_timeout 1000, send_timeout 5000, read_timeout 5000 (ms);
 * - http_response_header_for_traceid, header_type, sampling_rate.
 *
 * header_type: we read and write W3C trace context only. 'w3c' (our default) and
 * 'preserve' (Kong's default: answer in the incoming format, which for us is always W3C)
 * continue an incoming `traceparent`; 'ignore' starts a new trace whatever came in. Kong's
 * other formats (b3, jaeger, ot, aws, gcp, datadog) are refused at load rather than
 * silently producing W3C.
 *
 * sampling_rate: Kong leaves it null to use the node-wide tracing_sampling_rate; we have
 * no such setting, so null means 1 (every trace).
 */
import { integer, map, number, record, string, type Infer } from '../../../src/config/schema-dsl.js';
import { checkHeaderName } from '../../../src/config/validators.js';

function checkEndpoint(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return `invalid URL: ${value}`;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'expected an http or https URL';
  return undefined;
}

const queue = record(
  {
    max_batch_size: integer({ default: 200, between: [1, 1_000_000] }),
    /** Seconds a batch may wait for more spans before it is sent. */
    max_coalescing_delay: number({ default: 1, between: [0, 3600] }),
    max_entries: integer({ default: 10_000, between: [1, 1_000_000] }),
    max_bytes: integer({ between: [1, 1 << 30] }),
    max_retry_time: number({ default: 60 }),
    initial_retry_delay: number({ default: 0.01, between: [0.001, 1_000_000] }),
    max_retry_delay: number({ default: 60, between: [0.001, 1_000_000] }),
    /** Kong: 1 = one batch in flight at a time, -1 = no limit. */
    concurrency_limit: integer({ default: 1, one_of: [-1, 1] }),
  },
  { required: true },
);

export const schema = record(
  {
    traces_endpoint: string({ required: true, referenceable: true, check: checkEndpoint }),
    headers: map(string({ check: checkHeaderName }), string({ referenceable: true })),
    resource_attributes: map(string(), string()),
    queue,
    batch_span_count: integer({ between: [1, 1_000_000] }),
    batch_flush_delay: integer({ between: [0, 3600] }),
    connect_timeout: integer({ default: 1000, between: [0, 2_147_483_646] }),
    send_timeout: integer({ default: 5000, between: [0, 2_147_483_646] }),
    read_timeout: integer({ default: 5000, between: [0, 2_147_483_646] }),
    http_response_header_for_traceid: string({ check: checkHeaderName }),
    header_type: string({ one_of: ['w3c', 'preserve', 'ignore'], default: 'w3c' }),
    sampling_rate: number({ between: [0, 1] }),
  },
  {
    shorthands: {
      endpoint: {
        fields: ['traces_endpoint'],
        expand: (v) => (typeof v === 'string' ? { traces_endpoint: v } : 'expected a string'),
      },
    },
  },
);

export type OpenTelemetryConfig = Infer<typeof schema>;
