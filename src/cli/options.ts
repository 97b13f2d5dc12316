/**
 * Resolves GatewaySettings from command-line flags and PORTCULLIS_* environment variables.
 * Precedence: flag > environment > default (the environment name of `--proxy-listen` is
 * PORTCULLIS_PROXY_LISTEN, and so on). Every problem is reported, not just the first.
 */
import { availableParallelism } from 'node:os';
import { isIP } from 'node:net';
import { parseCpuList } from '../shared/cpu-list.js';
import { DEFAULT_LIMITS, type CpuAffinitySetting, type GatewaySettings, type ListenAddress } from '../shared/settings.js';

export interface FlagSpec {
  type: 'string' | 'boolean';
  description: string;
}

export const START_FLAGS: Record<string, FlagSpec> = {
  config: { type: 'string', description: 'declarative config file (Kong 3.x format, YAML or JSON); default: the embedded demo config' },
  'proxy-listen': { type: 'string', description: 'proxy address HOST:PORT (default 0.0.0.0:8000)' },
  'admin-listen': { type: 'string', description: "admin API address HOST:PORT, or 'off' (default 127.0.0.1:8001)" },
  'admin-token': { type: 'string', description: 'token the admin API requires (mandatory when it listens beyond loopback)' },
  workers: { type: 'string', description: "worker threads: a number or 'auto' = available cores (default auto)" },
  'trusted-ips': { type: 'string', description: 'comma-separated IPs/CIDRs whose X-Forwarded-* headers are trusted (default none)' },
  'real-ip-header': { type: 'string', description: 'header with the client address from a trusted proxy (default X-Real-IP)' },
  'real-ip-recursive': { type: 'boolean', description: 'skip trusted addresses from the right of X-Forwarded-For' },
  'log-level': { type: 'string', description: 'trace|debug|info|warn|error|fatal|silent (default info)' },
  'access-log': { type: 'string', description: "JSON access log: 'off', 'stdout' or a file path (default off)" },
  'drain-timeout': { type: 'string', description: 'ms SIGTERM waits for in-flight requests (default 30000)' },
  'watch-config': { type: 'boolean', description: 'reload when the --config file changes (default off; SIGHUP and `portcullis reload` always work)' },
  'audit-log': { type: 'string', description: 'also append the audit log (one JSON line per config change) to this file (default: supervisor log only)' },
  'max-header-count': { type: 'string', description: `most request header lines (default ${DEFAULT_LIMITS.maxHeaderCount}; 431 above)` },
  'max-header-bytes': { type: 'string', description: `most request header bytes (default ${DEFAULT_LIMITS.maxHeaderBytes}; 431 above)` },
  'max-uri-length': { type: 'string', description: `most bytes of path + query (default ${DEFAULT_LIMITS.maxUriLength}; 414 above)` },
  'cpu-affinity': { type: 'string', description: "pin worker threads to cores: 'off', 'auto' (worker i on the i-th allowed core) or core ids like 0,1 or 0-3 (worker i on LIST[i mod length]) (default off)" },
};

export function envName(flag: string): string {
  return `PORTCULLIS_${flag.toUpperCase().replace(/-/g, '_')}`;
}

function parseListen(value: string, what: string, errors: string[]): ListenAddress | null {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:]+)):(\d{1,5})$/.exec(value.trim());
  const host = m?.[1] ?? m?.[2];
  const port = Number(m?.[3]);
  if (m === null || host === undefined || !(port >= 0 && port <= 65535)) {
    errors.push(`${what}: expected HOST:PORT, got '${value}'`);
    return null;
  }
  return { host, port };
}

function parseInt10(value: string, what: string, min: number, errors: string[]): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) {
    errors.push(`${what}: expected an integer >= ${min}, got '${value}'`);
    return min;
  }
  return n;
}

/** --cpu-affinity: 'off', 'auto' or a core list (whether those cores exist is checked at start). */
export function parseCpuAffinity(value: string, errors: string[]): CpuAffinitySetting {
  const v = value.trim().toLowerCase();
  if (v === 'off' || v === 'auto') return v;
  try {
    return parseCpuList(v);
  } catch (err) {
    errors.push(`cpu-affinity: expected 'off', 'auto' or core ids like 0,1 or 0-3: ${(err as Error).message}`);
    return 'off';
  }
}

export function isLoopback(host: string): boolean {
  if (host === 'localhost' || host === '::1') return true;
  return isIP(host) === 4 && host.startsWith('127.');
}

export function resolveSettings(
  flags: Record<string, string | boolean | undefined>,
  env: NodeJS.ProcessEnv,
): { settings: GatewaySettings; errors: string[] } {
  const errors: string[] = [];
  const get = (name: string): string | undefined => {
    const f = flags[name];
    if (typeof f === 'string') return f;
    if (f === true) return 'true';
    const e = env[envName(name)];
    return e === undefined || e === '' ? undefined : e;
  };

  const proxyListen = parseListen(get('proxy-listen') ?? '0.0.0.0:8000', 'proxy-listen', errors) ?? { host: '0.0.0.0', port: 8000 };
  const adminRaw = get('admin-listen') ?? '127.0.0.1:8001';
  const adminListen = adminRaw === 'off' ? null : parseListen(adminRaw, 'admin-listen', errors);
  const tokenRaw = get('admin-token');
  if (tokenRaw !== undefined && tokenRaw.trim().length < 8) {
    errors.push(`admin-token: must be at least 8 characters (and not blank)`);
  }
  const adminToken = tokenRaw === undefined || tokenRaw.trim() === '' ? null : tokenRaw;
  if (adminListen !== null && !isLoopback(adminListen.host) && adminToken === null) {
    errors.push(`admin-listen: ${adminListen.host} is not a loopback address; set --admin-token (or ${envName('admin-token')}) to expose the admin API`);
  }

  const workersRaw = get('workers') ?? 'auto';
  const workers = workersRaw === 'auto' ? availableParallelism() : parseInt10(workersRaw, 'workers', 1, errors);

  const trustedIps = (get('trusted-ips') ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  for (const t of trustedIps) {
    const addr = t.split('/')[0] ?? '';
    if (t.toUpperCase() !== 'NONE' && isIP(addr) === 0) errors.push(`trusted-ips: '${t}' is not an IP address or CIDR`);
  }

  const logLevel = (get('log-level') ?? 'info') as GatewaySettings['logLevel'];
  if (!['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'].includes(logLevel)) {
    errors.push(`log-level: unknown level '${logLevel}'`);
  }
  const recursiveRaw = get('real-ip-recursive');

  const settings: GatewaySettings = {
    configFile: get('config') ?? null,
    proxyListen,
    adminListen,
    adminToken,
    workers,
    trustedIps,
    realIpHeader: (get('real-ip-header') ?? 'X-Real-IP').toLowerCase(),
    realIpRecursive: recursiveRaw === 'true' || recursiveRaw === '1' || recursiveRaw === 'on',
    limits: {
      ...DEFAULT_LIMITS,
      maxHeaderCount: parseInt10(get('max-header-count') ?? String(DEFAULT_LIMITS.maxHeaderCount), 'max-header-count', 1, errors),
      maxHeaderBytes: parseInt10(get('max-header-bytes') ?? String(DEFAULT_LIMITS.maxHeaderBytes), 'max-header-bytes', 256, errors),
      maxUriLength: parseInt10(get('max-uri-length') ?? String(DEFAULT_LIMITS.maxUriLength), 'max-uri-length', 16, errors),
    },
    logLevel,
    drainTimeoutMs: parseInt10(get('drain-timeout') ?? '30000', 'drain-timeout', 0, errors),
    accessLog: ((v) => (v === undefined || v === 'off' ? null : v))(get('access-log')),
    cpuAffinity: parseCpuAffinity(get('cpu-affinity') ?? 'off', errors),
  };
  return { settings, errors };
}

/** Supervisor-only settings (not sent to workers): --watch-config, --audit-log. */
export function resolveSupervisorFlags(
  flags: Record<string, string | boolean | undefined>,
  env: NodeJS.ProcessEnv,
): { watchConfig: boolean; auditLog: string | null } {
  const get = (name: string): string | undefined => {
    const f = flags[name];
    if (typeof f === 'string') return f;
    if (f === true) return 'true';
    const e = env[envName(name)];
    return e === undefined || e === '' ? undefined : e;
  };
  const watch = (get('watch-config') ?? '').toLowerCase();
  return { watchConfig: ['true', '1', 'on', 'yes'].includes(watch), auditLog: get('audit-log') ?? null };
}
