/**
 * rate-limiting config (kong/plugins/rate-limiting/schema.lua, Kong 3.x, with the shared
 * redis record of kong/tools/redis/schema.lua and the deprecated flat redis_* fields that
 * Kong 3.6+ still accepts), plus one field of ours: `window_type`.
 */
import { boolean, integer, number, record, string, type CheckFailure, type Infer } from '../../../src/config/schema-dsl.js';
import { checkHeaderName, checkHost, checkServicePath, checkWildcardHost } from '../../../src/config/validators.js';
import { PERIODS } from './windows.js';

/** Kong's SYNC_RATE_REALTIME: every decision goes to Redis. */
export const SYNC_RATE_REALTIME = -1;

export const CLUSTER_REFUSED =
  "policy 'cluster' stores counters in Kong's database, and this gateway is DB-less (Kong refuses it with database=off too): " +
  "use 'local' (counters shared by this node's workers) or 'redis' (shared by every node)";

const limit = (period: string) => number({ gt: 0, description: `Requests allowed per ${period}.` });
const checkSni = (v: string): string | undefined => checkWildcardHost(v) ?? (v.includes('*') ? 'must not be a wildcard' : undefined);
const PORT: readonly [number, number] = [0, 65535];
const TIMEOUT: readonly [number, number] = [0, 2 ** 31 - 2];

const redisRecord = record(
  {
    host: string({ check: checkHost }),
    port: integer({ default: 6379, between: PORT }),
    timeout: integer({ default: 2000, between: TIMEOUT, description: 'Connect and command timeout, ms.' }),
    username: string({ referenceable: true }),
    password: string({ referenceable: true, len_min: 0 }),
    database: integer({ default: 0 }),
    ssl: boolean({ default: false }),
    ssl_verify: boolean({ default: false }),
    server_name: string({ check: checkSni }),
  },
  { required: true },
);

/** Kong <= 3.5 field names, still accepted by Kong 3.6+ (deprecated), mapped onto `redis`. */
export const DEPRECATED_REDIS_FIELDS = {
  redis_host: 'host',
  redis_port: 'port',
  redis_password: 'password',
  redis_username: 'username',
  redis_ssl: 'ssl',
  redis_ssl_verify: 'ssl_verify',
  redis_server_name: 'server_name',
  redis_timeout: 'timeout',
  redis_database: 'database',
} as const;

export const schema = record(
  {
    second: limit('second'),
    minute: limit('minute'),
    hour: limit('hour'),
    day: limit('day'),
    month: limit('month'),
    year: limit('year'),
    limit_by: string({ default: 'consumer', one_of: ['consumer', 'credential', 'ip', 'service', 'header', 'path'] }),
    header_name: string({ check: checkHeaderName }),
    path: string({ check: checkServicePath }),
    policy: string({ default: 'local', one_of: ['local', 'cluster', 'redis'], check: (v) => (v === 'cluster' ? CLUSTER_REFUSED : undefined) }),
    fault_tolerant: boolean({ default: true }),
    redis: redisRecord,
    hide_client_headers: boolean({ default: false }),
    error_code: number({
      default: 429,
      gt: 0,
      check: (v) => (Number.isInteger(v) && v >= 100 && v <= 599 ? undefined : 'must be an HTTP status code (an integer from 100 to 599)'),
    }),
    error_message: string({ default: 'API rate limit exceeded' }),
    sync_rate: number({ default: SYNC_RATE_REALTIME }),
    /** Ours: 'sliding' weighs the previous window's count (README.md). */
    window_type: string({ default: 'fixed', one_of: ['fixed', 'sliding'] }),
    redis_host: string({ check: checkHost }),
    redis_port: integer({ between: PORT }),
    redis_password: string({ referenceable: true, len_min: 0 }),
    redis_username: string({ referenceable: true }),
    redis_ssl: boolean(),
    redis_ssl_verify: boolean(),
    redis_server_name: string({ check: checkSni }),
    redis_timeout: integer({ between: TIMEOUT }),
    redis_database: integer(),
  },
  {
    checks: [
      { at_least_one_of: PERIODS },
      {
        custom: (c): CheckFailure[] => {
          const out: CheckFailure[] = [];
          // Kong's validate_periods_order, with its message.
          for (let i = 0; i < PERIODS.length; i++) {
            const lower = c[PERIODS[i]!];
            if (lower === null) continue;
            for (let j = i + 1; j < PERIODS.length; j++) {
              const upper = c[PERIODS[j]!];
              if (upper !== null && upper < lower) {
                out.push({ message: `The limit for ${PERIODS[j]}(${upper.toFixed(1)}) cannot be lower than the limit for ${PERIODS[i]}(${lower.toFixed(1)})` });
                return out;
              }
            }
          }
          if (c.policy !== 'redis' && c.sync_rate !== SYNC_RATE_REALTIME) {
            out.push({ field: 'sync_rate', message: 'sync_rate can only be used with the redis policy' });
          }
          if (c.policy === 'redis' && c.sync_rate !== SYNC_RATE_REALTIME && c.sync_rate < 0.02) {
            out.push({ field: 'sync_rate', message: 'sync_rate must be greater than 0.02, or -1 to disable' });
          }
          for (const [flat, field] of Object.entries(DEPRECATED_REDIS_FIELDS)) {
            const old = c[flat as keyof typeof DEPRECATED_REDIS_FIELDS];
            const cur = c.redis[field];
            const isDefault = (field === 'port' && cur === 6379) || (field === 'timeout' && cur === 2000) || (field === 'database' && cur === 0) ||
              ((field === 'ssl' || field === 'ssl_verify') && cur === false);
            if (old !== null && cur !== null && old !== cur && !isDefault) {
              out.push({ field: flat, message: `deprecated field (use redis.${field}); it conflicts with redis.${field}` });
            }
          }
          if (c.policy === 'redis' && c.redis.host === null && c.redis_host === null) {
            out.push({ field: ['redis', 'host'], message: "required field missing (policy is 'redis')" });
          }
          if (c.limit_by === 'header' && c.header_name === null) {
            out.push({ field: 'header_name', message: "required field missing (limit_by is 'header')" });
          }
          if (c.limit_by === 'path' && c.path === null) {
            out.push({ field: 'path', message: "required field missing (limit_by is 'path')" });
          }
          return out;
        },
      },
    ],
  },
);

export type RateLimitingConfig = Infer<typeof schema>;

export interface RedisSettings {
  host: string;
  port: number;
  timeout: number;
  username: string | null;
  password: string | null;
  database: number;
  ssl: boolean;
  ssl_verify: boolean;
  server_name: string | null;
}

/** The effective redis settings: `redis.*`, or the deprecated `redis_*` field where given. */
export function redisSettings(c: RateLimitingConfig): RedisSettings {
  return {
    host: c.redis_host ?? c.redis.host ?? '127.0.0.1',
    port: c.redis_port ?? c.redis.port,
    timeout: c.redis_timeout ?? c.redis.timeout,
    username: c.redis_username ?? c.redis.username,
    password: c.redis_password ?? c.redis.password,
    database: c.redis_database ?? c.redis.database,
    ssl: c.redis_ssl ?? c.redis.ssl,
    ssl_verify: c.redis_ssl_verify ?? c.redis.ssl_verify,
    server_name: c.redis_server_name ?? c.redis.server_name,
  };
}
