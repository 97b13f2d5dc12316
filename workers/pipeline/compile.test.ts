import { describe, expect, it } from 'vitest';
import type { GatewayConfig, PluginConfig, RouteConfig } from '../../src/config/types.js';
import { RequestContext } from '../http/request-context.js';
import { compilePipelines } from './compile.js';
import { runAccess } from './run.js';
import type { PluginDefinition, PluginEnv } from './types.js';

// A plugin whose access handler records which instance ran, so precedence is observable.
function recorder(name: string, priority: number): PluginDefinition<{ tag: string }> {
  return {
    name,
    priority,
    schema: {} as never,
    create: (config) => ({
      access(ctx) {
        ((ctx.shared ??= {}).ran as string[] | undefined) ?? (ctx.shared.ran = []);
        (ctx.shared.ran as string[]).push(`${name}:${config.tag}`);
        return undefined;
      },
    }),
  };
}

// An "auth" plugin that sets a consumer from a header, like key-auth would.
const auth: PluginDefinition<{ tag: string }> = {
  name: 'fake-auth',
  priority: 1250,
  schema: {} as never,
  create: () => ({
    access(ctx) {
      const who = ctx.headers['x-consumer'];
      if (who) ctx.consumer = { id: who, username: who, custom_id: null };
      return undefined;
    },
  }),
};

const defs = new Map<string, PluginDefinition<any>>([
  ['rl', recorder('rl', 910)],
  ['first', recorder('first', 100001)],
  ['fake-auth', auth],
]);
const env: PluginEnv = { workerId: 0, log: { info() {}, warn() {}, error() {} } };

let n = 0;
function plugin(name: string, tag: string, scope: Partial<Pick<PluginConfig, 'route' | 'service' | 'consumer'>> = {}): PluginConfig {
  return { id: `p${++n}`, name, instance_name: null, route: null, service: null, consumer: null, config: { tag }, protocols: ['http', 'https'], enabled: true, tags: [], ...scope };
}

function route(id: string, service: string | null): RouteConfig {
  return { id, name: id, service, protocols: ['http', 'https'], methods: null, hosts: null, paths: ['/'], headers: null, snis: null, https_redirect_status_code: 426, strip_path: true, preserve_host: false, request_buffering: true, response_buffering: true, regex_priority: 0, path_handling: 'v0', tags: [] };
}

function config(plugins: PluginConfig[]): GatewayConfig {
  return { _format_version: '3.0', services: [], routes: [route('r1', 's1'), route('r2', 's1'), route('r3', 's2')], consumers: [], plugins, upstreams: [], hash: 'x' };
}

function run(cfg: GatewayConfig, routeId: string, consumer?: string): string[] {
  const p = compilePipelines(cfg, defs, () => env);
  const headers: Record<string, string> = consumer ? { 'x-consumer': consumer } : {};
  const ctx = new RequestContext('id', 'GET', '/', '', headers, null, 'h', 80, 'http', '127.0.0.1', '127.0.0.1', 0);
  void runAccess(p.forRoute(cfg.routes.find((r) => r.id === routeId)!), ctx);
  return (ctx.shared?.ran as string[]) ?? [];
}

describe('plugin precedence (Kong lookup_cfg)', () => {
  const cfg = config([
    plugin('rl', 'global'),
    plugin('rl', 'service-s1', { service: 's1' }),
    plugin('rl', 'route-r1', { route: 'r1' }),
    plugin('rl', 'consumer-alice', { consumer: 'alice' }),
    plugin('rl', 'service-s1+bob', { service: 's1', consumer: 'bob' }),
    plugin('fake-auth', 'a'),
  ]);

  it('route beats service beats global', () => {
    expect(run(cfg, 'r1')).toEqual(['rl:route-r1']);
    expect(run(cfg, 'r2')).toEqual(['rl:service-s1']);
    expect(run(cfg, 'r3')).toEqual(['rl:global']);
  });

  it('a consumer-scoped instance applies once authentication has set the consumer', () => {
    // consumer-only ranks below route+service but above route-only (Kong order)
    expect(run(cfg, 'r1', 'alice')).toEqual(['rl:consumer-alice']);
    expect(run(cfg, 'r3', 'alice')).toEqual(['rl:consumer-alice']);
    expect(run(cfg, 'r2', 'bob')).toEqual(['rl:service-s1+bob']);
    expect(run(cfg, 'r3', 'bob')).toEqual(['rl:global']);
    expect(run(cfg, 'r1', 'carol')).toEqual(['rl:route-r1']);
  });

  it('route+service beats consumer-only', () => {
    const c = config([plugin('rl', 'r1+s1', { route: 'r1', service: 's1' }), plugin('rl', 'alice', { consumer: 'alice' }), plugin('fake-auth', 'a')]);
    expect(run(c, 'r1', 'alice')).toEqual(['rl:r1+s1']);
  });

  it('runs in descending priority and skips disabled instances', () => {
    const off = plugin('first', 'disabled');
    off.enabled = false;
    const c = config([plugin('rl', 'g'), plugin('first', 'g'), off]);
    expect(run(c, 'r1')).toEqual(['first:g', 'rl:g']);
    const c2 = config([plugin('rl', 'g'), off]);
    expect(run(c2, 'r1')).toEqual(['rl:g']);
  });
});

describe('dynamic ordering (Kong Enterprise `ordering`, access phase only)', () => {
  const ordered = (p: PluginConfig, before: string[], after: string[] = []): PluginConfig => ({ ...p, ordering: { before: { access: before }, after: { access: after } } });

  it('moves an instance before a higher-priority plugin (a pre-auth stage)', () => {
    const defs2 = new Map(defs);
    defs2.set('ip', recorder('ip', 990));
    defs2.set('auth', recorder('auth', 1250));
    const c = config([plugin('auth', 'g'), ordered(plugin('ip', 'g'), ['auth']), plugin('rl', 'g')]);
    const p = compilePipelines(c, defs2, () => env);
    const chain = p.forRoute(c.routes[0]!);
    expect(chain.slots.map((s) => s.name)).toEqual(['ip', 'auth', 'rl']);
    // Later phases keep Kong's priority order.
    expect(chain.handlers.length).toBe(3);
  });

  it('after: runs an instance after a lower-priority one; unrelated order is kept', () => {
    const c = config([ordered(plugin('first', 'g'), [], ['rl']), plugin('rl', 'g'), plugin('fake-auth', 'a')]);
    expect(run(c, 'r1')).toEqual(['rl:g', 'first:g']);
  });

  it('names that are not in the chain are ignored; a cycle falls back to priority order', () => {
    const c = config([ordered(plugin('rl', 'g'), ['nope']), plugin('first', 'g')]);
    expect(run(c, 'r1')).toEqual(['first:g', 'rl:g']);
    const cyc = config([ordered(plugin('rl', 'g'), ['first']), ordered(plugin('first', 'g'), ['rl'])]);
    expect(run(cyc, 'r1')).toEqual(['first:g', 'rl:g']);
  });
});

describe('plugin protocols', () => {
  it("an instance runs only for the schemes in its protocols; the chosen one is not replaced by a wider one", () => {
    const httpsOnly = { ...plugin('rl', 'route-https', { route: 'r1' }), protocols: ['https'] } as PluginConfig;
    const c = config([plugin('rl', 'global'), httpsOnly]);
    const p = compilePipelines(c, defs, () => env);
    const r1 = c.routes[0]!;
    expect(p.forRoute(r1, 'https').slots.map((s) => s.name)).toEqual(['rl']);
    expect(p.forRoute(r1, 'http').slots).toEqual([]);
    expect(p.forRoute(c.routes[2]!, 'http').slots.map((s) => s.name)).toEqual(['rl']);
    const g = { ...plugin('first', 'g'), protocols: ['https'] } as PluginConfig;
    const p2 = compilePipelines(config([g]), defs, () => env);
    expect(p2.globalFor('http').slots).toEqual([]);
    expect(p2.globalFor('https').slots.length).toBe(1);
  });
});
