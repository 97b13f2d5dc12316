/**
 * services (kong/db/schema/entities/services.lua), with the `url` shorthand and nested
 * routes and plugins.
 */
import type { PluginSchemaRegistry } from '../../../workers/plugins/registry-schemas.js';
import { array, boolean, integer, record, string, type Shorthand } from '../schema-dsl.js';
import { checkHost, parseHostPort } from '../validators.js';
import { id, metaFields, name, PROTOCOLS, servicePath, tags, unsupported } from './common.js';
import { pluginSchema } from './plugins.js';
import { routeSchema } from './routes.js';

const TLS_SCHEMES = new Set(['https', 'grpcs', 'tls']);
const PATHLESS = new Set(['tcp', 'tls', 'tls_passthrough', 'udp', 'grpc', 'grpcs']);

/**
 * `url: http://orders.internal:8080/v1` -> protocol, host, port, path. The port defaults
 * from the scheme (443 for the TLS ones, else 80). A query or fragment, which Kong drops
 * silently, is refused: it would never reach the upstream.
 */
const url: Shorthand = {
  fields: ['protocol', 'host', 'port', 'path'],
  expand: (value) => {
    if (typeof value !== 'string') return 'expected a string';
    const m = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)([^?#]*)(.*)$/s.exec(value);
    if (m === null) return `invalid url '${value}': expected <protocol>://<host>[:<port>][/<path>]`;
    const [, scheme, authority, path, rest] = m as unknown as [string, string, string, string, string];
    if (rest !== '') return `invalid url '${value}': a service url cannot have a query or fragment`;
    if (authority.includes('@')) return `invalid url '${value}': credentials in the url are not supported`;
    const hp = parseHostPort(authority);
    if ('error' in hp) return `invalid url '${value}': ${hp.error}`;
    const protocol = scheme.toLowerCase();
    return {
      protocol,
      host: hp.host,
      port: hp.port ?? (TLS_SCHEMES.has(protocol) ? 443 : 80),
      path: path === '' ? null : path,
    };
  },
};

const timeout = () => integer({ default: 60000, between: [1, 2 ** 31 - 2] });

export function serviceSchema(registry: PluginSchemaRegistry) {
  return record(
    {
      id: id(),
      name: name(),
      retries: integer({ default: 5, between: [0, 32767] }),
      protocol: string({ one_of: PROTOCOLS, default: 'http' }),
      host: string({ required: true, check: checkHost }),
      port: integer({ between: [0, 65535], default: 80 }),
      path: servicePath(),
      connect_timeout: timeout(),
      write_timeout: timeout(),
      read_timeout: timeout(),
      tags: tags(),
      client_certificate: unsupported('client_certificate (certificates)'),
      tls_verify: boolean(),
      tls_verify_depth: integer({ between: [0, 64] }),
      ca_certificates: array(string({ uuid: true }), {
        check: (v) => (v.length > 0 ? 'ca_certificates is not supported yet' : undefined),
      }),
      enabled: boolean({ default: true }),
      routes: array(routeSchema('service', registry)),
      plugins: array(pluginSchema('service', registry)),
      ...metaFields(),
    },
    {
      shorthands: { url },
      checks: [
        {
          custom: (s) => {
            const failures = [];
            if (s.path !== null && PATHLESS.has(s.protocol)) {
              failures.push({ field: 'path', message: `value must be null when 'protocol' is '${s.protocol}'` });
            }
            if (s.tls_verify !== null && s.protocol !== 'https' && s.protocol !== 'tls') {
              failures.push({ field: 'tls_verify', message: "value must be null when 'protocol' is not 'https' or 'tls'" });
            }
            return failures;
          },
        },
      ],
    },
  );
}
