/**
 * The plugin interface. A plugin is one folder under workers/plugins/<name>/ exporting a
 * PluginDefinition (like Kong's handler.lua + schema.lua). Plugins see only our own
 * RequestContext, never a uWS or undici object, so any listener (uWS, node:tls, node:http2)
 * can feed the same pipeline.
 *
 * Phases follow Kong (section 4.2 of the reference): rewrite (before routing, global
 * instances only), access, header_filter, body_filter, log. Within a phase, instances run
 * in descending Kong PRIORITY. Handlers are sync-first: return a value, or a Promise only
 * when the plugin really has to wait (a JWKS fetch, Redis), so an all-sync chain costs no
 * promise hop.
 */
import type { RecordSchema } from '../../src/config/schema-dsl.js';
import type { RateLimitTable } from '../../src/shared/shm/rate-limit-table.js';
import type { ConsumerIndex } from '../auth/consumer-index.js';
import type { RequestContext } from '../http/request-context.js';

/** Stop the chain and answer locally (Kong's kong.response.exit / kong.response.error). */
export interface LocalReply {
  readonly status: number;
  /**
   * Exact body bytes. When `message` is given instead, the body is Kong's error document
   * rendered for the request's Accept header ({"message": ..., "request_id": ...} as JSON).
   */
  readonly body?: string | Buffer;
  readonly message?: string;
  /** Content-Type of `body`; defaults to application/json; charset=utf-8. */
  readonly contentType?: string;
  /** Extra response headers, e.g. WWW-Authenticate, Retry-After. Names lowercase. */
  readonly headers?: ReadonlyArray<readonly [string, string]>;
}

/** `undefined` continues the chain (Kong: falling off the end of access()). Never throw. */
export type Verdict = LocalReply | undefined;

export type MaybePromise<T> = T | Promise<T>;

export interface PluginHandler {
  /** Before routing. Runs for global instances only (Kong rewrite): ctx.route is not set. */
  rewrite?(ctx: RequestContext): MaybePromise<Verdict>;
  /** After routing, before the upstream request (Kong access). */
  access?(ctx: RequestContext): MaybePromise<Verdict>;
  /**
   * Response status and headers are known (from upstream or a local reply) and may be
   * edited in ctx.response. Cannot stop the response (Kong header_filter).
   */
  headerFilter?(ctx: RequestContext): void;
  /**
   * One response body chunk; returns the chunk to send (possibly replaced, or an empty
   * buffer to hold it back). `last` is true once, with the final chunk (possibly empty).
   */
  bodyFilter?(ctx: RequestContext, chunk: Buffer, last: boolean): Buffer;
  /** After the response is sent (Kong log). Must not throw; must not block. */
  log?(ctx: RequestContext): void;
}

/** What a plugin gets at create() time: per worker, per config generation. */
export interface PluginEnv {
  readonly workerId: number;
  /** Structured logger scoped to the plugin instance (pino child). */
  readonly log: {
    info(obj: object, msg?: string): void;
    warn(obj: object, msg?: string): void;
    error(obj: object, msg?: string): void;
  };
  /** Consumers and credentials of this config generation, indexed for lookups. */
  readonly consumers: ConsumerIndex;
  /**
   * The node's rate-limit counters: one SharedArrayBuffer table created by the supervisor
   * at start, shared by every worker, kept across config reloads and worker restarts.
   * Always set by the worker; absent only where a plugin is created outside one (tests).
   */
  readonly rateLimitTable?: RateLimitTable;
  /** The plugin instance this env was made for (Kong's conf.route_id / service_id / consumer_id). */
  readonly instance?: PluginInstance;
}

/** Identity and scope of one plugin instance (ids, null when unscoped). */
export interface PluginInstance {
  readonly id: string;
  readonly route: string | null;
  readonly service: string | null;
  readonly consumer: string | null;
}

/** What the worker provides per plugin instance; the generation adds the rest. */
export type PluginBaseEnv = Omit<PluginEnv, 'consumers'>;

export interface PluginDefinition<C = Record<string, unknown>> {
  /** Config key, e.g. 'request-termination'. */
  readonly name: string;
  /** Kong's PRIORITY: higher runs first in request phases. */
  readonly priority: number;
  /** Validates and normalises `config` at load time (the plugin's schema.lua). */
  readonly schema: RecordSchema<C>;
  /** Kong's typedefs.no_consumer / no_route / no_service: the scope is refused at load. */
  readonly noConsumer?: boolean;
  readonly noRoute?: boolean;
  readonly noService?: boolean;
  /** Protocols the plugin supports (Kong's `protocols` default); http and https by default. */
  readonly protocols?: readonly string[];
  /** Once per worker per config generation: precompute everything here. */
  create(config: C, env: PluginEnv): PluginHandler;
}
