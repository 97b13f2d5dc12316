import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { entityId, uuidv5 } from './ids.js';
import { loadConfigFile, loadConfigText } from './load.js';
import type { GatewayConfig, LoadResult } from './types.js';

const EXAMPLE = new URL('./testdata/kong-example.yml', import.meta.url);
const ENV = { KONG_SECRET_ALICE_PASSWORD: 'correct-horse', ALICE_JWT: '{"secret":"jwt-shared-secret"}' };

function ok(result: LoadResult): GatewayConfig {
  if (!result.ok) throw new Error(result.issues.map((i) => `${i.line}:${i.col} ${i.path}: ${i.message}`).join('\n'));
  return result.config;
}

const byName = <T extends { name: string | null }>(list: T[], name: string): T => {
  const found = list.find((e) => e.name === name);
  if (found === undefined) throw new Error(`no ${name}`);
  return found;
};

describe('a realistic Kong 3.x config', () => {
  const config = ok(loadConfigText(readFileSync(EXAMPLE, 'utf8'), 'kong.yml', ENV));
  const orders = byName(config.services, 'orders');
  const partner = byName(config.services, 'partner-api');

  it('expands the service url and applies Kong defaults', () => {
    expect(orders).toMatchObject({
      protocol: 'http',
      host: 'orders.internal',
      port: 8080,
      path: '/v1',
      retries: 3,
      connect_timeout: 2000,
      read_timeout: 15000,
      write_timeout: 15000,
      enabled: true,
      tags: ['team-orders'],
      tls_verify: null,
    });
    expect(partner).toMatchObject({ protocol: 'https', port: 443, path: '/', retries: 5, connect_timeout: 60000, tls_verify: true, tags: [] });
  });

  it('links nested routes to their service and fills route defaults', () => {
    const list = byName(config.routes, 'orders-list');
    expect(list).toMatchObject({
      service: orders.id,
      protocols: ['https'],
      methods: ['GET', 'HEAD'],
      https_redirect_status_code: 308,
      strip_path: true,
      regex_priority: 0,
      path_handling: 'v0',
      request_buffering: true,
      response_buffering: true,
      headers: null,
      snis: null,
    });
    const byId = byName(config.routes, 'orders-by-id');
    expect(byId.paths).toEqual(['~/orders/(?<order_id>\\d+)$']);
    // header names are lowercased for the router; values kept as written
    expect(byId.headers).toEqual({ 'x-api-version': ['2', '3'] });
    expect(byName(config.routes, 'partner')).toMatchObject({ service: partner.id, strip_path: true, preserve_host: false, methods: null });
  });

  it('resolves plugin scopes from nesting and from top-level references by name', () => {
    const alice = config.consumers.find((c) => c.username === 'alice')!;
    const anonymous = config.consumers.find((c) => c.username === 'anonymous')!;
    const scopes = config.plugins.map((p) => [p.name, p.route, p.service, p.consumer]);
    expect(scopes).toEqual([
      ['correlation-id', null, orders.id, null],
      ['request-termination', byName(config.routes, 'orders-by-id').id, null, null],
      ['request-termination', null, null, alice.id],
      ['correlation-id', null, null, null],
      ['request-termination', byName(config.routes, 'orders-list').id, null, null],
      ['request-termination', null, partner.id, anonymous.id],
    ]);
  });

  it('fills plugin config defaults from the plugin schema', () => {
    const global = config.plugins.find((p) => p.name === 'correlation-id' && p.service === null)!;
    expect(global.config).toEqual({ header_name: 'X-Request-ID', generator: 'uuid', echo_downstream: true });
    expect(global.protocols).toEqual(['grpc', 'grpcs', 'http', 'https']);
    const maintenance = config.plugins.find((p) => p.config.message === 'maintenance')!;
    expect(maintenance.config).toEqual({ status_code: 503, message: 'maintenance', content_type: null, body: null, echo: false, trigger: 'x-maint' });
  });

  it('keeps credentials on their consumer, secrets resolved from the environment', () => {
    const alice = config.consumers.find((c) => c.username === 'alice')!;
    expect(alice.custom_id).toBe('crm-1001');
    expect(alice.keyauth_credentials).toEqual([{ id: expect.any(String), key: '5b0e2c3e-alice-api-key', ttl: null, tags: [] }]);
    expect(alice.basicauth_credentials[0]).toMatchObject({ username: 'alice', password: 'correct-horse' });
    expect(alice.jwt_secrets[0]).toMatchObject({ key: 'https://idp.example.com/alice', secret: 'jwt-shared-secret', algorithm: 'HS256', rsa_public_key: null });
    expect(alice.hmacauth_credentials[0]).toMatchObject({ username: 'alice-hmac', secret: 'hmac-shared-secret' });
    expect(alice.acls.map((a) => a.group)).toEqual(['orders-readers']);
  });

  it('merges upstream health checks with Kong defaults and parses targets', () => {
    const up = config.upstreams[0]!;
    expect(up).toMatchObject({ name: 'orders.internal', algorithm: 'round-robin', slots: 10000, host_header: null });
    const hc = up.healthchecks as any;
    expect(hc.active).toMatchObject({ type: 'http', http_path: '/healthz', https_verify_certificate: true });
    expect(hc.active.healthy).toEqual({ interval: 5, successes: 2, http_statuses: [200, 302] });
    expect(hc.active.unhealthy).toEqual({ interval: 5, http_failures: 3, tcp_failures: 3, timeouts: 3, http_statuses: [429, 404, 500, 501, 502, 503, 504, 505] });
    expect(hc.passive.healthy.http_statuses).toContain(308);
    expect(hc.passive.unhealthy).toEqual({ http_failures: 5, tcp_failures: 2, timeouts: 3, http_statuses: [429, 500, 503] });
    expect(up.targets.map((t) => [t.target, t.host, t.port, t.weight])).toEqual([
      ['10.0.1.10:8080', '10.0.1.10', 8080, 100],
      ['10.0.1.11', '10.0.1.11', 8000, 50],
    ]);
  });

  it('is plain JSON data with a sha256 hash', () => {
    expect(JSON.parse(JSON.stringify(config))).toEqual(config);
    expect(config.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(config._format_version).toBe('3.0');
  });

  it('loads from a file path too', async () => {
    const fromFile = ok(await loadConfigFile(EXAMPLE.pathname, ENV));
    expect(fromFile).toEqual(config);
  });
});

describe('deterministic ids', () => {
  const text = readFileSync(EXAMPLE, 'utf8');

  it('are identical across loads, and so is the hash', () => {
    const a = ok(loadConfigText(text, 'a.yml', ENV));
    const b = ok(loadConfigText(text, 'b.yml', ENV));
    expect(b).toEqual(a);
    expect(new Set([...a.services, ...a.routes, ...a.consumers, ...a.plugins, ...a.upstreams].map((e) => e.id)).size).toBe(
      a.services.length + a.routes.length + a.consumers.length + a.plugins.length + a.upstreams.length,
    );
  });

  it("follow Kong's scheme: uuidv5 of the entity's endpoint or cache key", () => {
    const c = ok(loadConfigText(text, 'k.yml', ENV));
    const ns = (entity: string) => uuidv5('fd02801f-0957-4a15-a55a-c8d9606f30b5', entity);
    expect(byName(c.services, 'orders').id).toBe(uuidv5(ns('services'), 'orders'));
    expect(byName(c.routes, 'partner').id).toBe(uuidv5(ns('routes'), 'partner'));
    expect(c.consumers[1]!.id).toBe(uuidv5(ns('consumers'), 'alice'));
    const upstream = c.upstreams[0]!;
    expect(upstream.id).toBe(uuidv5(ns('upstreams'), 'orders.internal'));
    expect(upstream.targets[0]!.id).toBe(uuidv5(ns('targets'), `targets:*:${upstream.id}:10.0.1.10:8080`));
    // a top-level plugin's cache key holds its references as written
    const maintenance = c.plugins.find((p) => p.config.message === 'maintenance')!;
    expect(maintenance.id).toBe(uuidv5(ns('plugins'), 'plugins:*:request-termination:orders-list::'));
    const acl = c.consumers[1]!.acls[0]!;
    expect(acl.id).toBe(uuidv5(ns('acls'), `acls:*:${c.consumers[1]!.id}:orders-readers`));
  });

  it('change with a rename, for the renamed entity and what derives from it', () => {
    const before = ok(loadConfigText(text, 'k.yml', ENV));
    const after = ok(loadConfigText(text.replace('- name: orders\n', '- name: orders-v2\n'), 'k.yml', ENV));
    expect(byName(after.services, 'orders-v2').id).not.toBe(byName(before.services, 'orders').id);
    // the nested plugin's cache key contains the service id, so it changes too
    expect(after.plugins[0]!.id).not.toBe(before.plugins[0]!.id);
    // unrelated entities keep their ids
    expect(byName(after.routes, 'orders-list').id).toBe(byName(before.routes, 'orders-list').id);
    expect(byName(after.services, 'partner-api').id).toBe(byName(before.services, 'partner-api').id);
    expect(after.hash).not.toBe(before.hash);
  });

  it('keeps ids given in the file', () => {
    const id = '0b0bcafe-0000-4000-8000-000000000001';
    const c = ok(loadConfigText(`_format_version: "3.0"\nservices:\n  - id: ${id}\n    name: s\n    host: h\nroutes:\n  - service: ${id}\n    paths: [/]\n`, 'x.yml', {}));
    expect(c.services[0]!.id).toBe(id);
    expect(c.routes[0]!.service).toBe(id);
    // an unnamed route gets an id from its place in the file
    expect(c.routes[0]!.id).toBe(entityId('routes', '#routes[0]'));
  });

  it('never derive a key-auth credential id from the key', () => {
    const yaml = (key: string) => `_format_version: "3.0"\nconsumers:\n  - username: a\n    keyauth_credentials: [{ key: ${key} }]\n`;
    const one = ok(loadConfigText(yaml('first-key'), 'x.yml', {}));
    const two = ok(loadConfigText(yaml('second-key'), 'x.yml', {}));
    expect(one.consumers[0]!.keyauth_credentials[0]!.id).toBe(two.consumers[0]!.keyauth_credentials[0]!.id);
  });
});

describe('input forms', () => {
  it('reads JSON with positions', () => {
    const json = JSON.stringify({ _format_version: '3.0', services: [{ name: 'a', host: 'h' }], routes: [{ name: 'r', service: 'a', paths: ['/'] }] }, null, 2);
    const c = ok(loadConfigText(json, 'kong.json', {}));
    expect(c.routes[0]!.service).toBe(c.services[0]!.id);

    const bad = loadConfigText('{\n  "_format_version": "3.0",\n  "services": [\n    { "name": "a", "host": "h", "port": "80" }\n  ]\n}\n', 'kong.json', {});
    expect(bad).toEqual({ ok: false, issues: [{ file: 'kong.json', line: 4, col: 41, path: 'services[0].port', message: 'expected an integer' }] });
  });

  it('gives the same config, ids and hash for YAML and the equivalent JSON', () => {
    const text = readFileSync(EXAMPLE, 'utf8');
    const fromYaml = ok(loadConfigText(text, 'kong.yml', ENV));
    const fromJson = ok(loadConfigText(JSON.stringify(parse(text), null, 2), 'kong.json', ENV));
    expect(fromJson).toEqual(fromYaml);
  });

  it('migrates 2.x regex paths by adding the ~ prefix, as Kong does', () => {
    const c = ok(loadConfigText('_format_version: "2.1"\nroutes:\n  - paths: ["/orders/\\\\d+$", "/plain/./x", "/a%2Db"]\n', 'old.yml', {}));
    expect(c._format_version).toBe('3.0');
    expect(c.routes[0]!.paths).toEqual(['~/orders/\\d+$', '/plain/x', '/a-b']);
  });

  it('accepts YAML anchors and merge keys', () => {
    const text = [
      '_format_version: "3.0"',
      '_ignore:',
      '  - &timeouts { connect_timeout: 1000, read_timeout: 2000 }',
      'services:',
      '  - name: a',
      '    host: h',
      '    <<: *timeouts',
    ].join('\n');
    const c = ok(loadConfigText(text, 'a.yml', {}));
    expect(c.services[0]).toMatchObject({ connect_timeout: 1000, read_timeout: 2000, write_timeout: 60000 });
  });
});
