/**
 * The pure parts of reload and the admin API: redaction, the audit diff, the POST /config
 * body forms, the Kong-shaped 400 body, and the config loader's pool path.
 */
import { describe, expect, it } from 'vitest';
import { loadConfigText } from '../config/load.js';
import type { GatewayConfig } from '../config/types.js';
import { configFromBody, invalidConfigBody } from './admin-server.js';
import { diffSummary } from './audit.js';
import { fileURLToPath } from 'node:url';
import { ConfigLoader } from './config-loader.js';
import { REDACTED, Redactor } from './redact.js';

const YAML = `_format_version: "3.0"
services:
  - name: s1
    url: http://127.0.0.1:9000
    tags: [keep-me]
    routes:
      - name: r1
        paths: [/a]
plugins:
  - name: rate-limiting
    config:
      minute: 5
      redis: { host: 127.0.0.1, password: plain-redis-pw, username: "{vault://env/redis-user}" }
consumers:
  - username: alice
    keyauth_credentials:
      - key: alice-secret-key
    basicauth_credentials:
      - { username: alice, password: alice-password }
    hmacauth_credentials:
      - { username: alice-h, secret: hmac-secret-value }
    jwt_secrets:
      - { key: alice-iss, secret: jwt-secret-value }
`;

function load(text = YAML): { config: GatewayConfig; secrets: string[] } {
  const r = loadConfigText(text, 't.yml', { REDIS_USER: 'vault-user-value' });
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return { config: r.config, secrets: r.secrets ?? [] };
}

describe('Redactor', () => {
  it('redacts credentials, secret-named plugin fields and vault-resolved values', () => {
    const { config, secrets } = load();
    expect(secrets).toEqual(['vault-user-value']);
    const r = new Redactor(config, secrets);
    const text = JSON.stringify(r.config(config));
    for (const s of ['alice-secret-key', 'alice-password', 'hmac-secret-value', 'jwt-secret-value', 'plain-redis-pw', 'vault-user-value']) {
      expect(text).not.toContain(s);
    }
    const out = r.config(config) as { consumers: any[]; plugins: any[]; services: any[] };
    expect(out.consumers[0].jwt_secrets[0]).toMatchObject({ key: 'alice-iss', secret: REDACTED });
    expect(out.plugins[0].config.redis).toMatchObject({ host: '127.0.0.1', password: REDACTED, username: REDACTED });
    expect(out.plugins[0].config.minute).toBe(5);
    expect(out.services[0].tags).toEqual(['keep-me']);
    expect(r.consumer(config.consumers[0]!)).toEqual({ id: config.consumers[0]!.id, username: 'alice', custom_id: null, tags: [] });
  });

  it('redacts a known secret copied anywhere', () => {
    const { config } = load();
    const r = new Redactor(config);
    expect(r.value({ tags: ['x', 'alice-secret-key'], note: 'key is alice-secret-key!' })).toEqual({ tags: ['x', REDACTED], note: REDACTED });
  });
});

describe('diffSummary', () => {
  it('counts added, removed and changed entities per type by id', () => {
    const a = load().config;
    const b = load(YAML.replace('paths: [/a]', 'paths: [/b]').replace('    tags: [keep-me]\n', '').replace('      - name: r1\n', '      - name: r2\n        paths: [/c]\n      - name: r1\n')).config;
    const d = diffSummary(a, b);
    expect(d.routes).toEqual({ added: 1, removed: 0, changed: 1 });
    expect(d.services).toEqual({ added: 0, removed: 0, changed: 1 });
    expect(d.consumers).toEqual({ added: 0, removed: 0, changed: 0 });
    expect(diffSummary(b, a).routes).toEqual({ added: 0, removed: 1, changed: 1 });
    expect(diffSummary(null, a).services).toEqual({ added: 1, removed: 0, changed: 0 });
  });
});

describe('POST /config bodies', () => {
  it('takes the raw body, {config}, config= and multipart', () => {
    expect(configFromBody('_format_version: "3.0"\n', 'application/x-www-form-urlencoded')).toBe('_format_version: "3.0"\n');
    expect(configFromBody(JSON.stringify({ config: 'a: 1' }), 'application/json')).toBe('a: 1');
    expect(configFromBody(JSON.stringify({ config: { a: 1 } }), 'application/json')).toBe('{"a":1}');
    expect(configFromBody('config=a%3A+1', 'application/x-www-form-urlencoded')).toBe('a: 1');
    const mp = '--XYZ\r\nContent-Disposition: form-data; name="config"; filename="kong.yml"\r\n\r\na: 1\nb: 2\r\n--XYZ--\r\n';
    expect(configFromBody(mp, 'multipart/form-data; boundary=XYZ')).toBe('a: 1\nb: 2');
    expect(configFromBody(mp, 'multipart/form-data')).toBeNull();
  });

  it('answers errors in Kong shape with positions', () => {
    const r = loadConfigText('_format_version: "3.0"\nservices:\n  - name: x\n    url: nope\n', '<admin>', {});
    if (r.ok) throw new Error('expected errors');
    const body = invalidConfigBody(r.issues) as any;
    expect(body.code).toBe(14);
    expect(body.fields['services[0].url']).toHaveLength(1);
    expect(body.flattened_errors[0]).toMatchObject({ line: 4, col: 10, location: '<admin>:4:10' });
  });
});

describe('ConfigLoader', () => {
  // The pool thread runs the built task (vitest's TypeScript transform does not reach it).
  const builtTask = new URL('../../dist/src/supervisor/config-task.js', import.meta.url).href;

  it('gives the same result inline and through the piscina thread', async () => {
    const big = YAML + `# ${'x'.repeat(5000)}\n`;
    const inline = new ConfigLoader({ REDIS_USER: 'vault-user-value' }, Number.MAX_SAFE_INTEGER);
    const pooled = new ConfigLoader({ REDIS_USER: 'vault-user-value' }, 0, builtTask);
    try {
      const a = await inline.load(big, 'k.yml');
      const b = await pooled.load(big, 'k.yml');
      expect(b).toEqual(a);
      expect(a.ok).toBe(true);
      const bad = await pooled.load('_format_version: "3.0"\nservices: 3\n', 'k.yml');
      expect(bad.ok).toBe(false);
      if (!bad.ok) expect(bad.issues[0]).toMatchObject({ file: 'k.yml', line: 2 });
    } finally {
      await pooled.close();
    }
  });

  it('parses inline when the pool thread cannot start', async () => {
    const missing = new URL('./no-such-task.js', import.meta.url).href;
    const loader = new ConfigLoader({ REDIS_USER: 'vault-user-value' }, 0, missing);
    try {
      const r = await loader.load(YAML, 'k.yml');
      expect(r.ok).toBe(true);
      expect(fileURLToPath(missing)).toContain('no-such-task');
    } finally {
      await loader.close().catch(() => undefined);
    }
  }, 20_000);
});
