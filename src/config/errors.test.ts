import { describe, expect, it } from 'vitest';
import { loadConfigText } from './load.js';
import type { ConfigIssue } from './types.js';

/** Line and column (1-based) of the n-th occurrence of `needle` in `text`. */
function at(text: string, needle: string, nth = 1): { line: number; col: number } {
  let index = -1;
  for (let i = 0; i < nth; i++) {
    index = text.indexOf(needle, index + 1);
    if (index < 0) throw new Error(`'${needle}' not found`);
  }
  const before = text.slice(0, index).split('\n');
  return { line: before.length, col: before[before.length - 1]!.length + 1 };
}

function issues(text: string, env: NodeJS.ProcessEnv = {}): ConfigIssue[] {
  const r = loadConfigText(text, 'kong.yml', env);
  if (r.ok) throw new Error('expected the config to be refused');
  return r.issues;
}

function only(text: string, env: NodeJS.ProcessEnv = {}): ConfigIssue {
  const list = issues(text, env);
  expect(list).toHaveLength(1);
  return list[0]!;
}

const HEAD = '_format_version: "3.0"\n';

describe('every issue points at the line and column of the offending node', () => {
  it('unknown field: at the key', () => {
    const text = `${HEAD}services:\n  - name: orders\n    host: orders.internal\n    colour: blue\n`;
    expect(only(text)).toEqual({ file: 'kong.yml', ...at(text, 'colour'), path: 'services[0].colour', message: 'unknown field' });
  });

  it('wrong type: at the value', () => {
    const text = `${HEAD}services:\n  - name: orders\n    host: orders.internal\n    retries: many\n`;
    expect(only(text)).toMatchObject({ ...at(text, 'many'), path: 'services[0].retries', message: 'expected an integer' });
  });

  it('out of range: at the value', () => {
    const text = `${HEAD}services:\n  - name: orders\n    host: orders.internal\n    retries: 40000\n`;
    expect(only(text)).toMatchObject({ ...at(text, '40000'), path: 'services[0].retries', message: 'value should be between 0 and 32767' });
  });

  it('missing required field: at the mapping that should hold it', () => {
    const text = `${HEAD}services:\n  - name: orders\n    port: 8080\n`;
    expect(only(text)).toMatchObject({ ...at(text, 'name: orders'), path: 'services[0].host', message: 'required field missing' });
  });

  it('invalid regex path: at the path, with the RE2 error', () => {
    const text = `${HEAD}routes:\n  - name: r\n    paths: ["/ok", "~/orders/(\\\\d+"]\n`;
    const issue = only(text);
    expect(issue).toMatchObject({ ...at(text, '"~/orders'), path: 'routes[0].paths[1]' });
    expect(issue.message).toMatch(/^invalid regex: '\/orders\/\(\\d\+' \(RE2 returned: missing \)/);
  });

  it('non-normalized and malformed paths', () => {
    const text = `${HEAD}routes:\n  - paths: [/a/../b]\n  - paths: [orders]\n  - paths: [/a//b]\n`;
    expect(issues(text).map((i) => [i.line, i.col, i.path, i.message])).toEqual([
      [3, 13, 'routes[0].paths[0]', "non-normalized path, consider use '/b' instead"],
      [4, 13, 'routes[1].paths[0]', 'should start with: / (fixed path) or ~/ (regex path)'],
      [5, 13, 'routes[2].paths[0]', 'must not have empty segments'],
    ]);
  });

  it('unknown service reference: at the reference', () => {
    const text = `${HEAD}services:\n  - name: orders\n    host: orders.internal\nroutes:\n  - name: r\n    service: billing\n    paths: [/]\n`;
    expect(only(text)).toMatchObject({
      ...at(text, 'billing'),
      path: 'routes[0].service',
      message: "invalid reference 'service: billing' (no such entry in 'services')",
    });
  });

  it('duplicate name: at the second name', () => {
    const text = `${HEAD}services:\n  - name: orders\n    host: a\n  - name: orders\n    host: b\n`;
    expect(only(text)).toMatchObject({
      ...at(text, 'orders', 2),
      path: 'services[1].name',
      message: "uniqueness violation: 'services' entity with name set to 'orders' already declared at services[0]",
    });
  });

  it('duplicate consumer username and custom_id', () => {
    const text = `${HEAD}consumers:\n  - username: alice\n    custom_id: c1\n  - username: alice\n  - custom_id: c1\n`;
    expect(issues(text).map((i) => [i.line, i.path])).toEqual([
      [5, 'consumers[1].username'],
      [6, 'consumers[2].custom_id'],
    ]);
  });

  it('a second instance of a plugin in the same scope', () => {
    const text = `${HEAD}services:\n  - name: s\n    host: h\n    plugins:\n      - name: correlation-id\nplugins:\n  - name: correlation-id\n    service: s\n`;
    expect(only(text)).toMatchObject({
      ...at(text, 'correlation-id', 2),
      path: 'plugins[0].name',
      message: "plugin 'correlation-id' is already configured for the same route, service and consumer at services[0].plugins[0] (one instance per plugin and scope)",
    });
  });

  it('bad plugin config: at the field, with the plugin schema message', () => {
    const text = `${HEAD}plugins:\n  - name: request-termination\n    config:\n      status_code: 700\n      generator: uuid\n`;
    expect(issues(text)).toEqual([
      { file: 'kong.yml', ...at(text, '700'), path: 'plugins[0].config.status_code', message: 'value should be between 100 and 599' },
      { file: 'kong.yml', ...at(text, 'generator'), path: 'plugins[0].config.generator', message: 'unknown field' },
    ]);
  });

  it("a plugin config check (Kong's message XOR body): at the field it blames", () => {
    const text = `${HEAD}plugins:\n  - name: request-termination\n    config: { message: hi, body: "<p>hi</p>" }\n`;
    expect(only(text)).toMatchObject({ ...at(text, 'hi,'), path: 'plugins[0].config.message', message: 'message cannot be used with content_type or body' });
  });

  it('unknown plugin: at its name', () => {
    const text = `${HEAD}plugins:\n  - name: no-such-plugin\n    config: { key_names: [apikey] }\n`;
    expect(only(text)).toMatchObject({ ...at(text, 'no-such-plugin'), path: 'plugins[0].name', message: "plugin 'no-such-plugin' is not installed" });
  });

  it('YAML syntax error: at the parser position, no field path', () => {
    const text = `${HEAD}services:\n  - name: a\n   host: b\n`;
    expect(only(text)).toMatchObject({ line: 4, col: 1, path: '' });
    expect(only(text).message).toMatch(/^syntax error: /);
  });

  it('duplicate YAML keys are a syntax error', () => {
    const text = `${HEAD}services:\n  - name: a\n    host: b\n    host: c\n`;
    expect(only(text)).toMatchObject({ ...at(text, 'host', 2), message: 'syntax error: Map keys must be unique' });
  });

  it('bad _format_version', () => {
    const unquoted = '_format_version: 3.0\n';
    expect(only(unquoted)).toMatchObject({ line: 1, col: 18, path: '_format_version', message: 'expected a string: quote the version, _format_version: "3.0"' });
    expect(only('_format_version: "4.0"\n')).toMatchObject({ line: 1, col: 18, message: 'expected one of: 1.1, 2.1, 3.0' });
    const missing = 'services: []\n';
    expect(only(missing)).toMatchObject({ line: 1, col: 1, path: '_format_version' });
    expect(only(missing).message).toMatch(/^required field missing/);
  });

  it('unsupported entities are refused, not ignored', () => {
    const text = `${HEAD}certificates:\n  - cert: x\n    key: y\nca_certificates: []\n`;
    expect(only(text)).toMatchObject({ ...at(text, '- cert'), path: 'certificates', message: "entity 'certificates' is not supported yet" });
  });

  it('collects every issue of a file, sorted by position', () => {
    const text = `${HEAD}services:\n  - name: a\n    host: h\n    port: -1\n    protocol: ftp\nroutes:\n  - name: r\n    methods: [get]\n    hosts: ["*.a.*"]\n`;
    expect(issues(text).map((i) => `${i.line}:${i.col} ${i.path}: ${i.message}`)).toEqual([
      '5:11 services[0].port: value should be between 0 and 65535',
      '6:15 services[0].protocol: expected one of: http, https, grpc, grpcs, tcp, tls, tls_passthrough, udp',
      '9:15 routes[0].methods[0]: invalid value: methods are upper-case, e.g. GET',
      '10:13 routes[0].hosts[0]: invalid wildcard: must have at most one wildcard',
    ]);
  });

  it('a bad service url is reported once, at the url', () => {
    const text = `${HEAD}services:\n  - name: a\n    url: "http://a.example.com/v1?x=1"\n`;
    expect(only(text)).toMatchObject({
      ...at(text, '"http'),
      path: 'services[0].url',
      message: "invalid url 'http://a.example.com/v1?x=1': a service url cannot have a query or fragment",
    });
  });

  it('a route that could never match anything', () => {
    const text = `${HEAD}routes:\n  - name: nothing\n    protocols: [http]\n`;
    expect(only(text)).toMatchObject({ ...at(text, 'name: nothing'), path: 'routes[0]', message: "must set one of 'methods', 'hosts', 'headers', 'paths' when 'protocols' is 'http'" });
  });

  it("route headers may not name 'host'", () => {
    const text = `${HEAD}routes:\n  - headers:\n      Host: [a.example.com]\n`;
    expect(only(text)).toMatchObject({ ...at(text, 'Host'), path: 'routes[0].headers.Host', message: "cannot contain 'host' header, which must be specified in the 'hosts' attribute" });
  });
});

describe('vault references', () => {
  it('resolve from the environment in referenceable fields', () => {
    const text = `${HEAD}consumers:\n  - username: a\n    basicauth_credentials:\n      - { username: a, password: "{vault://env/a-password}" }\n`;
    const r = loadConfigText(text, 'kong.yml', { A_PASSWORD: 'pw' });
    expect(r.ok && r.config.consumers[0]!.basicauth_credentials[0]!.password).toBe('pw');
  });

  it('are refused in fields that are not referenceable', () => {
    const text = `${HEAD}consumers:\n  - username: a\n    keyauth_credentials:\n      - key: "{vault://env/a-key}"\n`;
    expect(only(text, { A_KEY: 'k' })).toMatchObject({
      ...at(text, '"{vault'),
      path: 'consumers[0].keyauth_credentials[0].key',
      message: "vault reference '{vault://env/a-key}' is not allowed here: this field is not referenceable",
    });
  });

  it('to an unset variable are an issue at the field', () => {
    const text = `${HEAD}consumers:\n  - username: a\n    hmacauth_credentials:\n      - username: a\n        secret: "{vault://env/hmac-secret}"\n`;
    expect(only(text)).toMatchObject({
      ...at(text, '"{vault'),
      path: 'consumers[0].hmacauth_credentials[0].secret',
      message: "environment variable HMAC_SECRET is not set (vault reference '{vault://env/hmac-secret}')",
    });
  });

  it('through a declared vault use its prefix; unknown vaults are reported', () => {
    const text = `${HEAD}vaults:\n  - { prefix: app-secrets, name: env, config: { prefix: APP_ } }\nconsumers:\n  - username: a\n    hmacauth_credentials:\n      - { username: a, secret: "{vault://app-secrets/hmac}" }\n      - { username: b, secret: "{vault://other/hmac}" }\n`;
    expect(only(text, { APP_HMAC: 's' })).toMatchObject({
      ...at(text, '"{vault://other'),
      message: "vault 'other' is not declared: add it under 'vaults', or use {vault://env/...}",
    });
  });

  it('never put the secret into a message', () => {
    const text = `${HEAD}consumers:\n  - username: a\n    basicauth_credentials:\n      - { username: a, password: "{vault://env/pw}" }\n`;
    const issue = only(text, { PW: '' });
    expect(issue.message).toBe("the value of vault reference '{vault://env/pw}' is invalid: length must be at least 1");
  });
});
