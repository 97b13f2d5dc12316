import { defineConfig } from 'vitest/config';

// Unit tests live beside the code they test (src/, workers/, bench/, perf/); anything that needs
// real sockets, threads or processes lives in test/. Both run under `npm test`.
export default defineConfig({
  test: {
    include: ['src/**/*.test.ts', 'workers/**/*.test.ts', 'test/**/*.test.ts', 'bench/**/*.test.ts', 'perf/**/*.test.ts', 'native-bindings/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Integration tests start gateways and upstreams on loopback; running files one
    // at a time keeps a 2-core machine from timing them out.
    fileParallelism: false,
  },
});
