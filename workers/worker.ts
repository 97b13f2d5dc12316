/**
 * Worker thread entry: one uWS app on the shared proxy port, a runloop and an undici pool
 * set. It listens only after its first config is compiled, so it never serves a request
 * without one; later configs swap in as one reference (in-flight requests keep theirs).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { createLogger } from '../src/shared/logger.js';
import type { FromWorker, ToWorker, WorkerData } from '../src/shared/protocol.js';
import { TrustedProxies } from './http/client-address.js';
import { UwsListener } from './http/uws-listener.js';
import { loadNativeUws } from './http/uws-native.js';
import type { PluginBaseEnv } from './pipeline/types.js';
import { pluginDefinitions } from './plugins/index.js';
import { UpstreamPools } from './proxy/upstream-pools.js';
import { Generation, Runloop } from './runloop.js';

const { workerId, settings } = workerData as WorkerData;
const port = parentPort!;
const post = (msg: FromWorker): void => port.postMessage(msg);
const log = createLogger(settings.logLevel, { worker: workerId });

const uws = loadNativeUws();
const trusted = new TrustedProxies(settings.trustedIps);
const pools = new UpstreamPools();
const runloop = new Runloop(log, pools, trusted, settings, {
  requestFinished() {
    // Metrics and the access log attach here (supervisor-operations issue).
  },
});
const listener = new UwsListener(uws, settings, runloop, trusted, log);
let listening = false;

// A bug must never take the whole worker down silently: log it; the supervisor replaces
// the worker if it does die.
process.on('uncaughtException', (err) => log.fatal({ err }, 'uncaught exception in worker'));

function pluginEnv(name: string): PluginBaseEnv {
  const child = log.child({ plugin: name });
  return {
    workerId,
    log: {
      info: (o, m) => child.info(o, m),
      warn: (o, m) => child.warn(o, m),
      error: (o, m) => child.error(o, m),
    },
  };
}

async function applyConfig(msg: Extract<ToWorker, { type: 'config' }>): Promise<void> {
  let gen: Generation;
  try {
    gen = Generation.compile(msg.version, msg.config, pluginDefinitions, (p) => pluginEnv(p.name));
  } catch (err) {
    log.error({ err }, 'config compilation failed');
    post({ type: 'config-failed', version: msg.version, error: (err as Error).message });
    return;
  }
  runloop.generation = gen;
  pools.retain(gen.balancer.origins());
  post({ type: 'config-applied', version: msg.version, hash: msg.config.hash });
  if (!listening) {
    listening = true;
    try {
      const bound = await listener.listen(settings.proxyListen.host, settings.proxyListen.port);
      post({ type: 'listening', port: bound });
    } catch (err) {
      post({ type: 'listen-failed', error: (err as Error).message });
      process.exit(1);
    }
  }
}

port.on('message', (msg: ToWorker) => {
  switch (msg.type) {
    case 'config':
      void applyConfig(msg);
      break;
    case 'drain':
      void (async () => {
        const abandoned = await listener.drain(msg.timeoutMs);
        await pools.closeAll();
        post({ type: 'drained', abandoned });
        process.exit(0);
      })();
      break;
    case 'status':
      post({ type: 'status', inflight: listener.inflight.size, requests: listener.requests, configVersion: runloop.generation?.version ?? 0 });
      break;
  }
});
