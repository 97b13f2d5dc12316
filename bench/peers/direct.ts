/**
 * `--direct`: the load tool against the origin itself, no proxy. A ceiling for the other rows:
 * what the origin and the load tool manage alone on this machine. Its CPU µs/request is the
 * origin's (there is no proxy process).
 */
import type { Peer, RunningPeer } from './types.js';

export function directPeer(): Peer {
  return {
    name: 'origin (direct)',
    describe: (ctx) => `no proxy: the load tool against ${ctx.upstream.description}`,
    unavailable: () => null,
    start: async (ctx): Promise<RunningPeer> => ({
      port: ctx.upstream.port,
      pid: null,
      died: () => null,
      stop: async () => {},
    }),
  };
}
