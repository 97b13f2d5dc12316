/**
 * The `portcullis` command as users run it: `check` on good and bad files, `start` refusing
 * a bad config with the same errors, help/version/usage errors, and `npm start` (the
 * embedded default config). Real processes only.
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/gateway.js';
import { adminGet, cleanEnv, freePort, launch, runCli, stopProc, tcpConnect, waitReady, writeConfig, type Proc } from '../helpers/proc.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!().catch(() => undefined);
});

const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

const GOOD = `_format_version: "3.0"
services:
  - name: orders
    url: http://127.0.0.1:9/v1
    routes:
      - name: orders-list
        paths: [/orders]
        plugins:
          - name: correlation-id
            config: { header_name: X-Request-ID, generator: uuid, echo_downstream: true }
      - name: orders-by-id
        paths: ["~/orders/(?<id>\\\\d+)$"]
routes:
  - name: maintenance
    paths: [/maint]
    plugins:
      - name: request-termination
        config: { status_code: 503, message: maintenance, trigger: x-maint }
`;

/**
 * Bad configs, each with the exact diagnostic it must produce (FILE is replaced by the
 * file's path). Line and column point at the offending key or value.
 */
const BAD: Array<{ name: string; yaml: string; expect: string[] }> = [
  {
    name: 'an unknown field',
    yaml: '_format_version: "3.0"\nservices:\n  - name: s\n    url: http://127.0.0.1:9\n    colour: red\n',
    expect: ['FILE:5:5: services[0].colour: unknown field'],
  },
  {
    name: 'a value of the wrong type',
    yaml: '_format_version: "3.0"\nservices:\n  - name: s\n    url: http://127.0.0.1:9\n    retries: many\n',
    expect: ['FILE:5:14: services[0].retries: expected an integer'],
  },
  {
    name: 'a route referencing a missing service',
    yaml: '_format_version: "3.0"\nroutes:\n  - name: r\n    service: nope\n    paths: [/]\n',
    expect: ["FILE:4:14: routes[0].service: invalid reference 'service: nope' (no such entry in 'services')"],
  },
  {
    name: 'a regex path that does not compile',
    yaml: '_format_version: "3.0"\nservices:\n  - name: s\n    url: http://127.0.0.1:9\n    routes:\n      - name: r\n        paths: ["~/users/(?<id>[0-9+)$"]\n',
    expect: ["FILE:7:17: services[0].routes[0].paths[0]: invalid regex: '/users/(?<id>[0-9+)$' (RE2 returned: missing ]: [0-9+)$)"],
  },
  {
    name: 'a bad plugin config',
    yaml: '_format_version: "3.0"\nroutes:\n  - name: r\n    paths: [/]\n    plugins:\n      - name: request-termination\n        config:\n          status_code: 999\n',
    expect: ['FILE:8:24: routes[0].plugins[0].config.status_code: value should be between 100 and 599'],
  },
  {
    name: 'several problems at once (every one reported, in file order)',
    yaml:
      '_format_version: "3.0"\nplugins:\n  - name: correlation-id\n    config:\n      generator: snowflake\n      echo_downstream: "yes"\n  - name: no-such-plugin\n',
    expect: [
      'FILE:5:18: plugins[0].config.generator: expected one of: uuid, uuid#counter, tracker',
      'FILE:6:24: plugins[0].config.echo_downstream: expected a boolean',
      "FILE:7:11: plugins[1].name: plugin 'no-such-plugin' is not installed",
    ],
  },
  {
    name: 'an option that conflicts with another (entity check)',
    yaml: '_format_version: "3.0"\nroutes:\n  - name: r\n    paths: [/]\n    plugins:\n      - name: request-termination\n        config:\n          message: hi\n          body: "{}"\n',
    expect: ['FILE:8:20: routes[0].plugins[0].config.message: message cannot be used with content_type or body'],
  },
];

function expected(file: string, lines: string[]): string[] {
  return lines.map((l) => l.replace('FILE', file));
}

describe('portcullis check', () => {
  it('exits 0 with a summary on a valid file', async () => {
    const file = writeConfig(GOOD);
    const r = await runCli(['check', file]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^OK: 1 service, 3 routes, 0 consumers, 2 plugins, 0 upstreams, 0 targets \(hash [0-9a-f]{12}\)\n$/);
  });

  it('accepts the same config as JSON', async () => {
    const file = writeConfig('').replace(/kong\.yml$/, 'kong.json');
    writeFileSync(file, JSON.stringify({ _format_version: '3.0', routes: [{ name: 'r', paths: ['/'] }] }, null, 2));
    const r = await runCli(['check', file]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^OK: 0 services, 1 route,/);
  });

  for (const bad of BAD) {
    it(`exits 1 with file:line:col and the field path on ${bad.name}`, async () => {
      const file = writeConfig(bad.yaml);
      const r = await runCli(['check', file]);
      expect(r.code).toBe(1);
      expect(r.stdout).toBe('');
      const n = bad.expect.length;
      expect(r.stderr.split('\n')).toEqual([...expected(file, bad.expect), `${file}: ${n} error${n === 1 ? '' : 's'}; the config is not valid`, '']);
    });
  }

  it('exits 1 with file:line:col on YAML syntax errors', async () => {
    const file = writeConfig('_format_version: "3.0"\nservices:\n  - name: s\n    url: http://127.0.0.1:9\n   routes: [\n');
    const r = await runCli(['check', file]);
    expect(r.code).toBe(1);
    const lines = r.stderr.trim().split('\n');
    expect(lines[0]).toMatch(new RegExp(`^${escape(file)}:5:\\d+: syntax error: .+`));
    expect(lines.at(-1)).toMatch(/error(s)?; the config is not valid$/);
  });

  it('exits 1 with a position on a bad JSON file', async () => {
    const file = writeConfig('').replace(/kong\.yml$/, 'kong.json');
    writeFileSync(file, '{\n  "_format_version": "3.0",\n  "routes": [\n    { "name": "r", "paths": ["/"], "strip_path": "sometimes" }\n  ]\n}\n');
    const r = await runCli(['check', file]);
    expect(r.code).toBe(1);
    expect(r.stderr.split('\n')[0]).toMatch(new RegExp(`^${escape(file)}:4:\\d+: routes\\[0\\]\\.strip_path: expected a boolean$`));
  });

  it('exits 1 on a file it cannot read, 2 without a file', async () => {
    const missing = join(ROOT, 'no-such-dir', 'kong.yml');
    const r = await runCli(['check', missing]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${missing}:0:0: cannot read the config file: ENOENT`);
    const usage = await runCli(['check']);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('usage: portcullis check FILE');
  });
});

describe('portcullis start with a bad config', () => {
  for (const bad of BAD.slice(0, 5)) {
    it(`exits 1 without listening, printing the same errors as check (${bad.name})`, async () => {
      const file = writeConfig(bad.yaml);
      const proxyPort = await freePort();
      const adminPort = await freePort();
      const r = await runCli(['start', '--config', file, '--proxy-listen', `127.0.0.1:${proxyPort}`, '--admin-listen', `127.0.0.1:${adminPort}`, '--workers', '1']);
      expect(r.code).toBe(1);
      for (const line of expected(file, bad.expect)) expect(r.stderr).toContain(`${line}\n`);
      expect(r.stderr).toMatch(/the config has 1 error\(s\); not starting/);
      expect(r.stdout).not.toContain('portcullis started');
      expect(await tcpConnect('127.0.0.1', proxyPort)).toBe('ECONNREFUSED');
      expect(await tcpConnect('127.0.0.1', adminPort)).toBe('ECONNREFUSED');
    });
  }

  it('exits 1 when the config file does not exist', async () => {
    const r = await runCli(['start', '--config', '/nonexistent/kong.yml', '--proxy-listen', '127.0.0.1:0', '--admin-listen', 'off', '--workers', '1']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('/nonexistent/kong.yml:0:0: cannot read the config file: ENOENT');
  });
});

describe('help, version and usage errors', () => {
  for (const arg of ['help', '--help', '-h']) {
    it(`${arg} prints every flag with its environment variable and exits 0`, async () => {
      const r = await runCli([arg]);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`portcullis ${VERSION}`);
      expect(r.stdout).toContain('portcullis start [flags]');
      expect(r.stdout).toContain('portcullis check FILE');
      for (const flag of ['config', 'proxy-listen', 'admin-listen', 'admin-token', 'workers', 'trusted-ips', 'log-level', 'drain-timeout']) {
        const env = `PORTCULLIS_${flag.toUpperCase().replace(/-/g, '_')}`;
        expect(r.stdout).toMatch(new RegExp(`--${flag}\\b[\\s\\S]*?\\[env ${env}\\]`));
      }
    });
  }

  it('start --help prints the help and exits 0 without starting', async () => {
    const r = await runCli(['start', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('portcullis start [flags]');
  });

  for (const arg of ['version', '--version']) {
    it(`${arg} prints the package version`, async () => {
      const r = await runCli([arg]);
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(`portcullis ${VERSION}\n`);
    });
  }

  it('exits 2 on an unknown command or flag', async () => {
    const cmd = await runCli(['frobnicate']);
    expect(cmd.code).toBe(2);
    expect(cmd.stderr).toContain("unknown command 'frobnicate'");
    const flag = await runCli(['start', '--no-such-flag']);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toMatch(/Unknown option '--no-such-flag'/);
    const value = await runCli(['start', '--proxy-listen', 'nowhere']);
    expect(value.code).toBe(2);
    expect(value.stderr).toContain("proxy-listen: expected HOST:PORT, got 'nowhere'");
  });
});

describe('npm start (the embedded default config)', () => {
  async function checkDefaultConfig(proxyPort: number): Promise<void> {
    const root = await fetch(`http://127.0.0.1:${proxyPort}/`);
    expect(root.status).toBe(200);
    expect(await root.json()).toEqual({ message: 'Portcullis is running. Try /echo' });

    const echo = await fetch(`http://127.0.0.1:${proxyPort}/echo?debug=1`, { headers: { 'x-hello': 'world' } });
    expect(echo.status).toBe(200);
    expect(echo.headers.get('content-type')).toMatch(/^application\/json/);
    const body = (await echo.json()) as Record<string, any>;
    expect(body.request).toMatchObject({ method: 'GET', path: '/echo', scheme: 'http', port: proxyPort, query: { debug: '1' } });
    expect(body.request.headers['x-hello']).toBe('world');
    expect(body.request.headers.host).toBe(`127.0.0.1:${proxyPort}`);
    expect(body.kong).toMatchObject({ node_id: expect.any(String), worker_pid: expect.any(Number), hostname: expect.any(String) });
    expect(body.matched_route).toMatchObject({ name: 'echo', paths: ['/echo'] });
    expect(body.matched_service).toBeNull();
  }

  it('`node bin/portcullis.js start` without --config serves the embedded config', async () => {
    const proxyPort = await freePort();
    const adminPort = await freePort();
    const p = launch(['start', '--proxy-listen', `127.0.0.1:${proxyPort}`, '--admin-listen', `127.0.0.1:${adminPort}`, '--workers', '1']);
    cleanups.push(() => stopProc(p));
    const status = await waitReady(p, adminPort);
    expect(status.config).toEqual({ services: 0, routes: 2, consumers: 0, plugins: 2, upstreams: 0 });
    await checkDefaultConfig(proxyPort);
    expect((await stopProc(p)).code).toBe(0);
  });

  it('`npm start` runs the gateway (admin on 127.0.0.1:8001); SIGTERM to its process group drains and stops it', async () => {
    const proxyPort = await freePort();
    // npm start -> sh -c 'node bin/portcullis.js start'; the admin address is left at its default.
    const deadline = Date.now() + 15_000;
    while ((await tcpConnect('127.0.0.1', 8001, 500)) === 'connected') {
      if (Date.now() > deadline) throw new Error('port 8001 stays busy');
      await new Promise((r) => setTimeout(r, 200));
    }
    const npm = spawn('npm', ['start', '--silent', '--', '--proxy-listen', `127.0.0.1:${proxyPort}`, '--workers', '1'], {
      cwd: ROOT,
      env: cleanEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group: npm does not forward SIGTERM through `sh -c`, so the group
      // gets the signal, as a terminal's Ctrl-C or a container runtime would send it.
      detached: true,
    });
    let out = '';
    npm.stdout.on('data', (d) => (out += d));
    npm.stderr.on('data', (d) => (out += d));
    // The gateway holds the pipes' write ends: they close when it exits, not when npm does.
    const closed = new Promise<void>((resolve) => npm.once('close', () => resolve()));
    const signalGroup = (signal: NodeJS.Signals) => {
      try {
        process.kill(-npm.pid!, signal);
      } catch {
        // already gone
      }
    };
    const group: Proc = {
      proc: npm,
      output: () => out,
      logs: () => [],
      exited: closed.then(() => ({ code: npm.exitCode, signal: npm.signalCode, at: Date.now() })),
      waitForLog: () => Promise.reject(new Error('unused')),
      kill: signalGroup,
    };
    cleanups.push(() => stopProc(group));
    const status = await waitReady(group, 8001);
    expect(status.workers).toHaveLength(1);
    const root = await adminGet(8001, '/');
    expect(root.body).toMatchObject({ version: VERSION });
    await checkDefaultConfig(proxyPort);

    signalGroup('SIGTERM');
    await closed;
    expect(out).toContain('portcullis started');
    expect(out).toMatch(/"reason":"SIGTERM".*"msg":"draining"/);
    expect(out).toContain('"msg":"stopped"');
    const gone = Date.now() + 5000;
    while (processAlive(status.pid) && Date.now() < gone) await new Promise((r) => setTimeout(r, 50));
    expect(processAlive(status.pid)).toBe(false);
    expect(await tcpConnect('127.0.0.1', proxyPort)).toBe('ECONNREFUSED');
  });
});

/** Whether `pid` is a running process (a zombie waiting to be reaped counts as gone). */
function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\S+ \(.*\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
