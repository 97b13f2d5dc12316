import { describe, expect, it } from 'vitest';
import { schema as correlationId } from '../../workers/plugins/correlation-id/schema.js';
import { schema as requestTermination } from '../../workers/plugins/request-termination/schema.js';
import { pluginSchemas, type PluginSchemaEntry } from '../../workers/plugins/registry-schemas.js';
import { loadConfigText } from './load.js';
import { integer, record, validate } from './schema-dsl.js';

describe('request-termination schema', () => {
  it("has Kong's defaults", () => {
    expect(validate(requestTermination, {}).value).toEqual({ status_code: 503, message: null, content_type: null, body: null, echo: false, trigger: null });
  });

  it("enforces Kong's combinations", () => {
    const msg = (config: object) => validate(requestTermination, config).issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    expect(msg({ message: 'a', body: 'b' })).toEqual(['message: message cannot be used with content_type or body']);
    expect(msg({ content_type: 'text/plain' })).toEqual(['content_type: content_type requires a body']);
    expect(msg({ echo: true, body: 'x' })).toEqual(['echo: echo cannot be used with content_type and body']);
    expect(msg({ status_code: 99 })).toEqual(['status_code: value should be between 100 and 599']);
    expect(msg({ trigger: 'x maint' })).toEqual(["trigger: bad header name 'x maint', allowed characters are A-Z, a-z, 0-9, '_', and '-'"]);
    expect(msg({ status_code: 204, body: '', content_type: 'text/plain' })).toEqual([]);
  });
});

describe('correlation-id schema', () => {
  it("has Kong's defaults and generators", () => {
    expect(validate(correlationId, {}).value).toEqual({ header_name: 'Kong-Request-ID', generator: 'uuid#counter', echo_downstream: false });
    expect(validate(correlationId, { generator: 'random' }).issues[0]!.message).toBe('expected one of: uuid, uuid#counter, tracker');
  });
});

describe('plugin registry', () => {
  it('knows the shipped plugins with their Kong priorities', () => {
    // Kong's PRIORITY numbers (kong/plugins/*/handler.lua): these decide the order of every chain.
    const kong: Record<string, number> = {
      'correlation-id': 100001,
      jwt: 1450,
      'key-auth': 1250,
      'basic-auth': 1100,
      'openid-connect': 1050,
      'hmac-auth': 1030,
      acl: 950,
      'request-termination': 2,
    };
    const shipped = [...pluginSchemas];
    expect(shipped.length).toBeGreaterThanOrEqual(2);
    for (const [name, entry] of shipped) {
      if (name in kong) expect([name, entry.priority]).toEqual([name, kong[name]]);
    }
    expect(pluginSchemas.get('correlation-id')?.priority).toBe(100001);
    expect(pluginSchemas.get('request-termination')?.priority).toBe(2);
  });

  it('refuses a scope the plugin does not support, nested or by reference', () => {
    const entry: PluginSchemaEntry = { schema: record({ n: integer({ default: 1 }) }), priority: 1000, noConsumer: true, protocols: ['http', 'https'] };
    const plugins = new Map([...pluginSchemas, ['auth', entry]]);
    const text = [
      '_format_version: "3.0"',
      'consumers:',
      '  - username: alice',
      '    plugins:',
      '      - name: auth',
      'plugins:',
      '  - name: auth',
      '    consumer: alice',
      '  - name: auth',
      '    protocols: [grpc]',
    ].join('\n');
    const r = loadConfigText(text, 'k.yml', {}, { plugins });
    expect(r.ok ? [] : r.issues.map((i) => `${i.line}:${i.col} ${i.path}: ${i.message}`)).toEqual([
      "5:15 consumers[0].plugins[0].name: plugin 'auth' cannot be applied to a consumer",
      "8:15 plugins[0].consumer: plugin 'auth' cannot be applied to a consumer",
      '10:17 plugins[1].protocols[0]: expected one of: http, https',
    ]);
  });

  it("defaults an instance's protocols to the plugin's", () => {
    const entry: PluginSchemaEntry = { schema: record({}), priority: 1, protocols: ['http', 'https'] };
    const r = loadConfigText('_format_version: "3.0"\nplugins:\n  - name: p\n', 'k.yml', {}, { plugins: new Map([['p', entry]]) });
    expect(r.ok && r.config.plugins[0]!.protocols).toEqual(['http', 'https']);
  });

  it('refuses a scope set twice: nesting already gives it', () => {
    const text = '_format_version: "3.0"\nservices:\n  - name: s\n    host: h\n    plugins:\n      - name: correlation-id\n        route: r\n';
    const r = loadConfigText(text, 'k.yml', {});
    expect(r.ok ? [] : r.issues.map((i) => `${i.line}:${i.col} ${i.path}`)).toEqual(['7:16 services[0].plugins[0].route']);
  });
});

describe('plugin ordering (Kong Enterprise dynamic ordering)', () => {
  const head = '_format_version: "3.0"\nplugins:\n  - name: correlation-id\n';

  it('loads `ordering.before/after.access` and fills the missing side with an empty list', () => {
    const r = loadConfigText(`${head}    ordering:\n      before:\n        access: [request-termination]\n`, 'kong.yml', {});
    expect(r.ok).toBe(true);
    if (r.ok) expect(r.config.plugins[0]!.ordering).toEqual({ before: { access: ['request-termination'] }, after: { access: [] } });
  });

  it('is null when not given, and refuses phases other than access with the field path', () => {
    const ok = loadConfigText(head, 'kong.yml', {});
    expect(ok.ok && ok.config.plugins[0]!.ordering).toBe(null);
    const bad = loadConfigText(`${head}    ordering:\n      before:\n        rewrite: [x]\n`, 'kong.yml', {});
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.issues[0]).toMatchObject({ line: 6, path: 'plugins[0].ordering.before.rewrite' });
  });
});
