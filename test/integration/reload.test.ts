/**
 * Hot reload, the admin API around it and the audit log, on real gateway processes:
 * 200 reloads under constant keep-alive load (no failed request, RSS stable), POST /config
 * (201 / 400 with line:col / 304 / 409), SIGHUP, `portcullis reload|health|quit --wait`,
 * --watch-config, rate-limit counters across a reload, readiness, Kong-shaped listings with
 * pagination and redaction, audit lines.
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { BIN, freePort, startGateway, writeConfig, type Gateway } from '../helpers/gateway.js';
import { delayedUpstream, Load } from '../helpers/load.js';
import { readRssKb } from '../helpers/rss.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!().catch(() => undefined);
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, pred: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

async function admin(gw: Gateway, method: string, path: string, body?: string, headers: Record<string, string> = {}): Promise<{ status: number; text: string; json: any }> {
  const res = await fetch(`http://127.0.0.1:${gw.adminPort}${path}`, { method, body, headers });
  const text = await res.text();
  let json: unknown = null;
  try {
    json = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: res.status, text, json };
}

async function get(gw: Gateway, path: string, headers: Record<string, string> = {}): Promise<number> {
  const res = await fetch(gw.url(path), { headers });
  await res.arrayBuffer();
  return res.status;
}

function runCli(args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 30_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PORTCULLIS_ADMIN_LISTEN: '', PORTCULLIS_ADMIN_TOKEN: '', ...env } });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    const t = setTimeout(() => {
      p.kill('SIGKILL');
      reject(new Error(`cli ${args.join(' ')} timed out`));
    }, timeoutMs);
    p.on('exit', (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Filler routes so the config is above the inline-parse threshold (the reload goes through piscina). */
function filler(n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += `      - name: filler-${i}\n        paths: [/filler/${i}]\n        methods: [GET]\n`;
  return s;
}

/** Two configs that both serve /load; A adds /only-a, B adds /only-b. */
function loadConfig(upstream: Upstream, variant: 'a' | 'b'): string {
  return `_format_version: "3.0"
services:
  - name: backend
    url: ${upstream.url}
    routes:
      - name: load
        paths: [/load]
        strip_path: false
      - name: only-${variant}
        paths: [/only-${variant}]
${filler(60)}`;
}

/** Pause after the last reload before an RSS reading (the load keeps running). */
const SETTLE_MS = 1500;

/**
 * RSS after a settle: the median of samples over `ms`. Under load the gateway's RSS swings
 * with the GC timing of its isolates (measured: a band of about ±8% around the plateau); one
 * sample catches that swing, the median the level.
 */
async function settledRssKb(pid: number, ms = 3000): Promise<number> {
  const samples: number[] = [];
  const end = Date.now() + ms;
  while (Date.now() < end) {
    samples.push(readRssKb(pid));
    await sleep(150);
  }
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)]!;
}

describe('200 reloads under constant load', () => {
  it('drops no request, leaks no memory, and every reload takes effect', async () => {
    const up = delayedUpstream(() => 0);
    const upstream = await startUpstream(up.handler);
    cleanups.push(() => upstream.close());
    const configs = { a: loadConfig(upstream, 'a'), b: loadConfig(upstream, 'b') };
    expect(Buffer.byteLength(configs.a)).toBeGreaterThan(4096);
    const gw = await startGateway(configs.a, { workers: 2 });
    cleanups.push(() => gw.stop());
    const pid = gw.proc.pid!;

    const load = new Load({ port: gw.proxyPort, concurrency: 20 });
    load.start();
    // Warm-up before the baseline: the first reloads size the V8 heaps (supervisor, workers)
    // to this churn; measured without it, RSS rises ~40% over the first ~150 reloads and then
    // stays flat (a heap finding its size, not a leak: over 1200 reloads under this load, RSS
    // stayed within 280-330 MB after the first 150). A leak keeps growing past that: the 200
    // measured reloads catch it. The piscina thread lives through both readings (POOL_IDLE_MS).
    for (let i = 0; i < 150; i++) {
      const r = await admin(gw, 'POST', '/config', i % 2 === 0 ? configs.b : configs.a);
      expect(r.status).toBe(201);
    }
    await sleep(SETTLE_MS);
    const before = await settledRssKb(pid);
    const v0 = (await admin(gw, 'GET', '/status')).json.configuration_version as number;

    const RELOADS = 200;
    let checkedSwitch = 0;
    for (let i = 0; i < RELOADS; i++) {
      const variant = i % 2 === 0 ? 'b' : 'a';
      const r = await admin(gw, 'POST', '/config', configs[variant]);
      expect(r.status, r.text).toBe(201);
      if (i % 40 === 0) {
        // The new route serves at once; the other variant's route is gone.
        expect(await get(gw, `/only-${variant}`)).toBe(200);
        expect(await get(gw, `/only-${variant === 'a' ? 'b' : 'a'}`)).toBe(404);
        checkedSwitch++;
      }
    }
    await sleep(SETTLE_MS);
    const after = await settledRssKb(pid);
    await load.stop();

    const status = (await admin(gw, 'GET', '/status')).json;
    expect(status.configuration_version).toBe(v0 + RELOADS);
    for (const w of status.workers) expect(w.config_version).toBe(v0 + RELOADS);
    expect(checkedSwitch).toBe(5);
    const failed = load.failed;
    // eslint-disable-next-line no-console
    console.log(`reloads: ${RELOADS}, requests ok: ${load.ok.length}, failed: ${failed.length}, RSS before ${before} kB, after ${after} kB (${(((after - before) / before) * 100).toFixed(1)}%)`);
    expect(failed.slice(0, 5)).toEqual([]);
    expect(load.ok.length).toBeGreaterThan(1000);
    // Issue #5: within 10%. Measured with the post-reload GC (src/shared/compact-after-reload.ts):
    // +1.7%, +3.2%, +4.1% over three runs (before it: +2.5% to +10.8%). One retained generation
    // per reload would add far more.
    expect(after).toBeLessThanOrEqual(before * 1.1);
  }, 240_000);
});

const SECRET_KEY = 'kA-7f3e9b1c-secret-key';
const SECRET_PASSWORD = 'pw-Zq8x!secret-password';
const VAULT_VALUE = 'vault-resolved-redis-user-42';

function fullConfig(upstream: Upstream, extraRoute = ''): string {
  return `_format_version: "3.0"
services:
  - name: s1
    url: ${upstream.url}
    routes:
      - name: keyed
        paths: [/keyed]
        plugins:
          - name: key-auth
      - name: basic
        paths: [/basic]
        plugins:
          - name: basic-auth
      - name: limited
        paths: [/limited]
        plugins:
          - name: rate-limiting
            config: { minute: 5, limit_by: ip }
${extraRoute}
  - name: s2
    url: ${upstream.url}/two
  - name: s3
    url: ${upstream.url}/three
  - name: s4
    url: ${upstream.url}/four
  - name: s5
    url: ${upstream.url}/five
plugins:
  - name: rate-limiting
    service: s5
    config:
      minute: 100
      policy: local
      redis: { host: 127.0.0.1, password: redis-pw-should-not-show, username: "{vault://env/rl-redis-user}" }
consumers:
  - username: alice
    keyauth_credentials:
      - key: ${SECRET_KEY}
    basicauth_credentials:
      - username: alice
        password: ${SECRET_PASSWORD}
`;
}

describe('POST /config, listings, audit', () => {
  it('applies, rejects with line:col, refuses overlaps, lists redacted, audits', async () => {
    const upstream = await startUpstream();
    cleanups.push(() => upstream.close());
    const auditFile = `${writeConfig('x')}.audit`;
    const gw = await startGateway(fullConfig(upstream), {
      workers: 2,
      extraArgs: ['--audit-log', auditFile],
      env: { RL_REDIS_USER: VAULT_VALUE },
    });
    cleanups.push(() => gw.stop());
    const responses: string[] = [];
    const call = async (method: string, path: string, body?: string, headers?: Record<string, string>) => {
      const r = await admin(gw, method, path, body, headers);
      responses.push(r.text);
      return r;
    };

    // Readiness.
    expect((await call('GET', '/status/ready')).status).toBe(200);

    // The credentials work through the proxy.
    expect(await get(gw, '/keyed', { apikey: SECRET_KEY })).toBe(200);
    expect(await get(gw, '/basic', { authorization: `Basic ${Buffer.from(`alice:${SECRET_PASSWORD}`).toString('base64')}` })).toBe(200);

    // Rate-limit counters carry over a reload: 3 requests, reload, 2 more reach the limit of 5, the next is 429.
    for (let i = 0; i < 3; i++) expect(await get(gw, '/limited')).toBe(200);
    const added = await call('POST', '/config', fullConfig(upstream, '      - name: added\n        paths: [/added]\n'));
    expect(added.status, added.text).toBe(201);
    expect(added.json.routes.map((r: { name: string }) => r.name)).toContain('added');
    expect(await get(gw, '/added')).toBe(200);
    for (let i = 0; i < 2; i++) expect(await get(gw, '/limited')).toBe(200);
    expect(await get(gw, '/limited')).toBe(429);

    // An invalid config: 400 with line:col, and the running config keeps serving.
    const hashBefore = (await call('GET', '/status')).json.configuration_hash;
    const bad = await call('POST', '/config', '_format_version: "3.0"\nservices:\n  - name: broken\n    url: not-a-url\n    routes:\n      - paths: [nope]\n');
    expect(bad.status).toBe(400);
    expect(bad.json.name).toBe('invalid declarative configuration');
    expect(bad.json.flattened_errors.length).toBeGreaterThanOrEqual(2);
    expect(bad.json.flattened_errors[0]).toMatchObject({ line: 4, col: 10, path: 'services[0].url' });
    expect(bad.json.message).toContain('4:10');
    const syntax = await call('POST', '/config', '_format_version: "3.0"\nservices: [\n');
    expect(syntax.status).toBe(400);
    expect(syntax.json.flattened_errors[0].line).toBeGreaterThan(0);
    expect((await call('GET', '/status')).json.configuration_hash).toBe(hashBefore);
    expect(await get(gw, '/added')).toBe(200);

    // Kong's {config: "..."} wrapping and ?check_hash=1 on the running config: 304.
    const same = await admin(gw, 'POST', '/config?check_hash=1', JSON.stringify({ config: fullConfig(upstream, '      - name: added\n        paths: [/added]\n') }), { 'content-type': 'application/json' });
    expect(same.status).toBe(304);

    // Overlapping reloads: refused with 409, never interleaved.
    const bodies = [1, 2, 3, 4].map((i) => fullConfig(upstream, `      - name: overlap-${i}\n        paths: [/overlap-${i}]\n${filler(60)}`));
    const statuses = (await Promise.all(bodies.map((b) => admin(gw, 'POST', '/config', b)))).map((r) => r.status);
    expect(statuses.filter((s) => s === 201).length).toBeGreaterThanOrEqual(1);
    expect(statuses.every((s) => s === 201 || s === 409)).toBe(true);
    expect(statuses).toContain(409);
    const back = await call('POST', '/config', fullConfig(upstream));
    expect(back.status).toBe(201);
    expect(await get(gw, '/added')).toBe(404);

    // Listings: Kong's {data, next}, size/offset pagination.
    const page1 = await call('GET', '/services?size=2');
    expect(page1.status).toBe(200);
    expect(page1.json.data.map((s: { name: string }) => s.name)).toEqual(['s1', 's2']);
    expect(page1.json.next).toMatch(/^\/services\?size=2&offset=/);
    const page2 = await call('GET', page1.json.next);
    expect(page2.json.data.map((s: { name: string }) => s.name)).toEqual(['s3', 's4']);
    const page3 = await call('GET', page2.json.next);
    expect(page3.json.data.map((s: { name: string }) => s.name)).toEqual(['s5']);
    expect(page3.json.next).toBeNull();
    expect((await call('GET', '/services?size=0')).status).toBe(400);
    expect((await call('GET', '/services?offset=garbage')).status).toBe(400);
    const routes = await call('GET', '/routes');
    expect(routes.json.data.map((r: { name: string }) => r.name)).toEqual(['keyed', 'basic', 'limited']);
    const byName = await call('GET', '/routes/limited');
    expect(byName.status).toBe(200);
    expect((await call('GET', `/routes/${byName.json.id}`)).json.name).toBe('limited');
    expect((await call('GET', '/routes/nope')).status).toBe(404);
    const consumers = await call('GET', '/consumers');
    expect(consumers.json.data).toEqual([{ id: expect.any(String), username: 'alice', custom_id: null, tags: [] }]);
    expect((await call('GET', '/consumers/alice')).json.username).toBe('alice');
    const plugins = await call('GET', '/plugins');
    const rl = plugins.json.data.find((p: { service: string | null; name: string }) => p.name === 'rate-limiting' && p.service !== null);
    expect(rl.config.redis.password).toBe('<redacted>');
    expect(rl.config.redis.username).toBe('<redacted>');
    expect((await call('GET', '/upstreams')).json).toEqual({ data: [], next: null });
    const config = await call('GET', '/config');
    expect(config.json.config.consumers[0].keyauth_credentials[0].key).toBe('<redacted>');
    expect(config.json.config.consumers[0].basicauth_credentials[0].password).toBe('<redacted>');
    expect(config.json.config.services).toHaveLength(5);
    await call('GET', '/status');
    await call('GET', '/plugins?size=1');

    // No admin response ever carried a secret (plaintext or its scrypt form's plaintext).
    for (const text of responses) {
      for (const secret of [SECRET_KEY, SECRET_PASSWORD, VAULT_VALUE, 'redis-pw-should-not-show']) expect(text).not.toContain(secret);
      expect(text).not.toMatch(/\$scrypt|scrypt\$/);
    }

    // Audit: one line per change in the pino log (audit: true) and in --audit-log.
    await until('the audit file', () => readFileSync(auditFile, 'utf8').trim().split('\n').length >= 5);
    const lines = readFileSync(auditFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines[0]).toMatchObject({ audit: true, source: 'startup', result: 'applied', old_hash: null, version: 1 });
    const firstAdmin = lines.find((l) => l.source === 'admin' && l.result === 'applied');
    expect(firstAdmin).toMatchObject({ client: '127.0.0.1', old_hash: lines[0].new_hash });
    expect(firstAdmin.diff.routes).toEqual({ added: 1, removed: 0, changed: 0 });
    expect(firstAdmin.diff.services).toEqual({ added: 0, removed: 0, changed: 0 });
    expect(typeof firstAdmin.time).toBe('string');
    expect(lines.some((l) => l.result === 'rejected' && l.errors >= 2)).toBe(true);
    const logged = gw.output().split('\n').filter((l) => l.includes('"audit":true'));
    expect(logged.length).toBe(lines.length);
    for (const text of [readFileSync(auditFile, 'utf8'), gw.output()]) {
      for (const secret of [SECRET_KEY, SECRET_PASSWORD, VAULT_VALUE, 'redis-pw-should-not-show']) expect(text).not.toContain(secret);
    }
  }, 60_000);
});

describe('a worker that cannot apply a config', () => {
  it('rolls every worker back to the running config (500), and the next reload works', async () => {
    const upstream = await startUpstream();
    cleanups.push(() => upstream.close());
    const cfg = (path: string) => `_format_version: "3.0"\nservices:\n  - name: s\n    url: ${upstream.url}\n    routes:\n      - name: r\n        paths: [${path}]\n`;
    const gw = await startGateway(cfg('/old'), { workers: 3, env: { PORTCULLIS_ENABLE_FAULT_INJECTION: '1' } });
    cleanups.push(() => gw.stop());
    const s0 = (await admin(gw, 'GET', '/status')).json;
    expect((await admin(gw, 'POST', '/debug/workers/1/crash?kind=reject-next-config')).status).toBe(202);
    const r = await admin(gw, 'POST', '/config', cfg('/new'));
    expect(r.status).toBe(500);
    expect(r.json.message).toContain('worker 1');
    const s1 = (await admin(gw, 'GET', '/status')).json;
    expect(s1.configuration_hash).toBe(s0.configuration_hash);
    expect(s1.configuration_version).toBe(s0.configuration_version);
    await until('every worker back on the running version', async () =>
      (await admin(gw, 'GET', '/status')).json.workers.every((w: { config_version: number }) => w.config_version === s0.configuration_version),
    );
    // Whichever worker the kernel picks, the old config answers (fresh connections spread over workers).
    for (let i = 0; i < 30; i++) {
      expect(await get(gw, '/old', { connection: 'close' })).toBe(200);
      expect(await get(gw, '/new', { connection: 'close' })).toBe(404);
    }
    const again = await admin(gw, 'POST', '/config', cfg('/new'));
    expect(again.status, again.text).toBe(201);
    for (let i = 0; i < 10; i++) expect(await get(gw, '/new', { connection: 'close' })).toBe(200);
    expect(gw.output()).toContain('"result":"rolled-back"');
  }, 30_000);
});

describe('SIGHUP, --watch-config and the CLI', () => {
  function variantConfig(upstream: Upstream, path: string): string {
    return `_format_version: "3.0"\nservices:\n  - name: s\n    url: ${upstream.url}\n    routes:\n      - name: r\n        paths: [${path}]\n`;
  }

  it('SIGHUP re-reads the file; portcullis reload/health/quit --wait talk to the admin API', async () => {
    const upstream = await startUpstream();
    cleanups.push(() => upstream.close());
    const file = writeConfig(variantConfig(upstream, '/one'));
    const gw = await startGateway(null, { workers: 2, extraArgs: ['--config', file] });
    cleanups.push(() => gw.stop());
    const adminArgs = ['--admin-listen', `127.0.0.1:${gw.adminPort}`];
    const hash = async () => (await admin(gw, 'GET', '/status')).json.configuration_hash as string;
    expect(await get(gw, '/one')).toBe(200);

    // SIGHUP.
    const h0 = await hash();
    writeFileSync(file, variantConfig(upstream, '/two'));
    gw.proc.kill('SIGHUP');
    await until('the SIGHUP reload', async () => (await hash()) !== h0);
    expect(await get(gw, '/two')).toBe(200);
    expect(await get(gw, '/one')).toBe(404);

    // A broken file on SIGHUP: logged with its position, the running config keeps serving.
    writeFileSync(file, '_format_version: "3.0"\nservices:\n  - name: s\n    url: 42\n');
    gw.proc.kill('SIGHUP');
    await until('the rejection in the log', () => gw.output().includes('config reload rejected'));
    expect(await get(gw, '/two')).toBe(200);

    // portcullis reload: the broken file is reported with file:line:col, exit 1.
    const broken = await runCli(['reload', ...adminArgs]);
    expect(broken.code).toBe(1);
    expect(broken.stderr).toContain(`${file}:4:10`);
    writeFileSync(file, variantConfig(upstream, '/three'));
    const ok = await runCli(['reload', ...adminArgs]);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/config reloaded: hash [0-9a-f]{12}/);
    expect(await get(gw, '/three')).toBe(200);
    const unchanged = await runCli(['reload', ...adminArgs]);
    expect(unchanged.stdout).toContain('config unchanged');

    // health, then quit --wait until the process is gone.
    const health = await runCli(['health', ...adminArgs]);
    expect(health.code).toBe(0);
    const quit = await runCli(['quit', '--wait', ...adminArgs]);
    expect(quit.code, quit.stderr).toBe(0);
    expect(quit.stdout).toContain('stopped');
    expect(gw.proc.exitCode ?? (await gw.stop())).toBe(0);
    const down = await runCli(['health', ...adminArgs]);
    expect(down.code).toBe(1);
  }, 60_000);

  it('the CLI clients send the admin token; the new endpoints require it', async () => {
    const token = 'reload-test-token-123';
    const adminPort = await freePort();
    const proxyPort = await freePort();
    const proc = spawn(process.execPath, [BIN, 'start', '--proxy-listen', `127.0.0.1:${proxyPort}`, '--admin-listen', `127.0.0.1:${adminPort}`, '--workers', '1', '--admin-token', token], {
      stdio: 'ignore',
      env: { ...process.env, PORTCULLIS_LOG_LEVEL: 'warn' },
    });
    const exited = new Promise((r) => proc.once('exit', r));
    cleanups.push(async () => {
      proc.kill('SIGTERM');
      await exited;
    });
    const call = async (method: string, path: string, headers: Record<string, string> = {}) => {
      const res = await fetch(`http://127.0.0.1:${adminPort}${path}`, { method, headers, body: method === 'POST' ? '_format_version: "3.0"\n' : undefined });
      await res.arrayBuffer();
      return res.status;
    };
    await until('the gateway', async () => (await call('GET', '/status/ready', { authorization: `Bearer ${token}` }).catch(() => 0)) === 200);
    for (const [method, path] of [['GET', '/status/ready'], ['GET', '/services'], ['GET', '/config'], ['POST', '/config'], ['POST', '/reload'], ['POST', '/quit']] as const) {
      expect(await call(method, path), `${method} ${path}`).toBe(401);
    }
    const adminArgs = ['--admin-listen', `127.0.0.1:${adminPort}`];
    expect((await runCli(['health', ...adminArgs])).code).toBe(1);
    expect((await runCli(['health', ...adminArgs], { PORTCULLIS_ADMIN_TOKEN: token })).code).toBe(0);
    const reload = await runCli(['reload', ...adminArgs, '--admin-token', token]);
    expect(reload.code, reload.stderr).toBe(0);
    expect(reload.stdout).toContain('config unchanged');
    expect(await call('GET', '/services', { 'portcullis-admin-token': token })).toBe(200);
  }, 30_000);

  it('--watch-config reloads when the file changes', async () => {
    const upstream = await startUpstream();
    cleanups.push(() => upstream.close());
    const file = writeConfig(variantConfig(upstream, '/one'));
    const gw = await startGateway(null, { workers: 1, extraArgs: ['--config', file, '--watch-config'] });
    cleanups.push(() => gw.stop());
    writeFileSync(file, variantConfig(upstream, '/watched'));
    await until('the watched reload', async () => (await get(gw, '/watched')) === 200);
    expect(await get(gw, '/one')).toBe(404);
    expect(gw.output()).toContain('"source":"watch"');
  }, 30_000);

  it('readiness answers 503 while the gateway drains', async () => {
    const up = delayedUpstream(() => 1500);
    const upstream = await startUpstream(up.handler);
    cleanups.push(() => upstream.close());
    const gw = await startGateway(`_format_version: "3.0"\nservices:\n  - name: s\n    url: ${upstream.url}\n    routes:\n      - name: r\n        paths: [/load]\n        strip_path: false\n`, { workers: 1 });
    cleanups.push(() => gw.stop());
    expect((await admin(gw, 'GET', '/status/ready')).status).toBe(200);
    const slow = fetch(gw.url('/load/slow'), { headers: { 'x-test-id': 'slow' } }).then((r) => r.status);
    await until('the slow request at the upstream', () => up.inflight() === 1);
    gw.proc.kill('SIGTERM');
    await sleep(100);
    const during = await admin(gw, 'GET', '/status/ready');
    expect(during.status).toBe(503);
    expect(await slow).toBe(200);
  }, 30_000);
});
