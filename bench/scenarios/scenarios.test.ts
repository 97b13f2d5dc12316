/**
 * Every scenario's gateway config goes through the gateway's real config loader (what
 * `portcullis check` runs), and every request a scenario sends is one its config answers with the
 * expected status: a route that exists, a key that belongs to a consumer.
 */
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadConfigText } from '../../src/config/load.js';
import { isScenario, scenarioRequests, type Scenario, type ScenarioContext } from './types.js';

const dir = fileURLToPath(new URL('./', import.meta.url));
const files = readdirSync(dir).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && f !== 'types.ts' && f !== 'index.ts');
const scenarios: Scenario[] = [];
for (const f of files) {
  const mod = (await import(`./${f}`)) as { default: unknown };
  if (!isScenario(mod.default)) throw new Error(`${f}: not a Scenario`);
  scenarios.push(mod.default);
}
const ctx: ScenarioContext = { upstreamUrl: 'http://127.0.0.1:40000', payloadSize: 128, redis: { host: '127.0.0.1', port: 6379 } };

describe('bench scenarios', () => {
  it('include the ones the issues ask for', () => {
    expect(scenarios.map((s) => s.name).sort()).toEqual(
      expect.arrayContaining([
        'plain',
        'key-auth',
        'key-auth-rate-limiting',
        'jwt-rs256',
        'rate-limiting-redis',
        'json-64k',
        'json-64k-protected',
        'routes-10k',
        'consumers-100k',
        'small-get-under-json-64k',
        'small-get-under-json-1m',
      ]),
    );
    for (const s of scenarios) if (s.baseline !== undefined) expect(scenarios.map((x) => x.name)).toContain(s.baseline);
  });

  for (const s of scenarios) {
    it(`${s.name}: its config loads`, () => {
      const r = loadConfigText(JSON.stringify(s.gatewayConfig(ctx)), `${s.name}.json`);
      expect(r.ok ? [] : r.issues.slice(0, 5).map((i) => `${i.path}: ${i.message}`)).toEqual([]);
    });
  }

  it('routes-10k: 10,000 routes, and its requests hit every one of them', () => {
    const s = scenarios.find((x) => x.name === 'routes-10k')!;
    const r = loadConfigText(JSON.stringify(s.gatewayConfig(ctx)));
    if (!r.ok) throw new Error('config does not load');
    expect(r.config.routes).toHaveLength(10_000);
    const prefixes = new Set(r.config.routes.flatMap((route) => route.paths ?? []));
    const hit = new Set(scenarioRequests(s).map((q) => /^\/api\/v1\/resource-\d+\//.exec(q.path)![0]));
    expect(hit.size).toBe(10_000);
    for (const p of hit) expect(prefixes.has(p)).toBe(true);
  });

  it('consumers-100k: 100,000 consumers, and its requests use every key', () => {
    const s = scenarios.find((x) => x.name === 'consumers-100k')!;
    const cfg = s.gatewayConfig(ctx) as { consumers: { keyauth_credentials: { key: string }[] }[] };
    expect(cfg.consumers).toHaveLength(100_000);
    const keys = new Set(cfg.consumers.map((c) => c.keyauth_credentials[0]!.key));
    const used = new Set(scenarioRequests(s).map((q) => q.headers!['apikey']!));
    expect(used.size).toBe(100_000);
    for (const k of used) expect(keys.has(k)).toBe(true);
  });
});
