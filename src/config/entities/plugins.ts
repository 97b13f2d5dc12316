/**
 * plugins (kong/db/schema/entities/plugins.lua). `config` and `protocols` depend on the
 * plugin's name (Kong's subschema_key = "name"), so the schema is built per registry and
 * per nesting: a plugin under a service, route or consumer takes that scope from its
 * parent and may not name another one.
 */
import type { PluginSchemaEntry, PluginSchemaRegistry } from '../../../workers/plugins/registry-schemas.js';
import { any, array, boolean, forbidden, record, RecordSchema, set, string, type Schema, type Subschema } from '../schema-dsl.js';
import { HTTP_PROTOCOLS, id, metaFields, name, notOnNested, PROTOCOLS, reference, tags } from './common.js';

export type PluginNesting = 'top' | 'service' | 'route' | 'consumer';

const SCOPES = [
  { field: 'service', flag: 'noService', what: 'a service' },
  { field: 'route', flag: 'noRoute', what: 'a route' },
  { field: 'consumer', flag: 'noConsumer', what: 'a consumer' },
] as const;

function scopeField(nesting: PluginNesting, field: 'service' | 'route' | 'consumer'): Schema<any, any> {
  if (nesting === 'top') return reference();
  if (nesting === field) return forbidden(`value must be null: '${field}' is set by nesting this plugin under a ${field}`);
  return notOnNested('plugin', field, nesting);
}

function subschemaFor(nesting: PluginNesting, registry: PluginSchemaRegistry) {
  return (raw: Readonly<Record<string, unknown>>): Subschema | undefined => {
    const pluginName = raw.name;
    if (typeof pluginName !== 'string') return undefined;
    const entry: PluginSchemaEntry | undefined = registry.get(pluginName);
    if (entry === undefined) return { error: { field: 'name', message: `plugin '${pluginName}' is not installed` } };
    const fields: Record<string, Schema<any, any>> = {
      // A plugin without `config` still gets its defaults: Kong fills a required record.
      config: new RecordSchema(entry.schema.fields, { ...entry.schema.opts, required: true, default: undefined }),
      protocols: set(string({ one_of: entry.protocols ?? PROTOCOLS }), {
        default: entry.protocols ?? HTTP_PROTOCOLS,
        len_min: 1,
      }),
    };
    for (const scope of SCOPES) {
      if (entry[scope.flag] !== true) continue;
      if (nesting === scope.field) {
        return { error: { field: 'name', message: `plugin '${pluginName}' cannot be applied to ${scope.what}` } };
      }
      if (nesting === 'top') fields[scope.field] = forbidden(`plugin '${pluginName}' cannot be applied to ${scope.what}`);
    }
    return { fields };
  };
}

export function pluginSchema(nesting: PluginNesting, registry: PluginSchemaRegistry) {
  return record(
    {
      id: id(),
      name: string({ required: true }),
      instance_name: name(),
      // Replaced by the plugin's own schema once the name is known.
      config: any(),
      protocols: set(string({ one_of: PROTOCOLS })),
      enabled: boolean({ default: true }),
      tags: tags(),
      // Kong Enterprise's dynamic plugin ordering (access phase only, as in Kong).
      ordering: record({
        before: record({ access: array(string({ len_min: 1 })) }),
        after: record({ access: array(string({ len_min: 1 })) }),
      }),
      route: scopeField(nesting, 'route'),
      service: scopeField(nesting, 'service'),
      consumer: scopeField(nesting, 'consumer'),
      ...metaFields(),
    },
    { subschema: subschemaFor(nesting, registry) },
  );
}

export type PluginValue = {
  id: string | null;
  name: string;
  instance_name: string | null;
  config: Record<string, unknown>;
  protocols: string[];
  enabled: boolean;
  tags: string[];
  ordering: { before: { access: string[] | null } | null; after: { access: string[] | null } | null } | null;
  route: string | null;
  service: string | null;
  consumer: string | null;
};
