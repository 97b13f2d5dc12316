/**
 * `portcullis` command line: start | check | help | version.
 * Exit codes: 0 ok, 1 invalid config or failed start, 2 usage error.
 */
import { parseArgs } from 'node:util';
import { loadConfigFile, loadConfigText } from '../config/load.js';
import { DEFAULT_CONFIG_YAML } from '../config/default-config.js';
import type { ConfigIssue } from '../config/types.js';
import { loadAffinity, planCpuAffinity } from '../shared/affinity.js';
import { createLogger } from '../shared/logger.js';
import { applyV8Tuning } from '../shared/v8-tuning.js';
import { Supervisor } from '../supervisor/supervisor.js';
import { VERSION } from '../supervisor/admin-server.js';
import { clientCommand } from './admin-client.js';
import { checkCommand } from './check.js';
import { envName, resolveSettings, resolveSupervisorFlags, START_FLAGS } from './options.js';

function usage(): string {
  const flags = Object.entries(START_FLAGS)
    .map(([name, spec]) => `  --${name}${spec.type === 'string' ? ' VALUE' : ''}\n      ${spec.description} [env ${envName(name)}]`)
    .join('\n');
  return `portcullis ${VERSION}: an API security gateway

Usage:
  portcullis start [flags]     run the gateway (SIGTERM drains in-flight requests, then exits 0)
  portcullis check FILE        validate a declarative config; exit 1 with file:line:col errors
  portcullis reload            reload the running gateway's config file (via the admin API)
  portcullis quit [--wait]     stop the running gateway gracefully (--wait: until it exited)
  portcullis health            exit 0 when the running gateway is ready, 1 otherwise
      (reload/quit/health take --admin-listen HOST:PORT and --admin-token TOKEN, or
       PORTCULLIS_ADMIN_LISTEN / PORTCULLIS_ADMIN_TOKEN, like start)
  portcullis version
  portcullis help

Flags of start (flag > environment > default):
${flags}
`;
}

export function formatIssue(i: ConfigIssue): string {
  return `${i.file}:${i.line}:${i.col}: ${i.path ? `${i.path}: ` : ''}${i.message}`;
}

async function start(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(usage());
    return 0;
  }
  const options = Object.fromEntries(Object.entries(START_FLAGS).map(([k, v]) => [k, { type: v.type }])) as Record<
    string,
    { type: 'string' | 'boolean' }
  >;
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({ args: argv, options, allowPositionals: false, strict: true }).values as Record<string, string | boolean | undefined>;
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n\n${usage()}`);
    return 2;
  }
  const { settings, errors } = resolveSettings(values, process.env);
  // Read on this (the main) thread before any worker exists: its mask is the process's allowed cores.
  const affinity = planCpuAffinity(settings.cpuAffinity, loadAffinity(process.env));
  if (affinity.error !== null) errors.push(affinity.error);
  if (errors.length > 0) {
    for (const e of errors) process.stderr.write(`portcullis: ${e}\n`);
    return 2;
  }
  const log = createLogger(settings.logLevel, { role: 'supervisor' });
  if (affinity.unavailable !== null) {
    log.warn({ cpuAffinity: settings.cpuAffinity, reason: affinity.unavailable }, 'CPU affinity is unavailable; workers run unpinned');
  }
  settings.cpuAffinity = affinity.cores ?? 'off';
  const loaded = settings.configFile === null
    ? loadConfigText(DEFAULT_CONFIG_YAML, '<embedded default config>', process.env)
    : await loadConfigFile(settings.configFile, process.env);
  if (!loaded.ok) {
    for (const i of loaded.issues) process.stderr.write(`${formatIssue(i)}\n`);
    process.stderr.write(`portcullis: the config has ${loaded.issues.length} error(s); not starting\n`);
    return 1;
  }
  // After the config is loaded (big configs are built as long-lived data, which
  // pretenuring suits), before any worker serves a request.
  const v8Flags = applyV8Tuning();
  if (v8Flags.length > 0) log.debug({ v8Flags }, 'V8 flags set for the data path');
  const supervisor = new Supervisor(settings, loaded.config, log, process.env, {
    ...resolveSupervisorFlags(values, process.env),
    vaultSecrets: loaded.secrets ?? [],
  });
  let stopping: Promise<void> | null = null;
  const stop = (signal: string) => {
    stopping ??= supervisor.shutdown(signal).then(() => process.exit(0));
  };
  supervisor.onQuit = stop;
  // SIGHUP: reload the config file (a reload in progress queues one more).
  process.on('SIGHUP', () => {
    if (!supervisor.isShuttingDown) supervisor.reloadInBackground('sighup');
  });
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGQUIT', () => stop('SIGQUIT'));
  try {
    await supervisor.start();
  } catch (err) {
    // A signal during start-up stops the workers before they listen: that is the stop path.
    if (supervisor.isShuttingDown) return -1;
    log.fatal({ err }, 'start failed');
    await supervisor.shutdown('start failed');
    return 1;
  }
  return -1; // keep running
}

export async function main(argv: string[]): Promise<void> {
  const [command, ...rest] = argv;
  let code: number;
  switch (command) {
    case 'start':
    case undefined:
      code = await start(command === undefined ? [] : rest);
      break;
    case 'check': {
      const file = rest[0];
      if (file === undefined || rest.length > 1) {
        process.stderr.write('usage: portcullis check FILE\n');
        code = 2;
        break;
      }
      code = await checkCommand(file, process.stdout, process.stderr);
      break;
    }
    case 'reload':
    case 'quit':
    case 'health':
      code = await clientCommand(command, rest, process.stdout, process.stderr);
      break;
    case 'version':
    case '--version':
      process.stdout.write(`portcullis ${VERSION}\n`);
      code = 0;
      break;
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(usage());
      code = 0;
      break;
    default:
      process.stderr.write(`portcullis: unknown command '${command}'\n\n${usage()}`);
      code = 2;
  }
  if (code >= 0) process.exitCode = code;
}
