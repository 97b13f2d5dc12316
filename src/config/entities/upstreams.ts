/**
 * upstreams (kong/db/schema/entities/upstreams.lua) with Kong's health-check defaults,
 * and targets (targets.lua), nested or top-level.
 */
import { array, boolean, integer, map, number, record, string, type CheckFailure } from '../schema-dsl.js';
import { checkHeaderName, checkHost, checkUpstreamName, parseHostPort } from '../validators.js';
import { filledByNesting, id, metaFields, servicePath, tags, unsupported } from './common.js';

const seconds = (def: number) => number({ between: [0, 65535], default: def });
/** Kong 3 keeps health counters in a byte. */
const counter = () => integer({ between: [0, 255], default: 0 });
const statuses = (def: readonly number[]) => array(integer({ between: [100, 999] }), { default: def });

const HEALTHY_PASSIVE = [200, 201, 202, 203, 204, 205, 206, 207, 208, 226, 300, 301, 302, 303, 304, 305, 306, 307, 308];

const healthchecks = () =>
  record(
    {
      active: record(
        {
          type: string({ one_of: ['tcp', 'http', 'https', 'grpc', 'grpcs'], default: 'http' }),
          timeout: seconds(1),
          concurrency: integer({ between: [1, 2 ** 31], default: 10 }),
          http_path: string({ default: '/', check: (p) => (p.startsWith('/') ? undefined : 'should start with: /') }),
          https_sni: string({ check: checkHost }),
          https_verify_certificate: boolean({ default: true }),
          headers: map(string({ check: checkHeaderName }), array(string({ len_min: 0 }))),
          healthy: record(
            { interval: seconds(0), http_statuses: statuses([200, 302]), successes: counter() },
            { default: {} },
          ),
          unhealthy: record(
            {
              interval: seconds(0),
              http_statuses: statuses([429, 404, 500, 501, 502, 503, 504, 505]),
              tcp_failures: counter(),
              timeouts: counter(),
              http_failures: counter(),
            },
            { default: {} },
          ),
        },
        { default: {} },
      ),
      passive: record(
        {
          type: string({ one_of: ['tcp', 'http', 'https', 'grpc', 'grpcs'], default: 'http' }),
          healthy: record({ http_statuses: statuses(HEALTHY_PASSIVE), successes: counter() }, { default: {} }),
          unhealthy: record(
            { http_statuses: statuses([429, 500, 503]), tcp_failures: counter(), timeouts: counter(), http_failures: counter() },
            { default: {} },
          ),
        },
        { default: {} },
      ),
      threshold: number({ between: [0, 100], default: 0 }),
    },
    { default: {} },
  );

const HASH_ON = ['none', 'consumer', 'ip', 'header', 'cookie', 'path', 'query_arg', 'uri_capture'] as const;

export type TargetNesting = 'top' | 'upstream';

const checkTarget = (t: string) => ('error' in parseHostPort(t) ? `Invalid target ('${t}'); not a valid hostname or ip address` : undefined);

export const targetSchema = (nesting: TargetNesting) =>
  record({
    id: id(),
    target: string({ required: true, check: checkTarget }),
    weight: integer({ between: [0, 65535], default: 100 }),
    tags: tags(),
    upstream: nesting === 'top' ? string({ required: true }) : filledByNesting('upstream', 'upstream'),
    ...metaFields(),
  });

export function upstreamSchema() {
  return record(
    {
      id: id(),
      name: string({ required: true, check: checkUpstreamName }),
      algorithm: string({ one_of: ['round-robin', 'consistent-hashing', 'least-connections', 'latency'], default: 'round-robin' }),
      hash_on: string({ one_of: HASH_ON, default: 'none' }),
      hash_fallback: string({ one_of: HASH_ON, default: 'none' }),
      hash_on_header: string({ check: checkHeaderName }),
      hash_fallback_header: string({ check: checkHeaderName }),
      hash_on_cookie: string(),
      hash_on_cookie_path: servicePath(),
      hash_on_query_arg: string(),
      hash_fallback_query_arg: string(),
      hash_on_uri_capture: string(),
      hash_fallback_uri_capture: string(),
      slots: integer({ between: [10, 65536], default: 10000 }),
      healthchecks: healthchecks(),
      host_header: string({ check: checkHost }),
      client_certificate: unsupported('client_certificate (certificates)'),
      use_srv_name: boolean({ default: false }),
      tags: tags(),
      targets: array(targetSchema('upstream')),
      ...metaFields(),
    },
    {
      checks: [
        {
          custom: (u) => {
            const failures: CheckFailure[] = [];
            const need = (when: boolean, field: keyof typeof u, what: string) => {
              if (when && u[field] === null) failures.push({ field, message: `required field missing (hashing on '${what}' needs it)` });
            };
            need(u.hash_on === 'header', 'hash_on_header', 'header');
            need(u.hash_fallback === 'header', 'hash_fallback_header', 'header');
            need(u.hash_on === 'cookie' || u.hash_fallback === 'cookie', 'hash_on_cookie', 'cookie');
            need(u.hash_on === 'query_arg', 'hash_on_query_arg', 'query_arg');
            need(u.hash_fallback === 'query_arg', 'hash_fallback_query_arg', 'query_arg');
            need(u.hash_on === 'uri_capture', 'hash_on_uri_capture', 'uri_capture');
            need(u.hash_fallback === 'uri_capture', 'hash_fallback_uri_capture', 'uri_capture');
            if ((u.hash_on === 'none' || u.hash_on === 'cookie') && u.hash_fallback !== 'none') {
              failures.push({ field: 'hash_fallback', message: `expected one of: none (hash_on is '${u.hash_on}')` });
            } else if (u.hash_on === u.hash_fallback && !['header', 'query_arg', 'uri_capture', 'none'].includes(u.hash_on)) {
              failures.push({ field: 'hash_fallback', message: `must differ from hash_on ('${u.hash_on}')` });
            }
            return failures;
          },
        },
      ],
    },
  );
}
