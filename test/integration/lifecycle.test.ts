/**
 * Process lifecycle on real processes: SIGTERM draining under keep-alive load, worker
 * replacement (requested and after a crash), the admin API's /status and its protection,
 * and how settings are resolved (flags, PORTCULLIS_* environment, --workers auto).
 */
import { readFileSync } from 'node:fs';
import { availableParallelism, networkInterfaces } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { rawRequest } from '../helpers/raw-http.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';
import { delayedUpstream, Load } from '../helpers/load.js';
import { adminGet, adminPost, tcpConnect, freePort, launch, runCli, stopProc, waitReady, writeConfig, type Proc, type Status } from '../helpers/proc.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!().catch(() => undefined);
});

function serviceConfig(upstream: Upstream): string {
  return `_format_version: "3.0"
services:
  - name: backend
    url: ${upstream.url}
    routes:
      - name: load
        paths: [/load]
        strip_path: false
`;
}

interface Gw {
  p: Proc;
  proxyPort: number;
  adminPort: number;
  status: Status;
}

async function gateway(configYaml: string | null, args: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<Gw> {
  const proxyPort = await freePort();
  const adminPort = await freePort();
  const all = ['start', '--proxy-listen', `127.0.0.1:${proxyPort}`, '--admin-listen', `127.0.0.1:${adminPort}`];
  if (configYaml !== null) all.push('--config', writeConfig(configYaml));
  all.push(...args);
  const p = launch(all, { PORTCULLIS_LOG_LEVEL: 'info', ...env });
  cleanups.push(() => stopProc(p));
  const status = await waitReady(p, adminPort);
  return { p, proxyPort, adminPort, status };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, pred: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

describe('SIGTERM drains', () => {
  it('finishes every accepted request under keep-alive load, refuses new work, exits 0 within the deadline', async () => {
    const up = delayedUpstream(() => 100 + Math.floor(Math.random() * 200));
    const upstream = await startUpstream(up.handler);
    cleanups.push(() => upstream.close());
    const drainTimeoutMs = 10_000;
    const gw = await gateway(serviceConfig(upstream), ['--workers', '2', '--drain-timeout', String(drainTimeoutMs)]);

    const load = new Load({ port: gw.proxyPort, concurrency: 50 });
    load.start();
    // Let the load run until every client has completed a few requests over kept-alive connections.
    await until('load to warm up', () => load.ok.length >= 150);
    await until('requests in flight upstream', () => up.inflight() >= 20);
    const inflightAtSignal = up.inflight();
    const okBeforeSignal = load.ok.length;
    const signalledAt = Date.now();
    gw.p.kill('SIGTERM');

    const exit = await gw.p.exited;
    await load.stop();

    // Exit 0, within the drain deadline (plus process start/stop slack).
    expect(exit.code, gw.p.output()).toBe(0);
    expect(exit.at - signalledAt).toBeLessThan(drainTimeoutMs + 3000);

    // Requests in flight when the signal arrived were finished, not cut.
    expect(inflightAtSignal).toBeGreaterThanOrEqual(20);
    expect(load.ok.length - okBeforeSignal).toBeGreaterThanOrEqual(inflightAtSignal);

    // Every request the upstream saw reached its client whole; the 200s are exactly those.
    const okIds = new Set(load.ok.map((o) => o.id));
    const cut = load.failed.filter((o) => up.seen.has(o.id));
    expect(cut, 'requests the upstream answered but the client did not get').toEqual([]);
    expect(okIds.size).toBe(up.seen.size);
    expect([...up.seen].every((id) => okIds.has(id))).toBe(true);
    expect(up.inflight()).toBe(0);

    // What failed failed at the connection level (refused/closed), never with a gateway error status.
    for (const f of load.failed) {
      expect(f.status, JSON.stringify(f)).toBeNull();
      expect(f.endedAt).toBeGreaterThanOrEqual(signalledAt);
    }
    const logs = gw.p.logs();
    expect(logs.some((l) => l.msg === 'draining' && l.reason === 'SIGTERM')).toBe(true);
    expect(logs.some((l) => l.msg === 'stopped')).toBe(true);
    expect(logs.filter((l) => typeof l.abandoned === 'number' && (l.abandoned as number) > 0)).toEqual([]);
  });

  it('lets a slow request in flight finish with 200, refuses or answers new connections meanwhile, then exits 0', async () => {
    const up = delayedUpstream((id) => (id === 'slow' ? 2000 : 0));
    const upstream = await startUpstream(up.handler);
    cleanups.push(() => upstream.close());
    const gw = await gateway(serviceConfig(upstream), ['--workers', '2', '--drain-timeout', '10000']);

    const slow = fetch(`http://127.0.0.1:${gw.proxyPort}/load/slow`, { headers: { 'x-test-id': 'slow' } }).then(async (r) => ({
      status: r.status,
      body: await r.text(),
      at: Date.now(),
    }));
    await until('the slow request to reach the upstream', () => up.seen.has('slow'));
    const signalledAt = Date.now();
    gw.p.kill('SIGTERM');
    await gw.p.waitForLog((l) => l.msg === 'draining');
    await sleep(200);

    // A new connection while draining: refused/closed, or answered in full; never left hanging.
    const probe = await rawRequest(gw.proxyPort, 'GET /load/probe HTTP/1.1\r\nHost: x\r\nX-Test-Id: probe\r\n\r\n', 1500);
    expect(probe.closed || probe.status !== null, `probe: ${JSON.stringify(probe)}`).toBe(true);
    if (probe.status !== null) expect(probe.status).toBe(200);

    const res = await slow;
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toEqual({ id: 'slow' });
    expect(res.at - signalledAt).toBeGreaterThanOrEqual(1500);
    const exit = await gw.p.exited;
    expect(exit.code, gw.p.output()).toBe(0);
    expect(exit.at).toBeGreaterThanOrEqual(res.at - 50);
  });
  it('closes what is still in flight at the drain deadline and exits 0 (an upstream that never answers cannot hold it)', async () => {
    const held: Array<() => void> = [];
    const upstream = await startUpstream((req, res) => {
      held.push(() => res.destroy());
      req.resume();
    });
    cleanups.push(async () => {
      for (const h of held) h();
      await upstream.close();
    });
    const gw = await gateway(serviceConfig(upstream), ['--workers', '1', '--drain-timeout', '1000']);
    const hanging = fetch(`http://127.0.0.1:${gw.proxyPort}/load/never`).then(
      (r) => `status ${r.status}`,
      (err: Error) => `error ${(err.cause as Error | undefined)?.message ?? err.message}`,
    );
    await until('the request to reach the upstream', () => upstream.seen.length === 1);
    const signalledAt = Date.now();
    gw.p.kill('SIGTERM');
    const exit = await gw.p.exited;
    expect(exit.code, gw.p.output()).toBe(0);
    // 1 s drain deadline, plus process teardown; far below the 60 s upstream read timeout.
    expect(exit.at - signalledAt).toBeLessThan(5000);
    expect(exit.at - signalledAt).toBeGreaterThanOrEqual(900);
    // The client is not handed a made-up answer: its connection is closed.
    expect(await hanging).toMatch(/^error /);
    const abandoned = gw.p.logs().find((l) => l.msg === 'requests still in flight at the drain deadline were closed');
    expect(abandoned?.abandoned).toBe(1);
  });
});

describe('worker replacement', () => {
  const faultEnv = { PORTCULLIS_ENABLE_FAULT_INJECTION: '1' };

  /** Load against a fast upstream; returns what the test needs to check nothing was lost. */
  async function loadedGateway(env: NodeJS.ProcessEnv = {}) {
    const up = delayedUpstream(() => 20 + Math.floor(Math.random() * 60));
    const upstream = await startUpstream(up.handler);
    cleanups.push(() => upstream.close());
    const gw = await gateway(serviceConfig(upstream), ['--workers', '2', '--drain-timeout', '10000'], env);
    const load = new Load({ port: gw.proxyPort, concurrency: 20 });
    load.start();
    cleanups.push(() => load.stop());
    await until('load to warm up', () => load.ok.length >= 100);
    return { up, gw, load };
  }

  async function status(gw: Gw): Promise<Status & { worker_failures: number; draining_workers: Array<{ id: number; thread_id: number }> }> {
    const r = await adminGet(gw.adminPort, '/status');
    expect(r.status).toBe(200);
    return r.body;
  }

  function expectNothingLost(load: Load, up: ReturnType<typeof delayedUpstream>): void {
    expect(load.failed, 'requests that failed while a worker was replaced').toEqual([]);
    expect(load.ok.length).toBe(up.seen.size);
  }

  it('POST /workers/:id/restart starts a new thread, then drains the old one: no request lost', async () => {
    const { up, gw, load } = await loadedGateway();
    const before = await status(gw);
    const oldThread = before.workers.find((w) => w.id === 0)!.thread_id;

    const r = await adminPost(gw.adminPort, '/workers/0/restart');
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    expect(r.body.worker).toMatchObject({ id: 0, state: 'ready', restarts: 1, last_replacement: { reason: 'restart requested', previous_thread_id: oldThread } });
    expect(r.body.worker.thread_id).not.toBe(oldThread);

    const during = await status(gw);
    expect(during.worker_restarts).toBe(1);
    expect(during.worker_failures).toBe(0);
    expect(during.workers.map((w) => w.id).sort()).toEqual([0, 1]);
    expect(during.workers.find((w) => w.id === 0)).toMatchObject({ thread_id: r.body.worker.thread_id, restarts: 1, state: 'ready' });

    await gw.p.waitForLog((l) => l.msg === 'replaced worker exited' && l.threadId === oldThread && l.code === 0);
    const okAtExit = load.ok.length;
    await until('traffic after the restart', () => load.ok.length >= okAtExit + 100);
    const after = await status(gw);
    expect(after.draining_workers).toEqual([]);
    expect(after.workers.every((w) => w.state === 'ready')).toBe(true);
    expect(gw.p.logs().some((l) => l.msg === 'worker restarted' && l.worker === 0 && l.previousThreadId === oldThread)).toBe(true);

    await load.stop();
    expectNothingLost(load, up);
  });

  it('refuses restarts it cannot do: unknown worker 404, wrong method 405', async () => {
    const upstream = await startUpstream();
    cleanups.push(() => upstream.close());
    const gw = await gateway(serviceConfig(upstream), ['--workers', '1']);
    expect((await adminPost(gw.adminPort, '/workers/7/restart')).status).toBe(404);
    const get = await adminGet(gw.adminPort, '/workers/0/restart');
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST');
    // Fault injection is off unless PORTCULLIS_ENABLE_FAULT_INJECTION is set: the endpoint does not exist.
    expect((await adminPost(gw.adminPort, '/debug/workers/0/crash')).status).toBe(404);
    expect((await status(gw)).fault_injection).toBeUndefined();
    expect((await status(gw)).worker_restarts).toBe(0);
    // One restart of a worker at a time: the second request arrives while the first one's new thread starts.
    const both = await Promise.all([adminPost(gw.adminPort, '/workers/0/restart'), adminPost(gw.adminPort, '/workers/0/restart')]);
    expect(both.map((r) => r.status).sort()).toEqual([200, 409]);
    expect((await status(gw)).worker_restarts).toBe(1);
  });

  it('SIGTERM in the middle of a restart still drains everything and exits 0', async () => {
    const upstream = await startUpstream();
    cleanups.push(() => upstream.close());
    const gw = await gateway(serviceConfig(upstream), ['--workers', '2', '--drain-timeout', '5000']);
    const restart = adminPost(gw.adminPort, '/workers/1/restart').then(
      (r) => r.status,
      () => 'no answer',
    );
    await sleep(30); // the new thread is starting (it takes well over 30 ms)
    const signalledAt = Date.now();
    gw.p.kill('SIGTERM');
    const exit = await gw.p.exited;
    expect(exit.code, gw.p.output()).toBe(0);
    expect(exit.at - signalledAt).toBeLessThan(5000 + 3000);
    // Normally 503 (the new thread became ready after the signal); 200 only if it was ready within 30 ms.
    expect([200, 503, 'no answer']).toContain(await restart);
    expect(gw.p.logs().some((l) => l.msg === 'worker restarted' && (l.time as string) > (gw.p.logs().find((x) => x.msg === 'draining')!.time as string))).toBe(false);
    expect(gw.p.logs().filter((l) => (l.level as number) >= 50 && l.msg !== 'restart failed: the new worker did not start; the old one keeps serving')).toEqual([]);
  });

  it('a worker hit by an uncaught exception finishes its requests, exits 1 and is replaced; traffic keeps flowing', async () => {
    const { up, gw, load } = await loadedGateway(faultEnv);
    const before = await status(gw);
    expect(before.fault_injection).toBe(true);
    const oldThread = before.workers.find((w) => w.id === 1)!.thread_id;

    const r = await adminPost(gw.adminPort, '/debug/workers/1/crash');
    expect(r.status, JSON.stringify(r.body)).toBe(202);

    await gw.p.waitForLog((l) => l.msg === 'worker failed with an uncaught exception' && l.worker === 1);
    const replacing = await gw.p.waitForLog((l) => l.msg === 'replacing worker' && l.worker === 1);
    expect(replacing.reason).toMatch(/^uncaught exception: injected fault/);
    await gw.p.waitForLog((l) => l.msg === 'replacement worker ready' && l.worker === 1);
    await gw.p.waitForLog((l) => l.msg === 'replaced worker exited' && l.threadId === oldThread && l.code === 1);
    expect(gw.p.logs().some((l) => l.msg === 'uncaught exception in worker; stopping this worker' && l.worker === 1)).toBe(true);

    const after = await status(gw);
    expect(after.worker_failures).toBe(1);
    expect(after.worker_restarts).toBe(1);
    const w1 = after.workers.find((w) => w.id === 1)!;
    expect(w1).toMatchObject({ state: 'ready', restarts: 1 });
    expect(w1.thread_id).not.toBe(oldThread);
    expect((w1.last_replacement as { reason: string }).reason).toMatch(/^uncaught exception/);

    const okNow = load.ok.length;
    await until('traffic after the replacement', () => load.ok.length >= okNow + 100);
    await load.stop();
    expectNothingLost(load, up);
    expect((await stopProc(gw.p)).code).toBe(0);
  });

  it('a worker thread that ends on its own is replaced, with back-off when the slot keeps failing', async () => {
    const upstream = await startUpstream();
    cleanups.push(() => upstream.close());
    const gw = await gateway(serviceConfig(upstream), ['--workers', '2'], faultEnv);
    const url = `http://127.0.0.1:${gw.proxyPort}/load/x`;

    for (let round = 1; round <= 2; round++) {
      const old = (await status(gw)).workers.find((w) => w.id === 0)!;
      expect((await adminPost(gw.adminPort, '/debug/workers/0/crash?kind=exit')).status).toBe(202);
      await gw.p.waitForLog((l) => l.msg === 'worker died' && l.threadId === old.thread_id && l.code === 3);
      await until(`worker 0 replaced (round ${round})`, async () => {
        const w = (await status(gw)).workers.find((x) => x.id === 0)!;
        return w.thread_id !== old.thread_id && w.state === 'ready';
      });
      // The other worker served meanwhile, and the new one serves too: every request succeeds.
      for (let i = 0; i < 20; i++) expect((await fetch(url, { headers: { connection: 'close' } })).status).toBe(200);
    }
    // Both failures came soon after the thread started: the second replacement waited longer.
    const delays = gw.p.logs().filter((l) => l.msg === 'replacing worker' && l.worker === 0).map((l) => l.delayMs as number);
    expect(delays).toHaveLength(2);
    expect(delays[1]!).toBeGreaterThan(delays[0]!);
    const s = await status(gw);
    expect(s.worker_failures).toBe(2);
    expect(s.worker_restarts).toBe(2);
    expect(s.workers.find((w) => w.id === 0)).toMatchObject({ restarts: 2, state: 'ready' });
    expect(s.workers.find((w) => w.id === 1)).toMatchObject({ restarts: 0, state: 'ready' });
    expect((await stopProc(gw.p)).code).toBe(0);
  });
});

/** Starts `portcullis start ARGS` (nothing added) and waits until the admin API on adminPort says ready. */
async function startRaw(args: string[], env: NodeJS.ProcessEnv, adminPort: number, headers: Record<string, string> = {}): Promise<{ p: Proc; status: Status }> {
  const p = launch(['start', ...args], { PORTCULLIS_LOG_LEVEL: 'info', ...env });
  cleanups.push(() => stopProc(p));
  return { p, status: await waitReady(p, adminPort, 20_000, headers) };
}

describe('admin API', () => {
  it('/status reports the version, pid, uptime, config hash and every worker', async () => {
    const upstream = await startUpstream();
    cleanups.push(() => upstream.close());
    const yaml = serviceConfig(upstream);
    const check = await runCli(['check', writeConfig(yaml)]);
    expect(check.code).toBe(0);
    const hashPrefix = /\(hash ([0-9a-f]{12})\)/.exec(check.stdout)?.[1];
    expect(hashPrefix).toBeDefined();

    const gw = await gateway(yaml, ['--workers', '2']);
    await sleep(1100);
    const { status, body } = await adminGet(gw.adminPort, '/status');
    expect(status).toBe(200);
    expect(body).toMatchObject({
      version: '0.1.0',
      pid: gw.p.proc.pid,
      configuration_version: 1,
      proxy_port: gw.proxyPort,
      worker_restarts: 0,
      worker_failures: 0,
      shutting_down: false,
      draining_workers: [],
      config: { services: 1, routes: 1, consumers: 0, plugins: 0, upstreams: 0 },
    });
    expect(body.configuration_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(body.configuration_hash.startsWith(hashPrefix)).toBe(true);
    expect(body.uptime_seconds).toBeGreaterThanOrEqual(1);
    expect(body.workers).toHaveLength(2);
    expect(body.workers.map((w: { id: number }) => w.id).sort()).toEqual([0, 1]);
    expect(new Set(body.workers.map((w: { thread_id: number }) => w.thread_id)).size).toBe(2);
    for (const w of body.workers) {
      expect(w).toMatchObject({ state: 'ready', restarts: 0, config_version: 1, last_replacement: null });
      expect(w.uptime_seconds).toBeGreaterThanOrEqual(1);
    }
    // The proxy really serves what /status describes.
    expect((await fetch(`http://127.0.0.1:${gw.proxyPort}/load/ok`)).status).toBe(200);
    // A different config has a different hash.
    const other = await gateway(yaml.replace('paths: [/load]', 'paths: [/other]'), ['--workers', '1']);
    expect(other.status.configuration_hash).not.toBe(body.configuration_hash);
  });

  it('listens on loopback only by default (127.0.0.1:8001)', async () => {
    await until('port 8001 to be free', async () => (await portFree(8001)), 15_000);
    const proxyPort = await freePort();
    const { p } = await startRaw(['--proxy-listen', `127.0.0.1:${proxyPort}`, '--workers', '1'], {}, 8001);
    const listeners = listeningSockets(8001);
    expect(listeners.length).toBeGreaterThan(0);
    expect(listeners.every((a) => a === '127.0.0.1'), `admin listeners: ${listeners.join(', ')}`).toBe(true);
    const external = externalIPv4();
    if (external !== null) {
      expect(await tcpConnect(external, 8001)).toBe('ECONNREFUSED');
      expect(await tcpConnect('127.0.0.1', 8001)).toBe('connected');
    }
    expect((await stopProc(p)).code).toBe(0);
  });

  it('refuses to start with a non-loopback admin address and no token', async () => {
    const port = await freePort();
    for (const [args, env] of [
      [['--admin-listen', `0.0.0.0:${port}`], {}],
      [[], { PORTCULLIS_ADMIN_LISTEN: `0.0.0.0:${port}` }],
      [['--admin-listen', `[::]:${port}`], {}],
      [['--admin-listen', `0.0.0.0:${port}`, '--admin-token', ''], {}],
    ] as Array<[string[], NodeJS.ProcessEnv]>) {
      const r = await runCli(['start', '--proxy-listen', '127.0.0.1:0', '--workers', '1', ...args], { env });
      expect(r.code, `${args.join(' ')} ${JSON.stringify(env)}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(/admin-listen: .* is not a loopback address; set --admin-token \(or PORTCULLIS_ADMIN_TOKEN\)/);
      expect(r.stdout).not.toContain('portcullis started');
    }
    // A blank or trivially short token does not count as protection.
    const short = await runCli(['start', '--proxy-listen', '127.0.0.1:0', '--workers', '1', '--admin-listen', `0.0.0.0:${port}`, '--admin-token', 'abc']);
    expect(short.code).toBe(2);
    expect(short.stderr).toContain('admin-token: must be at least 8 characters');
  });

  it('with a token: 401 without it or with a wrong one, 200 with it (Bearer or Portcullis-Admin-Token)', async () => {
    const adminPort = await freePort();
    const proxyPort = await freePort();
    const token = 'tok-' + Math.random().toString(36).slice(2);
    const auth = { authorization: `Bearer ${token}` };
    await startRaw(['--proxy-listen', `127.0.0.1:${proxyPort}`, '--admin-listen', `0.0.0.0:${adminPort}`, '--workers', '1'], { PORTCULLIS_ADMIN_TOKEN: token }, adminPort, auth);

    const none = await adminGet(adminPort, '/status');
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(none.body).toEqual({ message: 'Unauthorized' });
    expect(JSON.stringify(none.body)).not.toContain('workers');
    expect((await adminGet(adminPort, '/status', { authorization: `Bearer ${token}x` })).status).toBe(401);
    expect((await adminGet(adminPort, '/status', { authorization: `Bearer ${token.slice(0, -1)}` })).status).toBe(401);
    expect((await adminGet(adminPort, '/status', { authorization: 'Bearer ' })).status).toBe(401);
    expect((await adminGet(adminPort, '/status', { 'portcullis-admin-token': 'nope' })).status).toBe(401);
    expect((await adminPost(adminPort, '/workers/0/restart')).status).toBe(401);

    const ok = await adminGet(adminPort, '/status', auth);
    expect(ok.status).toBe(200);
    expect(ok.body.workers).toHaveLength(1);
    expect((await adminGet(adminPort, '/status', { 'portcullis-admin-token': token })).status).toBe(200);
    // Reached through a non-loopback address, with the token, the admin API answers too.
    const external = externalIPv4();
    if (external !== null) {
      const r = await fetch(`http://${external}:${adminPort}/status`, { headers: auth });
      expect(r.status).toBe(200);
    }
  });

  it('without a token, refuses foreign Host names (DNS rebinding) and cross-origin changes', async () => {
    const upstream = await startUpstream();
    cleanups.push(() => upstream.close());
    const gw = await gateway(serviceConfig(upstream), ['--workers', '1']);
    const rebound = await rawRequest(gw.adminPort, 'GET /status HTTP/1.1\r\nHost: attacker.example:8001\r\nConnection: close\r\n\r\n');
    expect(rebound.status).toBe(403);
    expect(rebound.text).not.toContain('configuration_hash');
    const ok = await rawRequest(gw.adminPort, 'GET /status HTTP/1.1\r\nHost: localhost:8001\r\nConnection: close\r\n\r\n');
    expect(ok.status).toBe(200);
    const csrf = await adminPost(gw.adminPort, '/workers/0/restart', { origin: 'http://attacker.example' });
    expect(csrf.status).toBe(403);
    const s = await adminGet(gw.adminPort, '/status');
    expect(s.body.worker_restarts).toBe(0);
  });
});

describe('settings', () => {
  it('PORTCULLIS_* environment variables apply when no flag is given; a flag wins over them', async () => {
    const adminPort = await freePort();
    const proxyPort = await freePort();
    const env = { PORTCULLIS_WORKERS: '3', PORTCULLIS_PROXY_LISTEN: `127.0.0.1:${proxyPort}`, PORTCULLIS_ADMIN_LISTEN: `127.0.0.1:${adminPort}` };
    const fromEnv = await startRaw([], env, adminPort);
    expect(fromEnv.status.workers).toHaveLength(3);
    expect(fromEnv.status.proxy_port).toBe(proxyPort);
    expect((await fetch(`http://127.0.0.1:${proxyPort}/`)).status).toBe(200);
    expect((await stopProc(fromEnv.p)).code).toBe(0);

    const adminPort2 = await freePort();
    const proxyPort2 = await freePort();
    const flagged = await startRaw(['--workers', '1', '--proxy-listen', `127.0.0.1:${proxyPort2}`, '--admin-listen', `127.0.0.1:${adminPort2}`], env, adminPort2);
    expect(flagged.status.workers).toHaveLength(1);
    expect(flagged.status.proxy_port).toBe(proxyPort2);
    // The environment's admin address was not used.
    expect(await portFree(adminPort)).toBe(true);
  });

  it('reports a bad environment value by its variable', async () => {
    const r = await runCli(['start'], { env: { PORTCULLIS_WORKERS: 'many', PORTCULLIS_DRAIN_TIMEOUT: '-5' } });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("workers: expected an integer >= 1, got 'many'");
    expect(r.stderr).toContain("drain-timeout: expected an integer >= 0, got '-5'");
  });

  it('--workers auto (and the default) start one worker per available core', async () => {
    const cores = availableParallelism();
    for (const args of [['--workers', 'auto'], []]) {
      const adminPort = await freePort();
      const proxyPort = await freePort();
      const { p, status } = await startRaw(['--proxy-listen', `127.0.0.1:${proxyPort}`, '--admin-listen', `127.0.0.1:${adminPort}`, ...args], {}, adminPort);
      expect(status.workers).toHaveLength(cores);
      expect((await stopProc(p)).code).toBe(0);
    }
  });

  it('with --proxy-listen port 0 every worker listens on one shared port', async () => {
    const adminPort = await freePort();
    const { status } = await startRaw(['--proxy-listen', '127.0.0.1:0', '--admin-listen', `127.0.0.1:${adminPort}`, '--workers', '3'], {}, adminPort);
    expect(status.proxy_port).toBeGreaterThan(0);
    const listeners = listeningSockets(status.proxy_port);
    // SO_REUSEPORT: one listening socket per worker, all on the same port.
    expect(listeners).toHaveLength(3);
    expect((await fetch(`http://127.0.0.1:${status.proxy_port}/`)).status).toBe(200);
  });
});

async function portFree(port: number): Promise<boolean> {
  return listeningSockets(port).length === 0;
}

/** Local addresses of listening TCP sockets on `port` (from /proc/net/tcp{,6}). */
function listeningSockets(port: number): string[] {
  const out: string[] = [];
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 4 || cols[3] !== '0A') continue;
      const [addr, p] = cols[1]!.split(':');
      if (p !== hexPort) continue;
      out.push(decodeProcAddress(addr!));
    }
  }
  return out;
}

function decodeProcAddress(hex: string): string {
  if (hex.length === 8) {
    return [3, 2, 1, 0].map((i) => parseInt(hex.slice(i * 2, i * 2 + 2), 16)).join('.');
  }
  // IPv6: four little-endian 32-bit words.
  const words = [0, 1, 2, 3].map((w) => hex.slice(w * 8, w * 8 + 8).match(/../g)!.reverse().join(''));
  const full = words.join('').match(/..../g)!.map((g) => g.replace(/^0+(?=.)/, '')).join(':');
  if (full === '0:0:0:0:0:0:0:0') return '::';
  if (full === '0:0:0:0:0:0:0:1') return '::1';
  return full;
}

function externalIPv4(): string | null {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return null;
}
