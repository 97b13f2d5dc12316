/**
 * The pieces the json-* scenarios share: the order-batch request, and the route that validates it
 * with json-threat-protection + oas-validation (issue #6), configured in Kong EE's names.
 */
import { nginxProxyLocation, type BenchRequest, type Scenario } from '../scenarios/types.js';
import { jsonThreatLimits, orderDocument, ORDERS_OPENAPI } from './json-doc.js';

export const KIB = 1024;

export function ordersRequest(bytes: number): BenchRequest {
  return { method: 'POST', path: '/orders', headers: { 'content-type': 'application/json' }, body: orderDocument(bytes) };
}

/** The plugins of a validating route: threat limits first (cheap, streaming), then the schema. */
export function validationPlugins(maxBodyBytes: number): Record<string, unknown>[] {
  return [
    { name: 'json-threat-protection', config: jsonThreatLimits(maxBodyBytes) },
    // The spec is inline JSON, not URI-encoded (Kong's api_spec_encoded defaults to true).
    { name: 'oas-validation', config: { api_spec: JSON.stringify(ORDERS_OPENAPI), api_spec_encoded: false, validate_request_body: true } },
  ];
}

/**
 * nginx keeps request bodies up to client_body_buffer_size in memory and writes larger ones to a
 * temp file; a buffer that holds the whole body keeps the comparison about proxying, not disks.
 */
export function nginxLargeBodyLocation(maxBodyBytes: number): string {
  const kib = Math.ceil(maxBodyBytes / KIB);
  return nginxProxyLocation('/', `client_body_buffer_size ${kib}k;\nclient_max_body_size ${kib}k;`);
}

/**
 * "The p99 of small requests while large bodies are being validated" (issue #6): small GETs on
 * /small (no plugins), measured open loop at a fixed rate, while a closed-loop load POSTs
 * `bodyBytes` order batches to /orders, validated by both plugins.
 */
export function contentionScenario(opts: { name: string; bodyBytes: number; bodyLabel: string; connections: number }): Scenario {
  const maxBody = 2 * opts.bodyBytes;
  return {
    name: opts.name,
    description:
      `open-loop GET /small (no plugins) at a fixed rate, alone and while ${opts.connections} connections POST ` +
      `${opts.bodyLabel} JSON order batches to /orders (json-threat-protection + oas-validation)`,
    request: { method: 'GET', path: '/small' },
    background: { label: `${opts.bodyLabel} validated POSTs`, request: ordersRequest(opts.bodyBytes), connections: opts.connections },
    defaultRate: 1000,
    gatewayConfig: (ctx) => ({
      _format_version: '3.0',
      services: [
        {
          name: 'origin',
          url: ctx.upstreamUrl,
          routes: [
            { name: 'small', paths: ['/small'] },
            { name: 'orders', paths: ['/orders'], plugins: validationPlugins(maxBody) },
          ],
        },
      ],
    }),
    nginx: null,
  };
}
