/**
 * routes (kong/db/schema/entities/routes.lua with routes_subschemas.lua, traditional
 * router fields). The first protocol picks the subschema: http/https, stream
 * (tcp/tls/udp/tls_passthrough) or grpc/grpcs, each with its own required minimum.
 */
import type { PluginSchemaRegistry } from '../../../workers/plugins/registry-schemas.js';
import {
  array,
  boolean,
  forbidden,
  integer,
  map,
  record,
  set,
  string,
  type CheckFailure,
  type RecordCheck,
  type Subschema,
} from '../schema-dsl.js';
import { checkHeaderName, checkHeaderValue, checkRouteHost, checkRouterPath, checkWildcardHost } from '../validators.js';
import { filledByNesting, id, metaFields, name, protocol, reference, tags, unsupported } from './common.js';
import { pluginSchema } from './plugins.js';

const EXCLUSIVE_PROTOCOL_SETS = [['http', 'https'], ['tcp', 'tls', 'udp'], ['tls_passthrough'], ['grpc', 'grpcs']] as const;

function checkProtocolSets(protocols: string[]): string | undefined {
  const used = EXCLUSIVE_PROTOCOL_SETS.filter((s) => s.some((p) => protocols.includes(p)));
  if (used.length <= 1) return undefined;
  const list = EXCLUSIVE_PROTOCOL_SETS.map((s) => `(${s.map((p) => `'${p}'`).join(', ')})`).join(', ');
  return `these sets are mutually exclusive: ${list}`;
}

const SNI_PROTOCOLS = ['https', 'grpcs', 'tls', 'tls_passthrough'];

function atLeastOneOf(fields: readonly string[], when: string): RecordCheck<any> {
  return {
    custom: (r: Record<string, unknown>) => {
      const set = fields.some((f) => {
        const v = r[f];
        return v !== null && v !== undefined && (typeof v !== 'object' || Object.keys(v).length > 0);
      });
      return set ? undefined : `must set one of ${fields.map((f) => `'${f}'`).join(', ')} when 'protocols' is '${when}'`;
    },
  };
}

function subschema(raw: Readonly<Record<string, unknown>>): Subschema {
  const protocols = Array.isArray(raw.protocols) && raw.protocols.length > 0 ? raw.protocols : ['http', 'https'];
  const first = protocols[0];
  const has = (p: string) => protocols.includes(p);
  if (first === 'tcp' || first === 'tls' || first === 'udp' || first === 'tls_passthrough') {
    const not = (f: string) => forbidden(`cannot set '${f}' when 'protocols' is 'tcp', 'tls', 'tls_passthrough' or 'udp'`);
    return {
      fields: { methods: not('methods'), hosts: not('hosts'), paths: not('paths'), headers: not('headers') },
      checks: [
        first === 'tls_passthrough'
          ? atLeastOneOf(['snis'], 'tls_passthrough')
          : atLeastOneOf(['sources', 'destinations', 'snis'], String(first)),
      ],
    };
  }
  if (first === 'grpc' || first === 'grpcs') {
    return {
      fields: {
        strip_path: boolean({ default: false }),
        methods: forbidden("cannot set 'methods' when 'protocols' is 'grpc' or 'grpcs'"),
      },
      checks: [
        {
          custom: (r: Record<string, unknown>) =>
            r.strip_path === true ? { field: 'strip_path', message: "cannot set 'strip_path' when 'protocols' is 'grpc' or 'grpcs'" } : undefined,
        },
        has('grpcs') ? atLeastOneOf(['hosts', 'headers', 'paths', 'snis'], 'grpcs') : atLeastOneOf(['hosts', 'headers', 'paths'], 'grpc'),
      ],
    };
  }
  return {
    checks: [has('https') ? atLeastOneOf(['methods', 'hosts', 'headers', 'paths', 'snis'], 'https') : atLeastOneOf(['methods', 'hosts', 'headers', 'paths'], 'http')],
  };
}

const headerNameKey = string({
  check: (h) =>
    checkHeaderName(h) ?? (/^host$/i.test(h) ? "cannot contain 'host' header, which must be specified in the 'hosts' attribute" : undefined),
});

type CustomCheck = { custom: (r: Record<string, unknown>) => CheckFailure | CheckFailure[] | undefined };

function routeChecks(): CustomCheck[] {
  return [
    {
      custom: (r: Record<string, unknown>): CheckFailure | CheckFailure[] | undefined => {
        const protocols = r.protocols as string[];
        const snis = r.snis as string[] | null;
        if (snis !== null && snis.length > 0 && !protocols.some((p) => SNI_PROTOCOLS.includes(p))) {
          return { field: 'snis', message: "'snis' can only be set when 'protocols' is 'grpcs', 'https', 'tls' or 'tls_passthrough'" };
        }
        // Names are matched case-insensitively, so X-A and x-a would be one condition twice.
        const headers = r.headers as Record<string, string[]> | null;
        const seen = new Set<string>();
        const failures: CheckFailure[] = [];
        for (const h of Object.keys(headers ?? {})) {
          const lower = h.toLowerCase();
          if (seen.has(lower)) failures.push({ field: ['headers', h], message: `duplicate header '${lower}' (header names are case-insensitive)` });
          seen.add(lower);
        }
        return failures;
      },
    },
  ];
}

export type RouteNesting = 'top' | 'service';

export function routeSchema(nesting: RouteNesting, registry: PluginSchemaRegistry) {
  return record(
    {
      id: id(),
      name: name(),
      protocols: set(protocol(), { default: ['http', 'https'], len_min: 1, check: checkProtocolSets }),
      methods: set(string({ pattern: /^[A-Z]+$/, pattern_err: 'invalid value: methods are upper-case, e.g. GET' })),
      hosts: array(string({ check: checkRouteHost })),
      paths: array(string({ check: checkRouterPath })),
      headers: map(headerNameKey, array(string({ check: checkHeaderValue }))),
      https_redirect_status_code: integer({ one_of: [426, 301, 302, 307, 308], default: 426 }),
      regex_priority: integer({ default: 0 }),
      strip_path: boolean({ default: true }),
      path_handling: string({ one_of: ['v0', 'v1'], default: 'v0' }),
      preserve_host: boolean({ default: false }),
      request_buffering: boolean({ default: true }),
      response_buffering: boolean({ default: true }),
      snis: set(string({ check: checkWildcardHost })),
      sources: unsupported('stream routing (sources)'),
      destinations: unsupported('stream routing (destinations)'),
      tags: tags(),
      service: nesting === 'top' ? reference() : filledByNesting('service', 'service'),
      plugins: array(pluginSchema('route', registry)),
      ...metaFields(),
    },
    { subschema, checks: routeChecks() },
  );
}
