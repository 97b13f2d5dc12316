/**
 * The gateway peer: writes the scenario's declarative config to a temp file, runs
 *   node bin/portcullis.js start --config FILE --proxy-listen 127.0.0.1:P --admin-listen 127.0.0.1:A --workers N
 * waits until GET /status on the admin port answers 200 (or, when nothing listens there, until the
 * proxy answers the scenario's request with the expected status), and stops it with SIGTERM.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { stringify } from 'yaml';
import { describeProbe, freePort, HOST, probe, sleep, type ProbeResult } from '../lib/net.js';
import { makeTempDir, spawnManaged, stopManaged, tailFile } from '../lib/procs.js';
import type { Scenario } from '../scenarios/types.js';
import type { Peer, PeerContext, RunningPeer } from './types.js';

export interface GatewayPeerOptions {
  /** The gateway's entry point; default <root>/bin/portcullis.js. A `.js` file runs under this node. */
  bin?: string;
  readyTimeoutMs?: number;
  /** Row name; default "gateway". */
  name?: string;
  /** Run this scenario instead of the bench's (for `--baseline`). */
  scenario?: Scenario;
}

export function gatewayPeer(opts: GatewayPeerOptions = {}): Peer {
  const binOf = (ctx: PeerContext): string => {
    if (opts.bin === undefined) return join(ctx.root, 'bin', 'portcullis.js');
    return isAbsolute(opts.bin) ? opts.bin : resolve(process.cwd(), opts.bin);
  };
  return {
    name: opts.name ?? 'gateway',
    ...(opts.scenario !== undefined ? { scenario: opts.scenario } : {}),
    describe: (ctx) =>
      `portcullis (${opts.bin === undefined ? 'bin/portcullis.js' : binOf(ctx)}), ${ctx.workers} worker thread(s)` +
      (opts.scenario !== undefined ? `, scenario '${opts.scenario.name}'` : ''),
    unavailable: (ctx) => (existsSync(binOf(ctx)) ? null : `${binOf(ctx)} does not exist`),
    async start(ctx): Promise<RunningPeer> {
      const bin = binOf(ctx);
      const dir = makeTempDir('gateway');
      const configFile = join(dir, 'kong.yml');
      writeFileSync(configFile, stringify(ctx.scenario.gatewayConfig(ctx.scenarioCtx)));
      const [proxyPort, adminPort] = [await freePort(), await freePort()];
      const args = [
        'start',
        '--config',
        configFile,
        '--proxy-listen',
        `${HOST}:${proxyPort}`,
        '--admin-listen',
        `${HOST}:${adminPort}`,
        '--workers',
        String(ctx.workers),
      ];
      const [command, argv] = bin.endsWith('.js') || bin.endsWith('.mjs') ? [process.execPath, [bin, ...args]] : [bin, args];
      const log = join(dir, 'gateway.log');
      // Per-request logging would measure the logger: keep the gateway at warn unless told otherwise.
      const env = { ...process.env, PORTCULLIS_LOG_LEVEL: process.env['PORTCULLIS_LOG_LEVEL'] ?? 'warn' };
      const proc = spawnManaged('gateway', command, argv, { logFile: log, cwd: ctx.root, env });
      const stop = (): Promise<void> => stopManaged(proc, 'SIGTERM', 15_000);
      const failure = (why: string): Error =>
        new Error(`the gateway ${why}\n  command: ${command} ${argv.join(' ')}\n  config: ${configFile} (kept with --keep-temp)\n  output:\n${tailFile(log)
          .split('\n')
          .map((l) => `    | ${l}`)
          .join('\n')}`);

      const timeoutMs = opts.readyTimeoutMs ?? 30_000;
      const deadline = Date.now() + timeoutMs;
      const expect = ctx.scenario.expectStatus ?? 200;
      let lastAdmin: ProbeResult | null = null;
      let lastProxy: ProbeResult | null = null;
      let ready = false;
      while (Date.now() < deadline) {
        if (proc.hasExited()) {
          const { code, signal } = await proc.exited;
          throw failure(`exited during start-up (code ${code}, signal ${signal})`);
        }
        // /status answers as soon as the admin API is up; /status/ready once every worker serves.
        lastAdmin = await probe(adminPort, { path: '/status/ready' }, 1000);
        if (lastAdmin.ok && lastAdmin.status === 200) {
          ready = true;
          break;
        }
        if (!lastAdmin.ok) {
          // No admin API answering (yet, or at all): fall back to the proxy port.
          lastProxy = await probe(proxyPort, ctx.scenario.request, 1000);
          if (lastProxy.ok && lastProxy.status === expect) {
            ready = true;
            break;
          }
        }
        await sleep(100);
      }
      if (!ready) {
        await stop();
        throw failure(
          `was not ready within ${timeoutMs} ms (admin /status: ${lastAdmin ? describeProbe(lastAdmin) : 'not tried'}; ` +
            `proxy: ${lastProxy ? describeProbe(lastProxy) : 'not tried'})`,
        );
      }
      return {
        port: proxyPort,
        pid: proc.pid,
        died: () => (proc.hasExited() ? `the gateway exited; its output:\n${tailFile(log)}` : null),
        stop,
      };
    },
  };
}
