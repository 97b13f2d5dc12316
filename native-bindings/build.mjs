// `npm run build:native` (also run by `prepare`, i.e. on `npm ci`): builds the CPU-affinity
// addon with node-gyp into native-bindings/build/. The gateway runs without it (affinity is
// then reported unavailable), so a failed build prints a warning and exits 0: a machine
// without a compiler must still be able to install and run Portcullis.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

/** node-gyp: the one npm runs scripts with (npm_config_node_gyp), else the one bundled with npm, else PATH. */
function nodeGyp() {
  const fromNpm = process.env.npm_config_node_gyp;
  if (fromNpm && existsSync(fromNpm)) return [process.execPath, [fromNpm]];
  const bundled = join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
  if (existsSync(bundled)) return [process.execPath, [bundled]];
  return ['node-gyp', []];
}

/**
 * Headers of the running node when they are installed next to it (distro and official
 * tarball installs have <prefix>/include/node): node-gyp would otherwise download them,
 * which fails offline. An explicit npm_config_nodedir wins.
 */
function nodedirArgs() {
  if (process.env.npm_config_nodedir) return [];
  const prefix = join(dirname(process.execPath), '..');
  return existsSync(join(prefix, 'include', 'node', 'node_api.h')) ? [`--nodedir=${prefix}`] : [];
}

const [cmd, pre] = nodeGyp();
const args = [...pre, 'rebuild', ...nodedirArgs()];
const run = spawnSync(cmd, args, { cwd: here, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
if (run.status === 0) {
  process.stdout.write('native-bindings: built build/Release/portcullis_affinity.node (CPU affinity available)\n');
} else {
  const why = run.error ? run.error.message : `exit code ${run.status}`;
  const tail = `${run.stdout ?? ''}${run.stderr ?? ''}`.trim().split('\n').slice(-15).join('\n');
  process.stderr.write(
    `native-bindings: WARNING: the CPU-affinity addon did not build (${cmd} ${args.join(' ')}: ${why}).\n` +
      `native-bindings: the gateway works without it; --cpu-affinity will report itself unavailable.\n` +
      `native-bindings: needs python3, make and a C++ compiler (Linux only). Last lines of the build:\n${tail}\n`,
  );
}
process.exit(0);
