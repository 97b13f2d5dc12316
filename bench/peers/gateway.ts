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
  /** Run the scenario's background load beside the measured one. */
  background?: boolean;
}

/** Configs above this are written as JSON, which the gateway parses several times faster than YAML (100k consumers: 8 s vs 13 s). */
const YAML_MAX_BYTES = 256 * 1024;

/**
 * The gateway's environment: the bench's own (so a caller can set any PORTCULLIS_* variable),
 * PORTCULLIS_LOG_LEVEL=warn unless the caller set it (per-request logging would measure the
 * logger), and PORTCULLIS_CPU_AFFINITY when --cpu-affinity was given.
 */
export function gatewayEnv(base: NodeJS.ProcessEnv, cpuAffinity: string | null): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...base, PORTCULLIS_LOG_LEVEL: base['PORTCULLIS_LOG_LEVEL'] ?? 'warn' };
  if (cpuAffinity !== null) env['PORTCULLIS_CPU_AFFINITY'] = cpuAffinity;
  return env;
}

export function gatewayPeer(opts: GatewayPeerOptions = {}): Peer {
  const binOf = (ctx: PeerContext): string => {
    if (opts.bin === undefined) return join(ctx.root, 'bin', 'portcullis.js');
    return isAbsolute(opts.bin) ? opts.bin : resolve(process.cwd(), opts.bin);
  };
  return {
    name: opts.name ?? 'gateway',
    ...(opts.scenario !== undefined ? { scenario: opts.scenario } : {}),
    ...(opts.background !== undefined ? { background: opts.background } : {}),
    describe: (ctx) =>
      `portcullis (${opts.bin === undefined ? 'bin/portcullis.js' : binOf(ctx)}), ${ctx.workers} worker thread(s)` +
      (opts.scenario !== undefined ? `, scenario '${opts.scenario.name}'` : '') +
      (ctx.cpuAffinity !== null ? `, PORTCULLIS_CPU_AFFINITY=${ctx.cpuAffinity}` : ''),
    unavailable: (ctx) => (existsSync(binOf(ctx)) ? null : `${binOf(ctx)} does not exist`),
    async start(ctx): Promise<RunningPeer> {
      const bin = binOf(ctx);
      const dir = makeTempDir('gateway');
      const config = ctx.scenario.gatewayConfig(ctx.scenarioCtx);
      const json = JSON.stringify(config);
      const configFile = join(dir, json.length > YAML_MAX_BYTES ? 'kong.json' : 'kong.yml');
      writeFileSync(configFile, json.length > YAML_MAX_BYTES ? json : stringify(config));
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
      const env = { ...gatewayEnv(process.env, ctx.cpuAffinity), ...ctx.scenario.gatewayEnv };
      const proc = spawnManaged('gateway', command, argv, { logFile: log, cwd: ctx.root, env });
      const stop = (): Promise<void> => stopManaged(proc, 'SIGTERM', 15_000);
      const failure = (why: string): Error =>
        new Error(`the gateway ${why}\n  command: ${command} ${argv.join(' ')}\n  config: ${configFile} (kept with --keep-temp)\n  output:\n${tailFile(log)
          .split('\n')
          .map((l) => `    | ${l}`)
          .join('\n')}`);

      const timeoutMs = opts.readyTimeoutMs ?? (ctx.scenario.readyTimeoutSec ?? 30) * 1000;
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
