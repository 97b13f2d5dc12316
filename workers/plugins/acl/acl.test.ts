/**
 * acl: config through the real loader (Kong schema.lua checks and messages), the handler
 * through a RequestContext with consumers from a ConsumerIndex, and the compiled chain
 * with an authentication plugin in front (Kong PRIORITY order). Kong sources:
 * kong/plugins/acl/{schema,handler,groups}.lua.
 */
import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { loadConfigText } from '../../../src/config/load.js';
import type { GatewayConfig } from '../../../src/config/types.js';
import { ConsumerIndex, type IndexedConsumer } from '../../auth/consumer-index.js';
import { setConsumer } from '../../auth/identity.js';
import { RequestContext } from '../../http/request-context.js';
import { compilePipelines } from '../../pipeline/compile.js';
import { runAccess } from '../../pipeline/run.js';
import type { PluginEnv, PluginHandler, Verdict } from '../../pipeline/types.js';
import { pluginDefinitions } from '../index.js';
import { pluginSchemas } from '../registry-schemas.js';
import { acl } from './index.js';
import type { AclConfig } from './schema.js';

const HEAD = '_format_version: "3.0"\n';
const CONSUMERS = `consumers:
  - username: alice
    hmacauth_credentials:
      - { username: alice-hmac, secret: alice-secret }
    acls:
      - group: readers
      - group: admins
  - username: bob
    acls:
      - group: readers
  - username: eve
    acls:
      - group: banned
  - username: loner
  - username: guest
    acls:
      - group: guests
`;

function load(text: string): GatewayConfig {
  const r = loadConfigText(text, 'kong.yml', {});
  if (!r.ok) throw new Error(r.issues.map((i) => `${i.line}:${i.col} ${i.path}: ${i.message}`).join('\n'));
  return r.config;
}

function issues(text: string): string[] {
  const r = loadConfigText(text, 'kong.yml', {});
  if (r.ok) throw new Error('expected the config to be refused');
  return r.issues.map((i) => `${i.line}:${i.col} ${i.path}: ${i.message}`);
}

const globalAcl = (config: string): string => `${HEAD}${CONSUMERS}plugins:\n  - name: acl\n    config: ${config}\n`;
const config = load(globalAcl('{ allow: [x] }'));
const consumers = new ConsumerIndex(config.consumers);
const env = { workerId: 0, log: { info() {}, warn() {}, error() {} }, consumers } as unknown as PluginEnv;

function handlerFor(conf: string): PluginHandler {
  return acl.create(load(globalAcl(conf)).plugins[0]!.config as AclConfig, env);
}

function request(headers: Record<string, string> = {}): RequestContext {
  return new RequestContext('0123456789abcdef0123456789abcdef', 'GET', '/', '', { host: 'a.test', ...headers }, null, 'a.test', 8000, 'http', '10.0.0.7', '10.0.0.7', 0);
}

const consumer = (username: string): IndexedConsumer => consumers.resolve(username)!;

/** A request authenticated (with a credential) as `username`. */
function as(username: string, headers: Record<string, string> = {}): RequestContext {
  const ctx = request(headers);
  setConsumer(ctx, consumer(username), { id: `cred-${username}`, identifier: username });
  return ctx;
}

/** A request that fell through to the anonymous consumer `username` (no credential). */
function anonymousAs(username: string): RequestContext {
  const ctx = request();
  setConsumer(ctx, consumer(username), null);
  return ctx;
}

function run(h: PluginHandler, ctx: RequestContext): Verdict {
  const v = h.access!(ctx);
  expect(v).not.toBeInstanceOf(Promise);
  return v as Verdict;
}

const FORBIDDEN = { status: 403, message: 'You cannot consume this service' };

// ---------------------------------------------------------------------------------------

describe('acl config (Kong schema.lua, through the loader)', () => {
  it("fills Kong's defaults", () => {
    const p = load(globalAcl('{ allow: [readers] }')).plugins[0]!;
    expect(p.config).toEqual({ allow: ['readers'], deny: null, hide_groups_header: false, include_consumer_groups: false, always_use_authenticated_groups: false });
    expect(p.protocols).toEqual(['grpc', 'grpcs', 'http', 'https']);
  });

  it("needs exactly one of allow and deny, with Kong's messages", () => {
    const neither = globalAcl('{ hide_groups_header: true }');
    const line = neither.split('\n').findIndex((l) => l.includes('config:')) + 1;
    expect(issues(neither)).toEqual([
      `${line}:13 plugins[0].config: exactly one of these fields must be non-empty: 'config.allow', 'config.deny'`,
      `${line}:13 plugins[0].config: at least one of these fields must be non-empty: 'config.allow', 'config.deny'`,
    ]);
    expect(issues(globalAcl('{ allow: [a], deny: [b] }'))).toEqual([
      `${line}:13 plugins[0].config: exactly one of these fields must be non-empty: 'config.allow', 'config.deny'`,
    ]);
    // An empty list counts as not set (Kong's is_nonempty).
    expect(load(globalAcl('{ allow: [], deny: [b] }')).plugins[0]!.config).toMatchObject({ allow: [], deny: ['b'] });
  });

  it('cannot be scoped to a consumer (typedefs.no_consumer)', () => {
    const text = `${HEAD}consumers:\n  - username: bob\n    plugins:\n      - name: acl\n        config: { allow: [a] }\n`;
    expect(issues(text)).toEqual(["5:15 consumers[0].plugins[0].name: plugin 'acl' cannot be applied to a consumer"]);
  });

  it('registers with PRIORITY 950 in both lists, after every authentication plugin', () => {
    expect(acl.priority).toBe(950);
    expect(pluginSchemas.get('acl')).toMatchObject({ priority: 950, noConsumer: true });
    expect(pluginDefinitions.get('acl')).toBe(acl);
    for (const auth of ['hmac-auth', 'key-auth', 'basic-auth', 'jwt']) {
      const entry = pluginSchemas.get(auth);
      if (entry !== undefined) expect(entry.priority).toBeGreaterThan(950);
    }
  });
});

describe('acl with consumer groups (acls)', () => {
  const allow = handlerFor('{ allow: [admins, ops] }');
  const deny = handlerFor('{ deny: [banned] }');

  it('401 Unauthorized when nobody was identified', () => {
    expect(run(allow, request())).toEqual({ status: 401, message: 'Unauthorized' });
    expect(run(deny, request())).toEqual({ status: 401, message: 'Unauthorized' });
  });

  it('403 when a credential is set without a consumer', () => {
    const ctx = request();
    ctx.credential = { id: 'c', identifier: 'c' };
    expect(run(allow, ctx)).toEqual(FORBIDDEN);
  });

  it('allow: lets a listed group through and sends every group of the consumer upstream', () => {
    const ctx = as('alice', { 'x-consumer-groups': 'spoofed', 'x-authenticated-groups': 'spoofed' });
    expect(run(allow, ctx)).toBeUndefined();
    expect(ctx.headers['x-consumer-groups']).toBe('readers, admins');
    expect(ctx.headers['x-authenticated-groups']).toBeUndefined();
  });

  it('allow: 403 for a consumer outside the list, or without any group', () => {
    expect(run(allow, as('bob'))).toEqual(FORBIDDEN);
    expect(run(allow, as('loner'))).toEqual(FORBIDDEN);
  });

  it('deny: 403 for a listed group, others pass', () => {
    expect(run(deny, as('eve'))).toEqual(FORBIDDEN);
    const ctx = as('bob');
    expect(run(deny, ctx)).toBeUndefined();
    expect(ctx.headers['x-consumer-groups']).toBe('readers');
  });

  it('deny: a consumer without groups passes, with no groups header (not even the client one)', () => {
    const ctx = as('loner', { 'x-consumer-groups': 'admins' });
    expect(run(deny, ctx)).toBeUndefined();
    expect(ctx.headers['x-consumer-groups']).toBeUndefined();
  });

  it('hide_groups_header: no groups header upstream, and a client-sent one is dropped', () => {
    const ctx = as('alice', { 'x-consumer-groups': 'admins' });
    expect(run(handlerFor('{ allow: [admins], hide_groups_header: true }'), ctx)).toBeUndefined();
    expect(ctx.headers['x-consumer-groups']).toBeUndefined();
  });

  it('gives the same answer on repeated requests of the same consumer (cached decision)', () => {
    for (let i = 0; i < 3; i++) {
      expect(run(allow, as('alice'))).toBeUndefined();
      expect(run(allow, as('bob'))).toEqual(FORBIDDEN);
    }
  });

  it('include_consumer_groups changes nothing (no consumer_groups entities)', () => {
    const h = handlerFor('{ allow: [admins], include_consumer_groups: true }');
    expect(run(h, as('alice'))).toBeUndefined();
    expect(run(h, as('bob'))).toEqual(FORBIDDEN);
  });
});

describe('acl with authenticated groups (set by an authentication plugin)', () => {
  const allow = handlerFor('{ allow: [admins] }');

  it('uses them when there is no consumer, with X-Authenticated-Groups', () => {
    const ctx = request({ 'x-consumer-groups': 'spoofed' });
    ctx.authenticatedGroups = ['staff', 'admins'];
    expect(run(allow, ctx)).toBeUndefined();
    expect(ctx.headers['x-authenticated-groups']).toBe('staff, admins');
    expect(ctx.headers['x-consumer-groups']).toBeUndefined();
    const other = request();
    other.authenticatedGroups = ['staff'];
    expect(run(allow, other)).toEqual(FORBIDDEN);
  });

  it('an empty list is a list: blocked by allow, passes deny without a header', () => {
    const a = request();
    a.authenticatedGroups = [];
    expect(run(allow, a)).toEqual(FORBIDDEN);
    const d = request({ 'x-authenticated-groups': 'admins' });
    d.authenticatedGroups = [];
    expect(run(handlerFor('{ deny: [x] }'), d)).toBeUndefined();
    expect(d.headers['x-authenticated-groups']).toBeUndefined();
  });

  it('they override the anonymous consumer\'s groups', () => {
    const ctx = anonymousAs('guest');
    ctx.authenticatedGroups = ['admins'];
    expect(run(allow, ctx)).toBeUndefined();
    expect(ctx.headers['x-authenticated-groups']).toBe('admins');
    // Without them, the anonymous consumer's own groups count.
    expect(run(allow, anonymousAs('guest'))).toEqual(FORBIDDEN);
    expect(run(handlerFor('{ allow: [guests] }'), anonymousAs('guest'))).toBeUndefined();
  });

  it('a consumer with a credential keeps its own groups unless always_use_authenticated_groups', () => {
    const ctx = as('bob');
    ctx.authenticatedGroups = ['admins'];
    expect(run(allow, ctx)).toEqual(FORBIDDEN);
    const always = handlerFor('{ allow: [admins], always_use_authenticated_groups: true }');
    const c2 = as('bob');
    c2.authenticatedGroups = ['admins'];
    expect(run(always, c2)).toBeUndefined();
    expect(c2.headers['x-authenticated-groups']).toBe('admins');
    // No authenticated groups: back to the consumer's.
    expect(run(always, as('alice'))).toBeUndefined();
    expect(run(always, as('bob'))).toEqual(FORBIDDEN);
  });

  it('re-evaluates a list a plugin reuses and changes (no caching of mutable lists)', () => {
    const groups = ['admins'];
    const a = request();
    a.authenticatedGroups = groups;
    expect(run(allow, a)).toBeUndefined();
    groups[0] = 'staff';
    const b = request();
    b.authenticatedGroups = groups;
    expect(run(allow, b)).toEqual(FORBIDDEN);
  });
});

describe('acl after an authentication plugin in the compiled chain', () => {
  const text = `${HEAD}${CONSUMERS}services:
  - name: s
    url: http://upstream.test
    routes:
      - name: admin
        paths: [/admin]
        plugins:
          - name: acl
            config: { allow: [admins] }
          - name: hmac-auth
            config: { anonymous: guest }
`;
  const c = load(text);
  const index = new ConsumerIndex(c.consumers);
  const pipelines = compilePipelines(c, pluginDefinitions, () => ({ workerId: 0, log: { info() {}, warn() {}, error() {} }, consumers: index }) as PluginEnv);
  const chain = pipelines.forRoute(c.routes[0]!);

  it('runs hmac-auth (1030) before acl (950) whatever the config order, and acl sees the consumer', () => {
    const date = new Date().toUTCString();
    const sig = createHmac('sha256', 'alice-secret').update(`date: ${date}`).digest('base64');
    const ctx = request({ date, authorization: `hmac username="alice-hmac", algorithm="hmac-sha256", headers="date", signature="${sig}"` });
    expect(runAccess(chain, ctx)).toBeUndefined();
    expect(ctx.consumer?.username).toBe('alice');
    expect(ctx.headers['x-consumer-groups']).toBe('readers, admins');
  });

  it('the anonymous consumer meets the acl with its own groups', () => {
    const ctx = request({ date: new Date().toUTCString(), authorization: 'hmac nonsense' });
    expect(runAccess(chain, ctx)).toEqual(FORBIDDEN);
    expect(ctx.consumer?.username).toBe('guest');
  });
});
