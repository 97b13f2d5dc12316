/**
 * Worker thread entry: one uWS app on the shared proxy port, a runloop and an undici pool
 * set. It listens only after its first config is compiled, so it never serves a request
 * without one; later configs swap in as one reference (in-flight requests keep theirs).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { pinCurrentThread } from '../src/shared/affinity.js';
import { createLogger } from '../src/shared/logger.js';
import type { FromWorker, ToWorker, WorkerData } from '../src/shared/protocol.js';
import { RateLimitTable } from '../src/shared/shm/rate-limit-table.js';
import type { PluginConfig } from '../src/config/types.js';
import { TrustedProxies } from './http/client-address.js';
import { UwsListener } from './http/uws-listener.js';
import { createObservers } from './observability/index.js';
import { loadNativeUws } from './http/uws-native.js';
import type { PluginBaseEnv } from './pipeline/types.js';
import { pluginDefinitions } from './plugins/index.js';
import { UpstreamPools } from './proxy/upstream-pools.js';
import { compactAfterReload } from '../src/shared/compact-after-reload.js';
import { Generation, Runloop } from './runloop.js';

const { workerId, settings, rateLimitTable: rateLimitBuffer, metrics: metricsBuffer } = workerData as WorkerData;
const port = parentPort!;
const post = (msg: FromWorker): void => port.postMessage(msg);
const log = createLogger(settings.logLevel, { worker: workerId });

// --cpu-affinity: this thread pins itself (the call acts on the calling thread) before any work;
// the supervisor shows the core and the kernel thread id in GET /status.
const pinning = pinCurrentThread(settings.cpuAffinity, workerId);
if (pinning.cpu !== null) log.info({ cpu: pinning.cpu, tid: pinning.tid }, `worker pinned to CPU core ${pinning.cpu}`);
else if (pinning.error !== null) log.warn({ err: pinning.error }, 'could not pin the worker to a CPU core; it runs unpinned');
post(pinning);

// The node's counters: the same SharedArrayBuffer in every worker, owned by the supervisor.
const rateLimitTable = new RateLimitTable(rateLimitBuffer);
const uws = loadNativeUws();
const trusted = new TrustedProxies(settings.trustedIps);
const pools = new UpstreamPools();
const observers = createObservers({ workerId, settings, log, shared: { metrics: metricsBuffer } });
const runloop = new Runloop(log, pools, trusted, settings, observers);
const listener = new UwsListener(uws, settings, runloop, trusted, log);
let listening = false;
let stopping: Promise<never> | null = null;

/**
 * Stops this worker: closes the listen socket, lets in-flight requests finish (up to
 * `timeoutMs`), closes every connection and the uWS app, then exits with `code`. The
 * thread must never exit with uWS still open: that aborts the whole process.
 */
function stop(timeoutMs: number, code: number): Promise<never> {
  stopping ??= (async () => {
    const deadline = performance.now() + timeoutMs;
    const abandoned = await listener.drain(timeoutMs);
    // Pools close once their requests are done; abandoned ones were aborted, but never
    // let an upstream hold the exit past the deadline.
    const left = Math.max(deadline - performance.now(), 0) + 1000;
    await Promise.race([pools.closeAll(), new Promise((r) => setTimeout(r, left))]);
    post({ type: 'drained', abandoned });
    process.exit(code);
  })();
  return stopping;
}

// Node cannot resume safely after an uncaught exception, and a worker that silently
// carries on with broken state is worse than a replaced one: stop accepting, let the
// requests in flight finish (up to --drain-timeout), exit 1. The supervisor starts a
// replacement as soon as it hears 'fatal'.
process.on('uncaughtException', (err, origin) => {
  log.fatal({ err, origin }, 'uncaught exception in worker; stopping this worker');
  if (stopping !== null) return;
  post({ type: 'fatal', error: err instanceof Error ? err.message : String(err) });
  void stop(settings.drainTimeoutMs, 1);
});

const faultInjection = ['1', 'true', 'yes', 'on'].includes((process.env.PORTCULLIS_ENABLE_FAULT_INJECTION ?? '').toLowerCase());

function pluginEnv(p: PluginConfig): PluginBaseEnv {
  const child = log.child({ plugin: p.name });
  return {
    workerId,
    log: {
      info: (o, m) => child.info(o, m),
      warn: (o, m) => child.warn(o, m),
      error: (o, m) => child.error(o, m),
    },
    rateLimitTable,
    instance: { id: p.id, route: p.route, service: p.service, consumer: p.consumer },
  };
}

/** Fault injection 'reject-next-config': the next config fails to compile (tests the reload rollback). */
let rejectNextConfig = false;

async function applyConfig(msg: Extract<ToWorker, { type: 'config' }>): Promise<void> {
  let gen: Generation;
  try {
    if (rejectNextConfig) {
      rejectNextConfig = false;
      throw new Error('injected config failure (PORTCULLIS_ENABLE_FAULT_INJECTION)');
    }
    gen = Generation.compile(msg.version, msg.config, pluginDefinitions, (p) => pluginEnv(p));
  } catch (err) {
    log.error({ err }, 'config compilation failed');
    post({ type: 'config-failed', version: msg.version, error: (err as Error).message });
    return;
  }
  runloop.generation = gen;
  pools.retain(gen.balancer.origins());
  // The previous generation is garbage once its in-flight requests finish.
  if (msg.version > 1) compactAfterReload();
  post({ type: 'config-applied', version: msg.version, hash: msg.config.hash });
  if (!listening && stopping === null) {
    listening = true;
    try {
      const bound = await listener.listen(settings.proxyListen.host, settings.proxyListen.port);
      post({ type: 'listening', port: bound });
    } catch (err) {
      post({ type: 'listen-failed', error: (err as Error).message });
      await stop(0, 1);
    }
  }
}

port.on('message', (msg: ToWorker) => {
  switch (msg.type) {
    case 'config':
      void applyConfig(msg);
      break;
    case 'drain':
      void stop(msg.timeoutMs, 0);
      break;
    case 'fault':
      if (!faultInjection) break;
      log.warn({ kind: msg.kind }, 'fault injection');
      if (msg.kind === 'exit') {
        void stop(0, 3);
        break;
      }
      if (msg.kind === 'reject-next-config') {
        rejectNextConfig = true;
        break;
      }
      setImmediate(() => {
        throw new Error('injected fault (PORTCULLIS_ENABLE_FAULT_INJECTION)');
      });
      break;
    case 'status':
      post({ type: 'status', inflight: listener.inflight.size, requests: listener.requests, configVersion: runloop.generation?.version ?? 0 });
      break;
  }
});
