/**
 * request-termination (Kong PRIORITY 2): answers the request itself with a fixed status
 * and message or body, optionally only when a trigger header or query argument is present,
 * or echoes the request back as JSON (debugging a route without an upstream).
 * Behaviour and bodies follow kong/plugins/request-termination/handler.lua.
 */
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import type { RequestContext } from '../../http/request-context.js';
import { BodyTooLargeError } from '../../http/request-context.js';
import type { LocalReply, MaybePromise, PluginHandler, Verdict } from '../../pipeline/types.js';
import type { RequestTerminationConfig } from './schema.js';
import { parseQuery } from '../../http/query.js';

/** Kong's request-termination defaults when no message is configured. */
const DEFAULT_MESSAGES: Record<number, string> = {
  401: 'Unauthorized',
  404: 'Not found',
  405: 'Method not allowed',
  500: 'An unexpected error occurred',
  502: 'Bad Gateway',
  503: 'Service unavailable',
};

/** Echo includes the raw body up to this size (Kong: client_body_buffer_size). */
const ECHO_BODY_LIMIT = 1024 * 1024;
const NODE_ID = randomUUID();
const HOSTNAME = hostname();
const JSON_TYPE = 'application/json; charset=utf-8';

function hasTrigger(ctx: RequestContext, trigger: string): boolean {
  if (ctx.headers[trigger.toLowerCase()] !== undefined) return true;
  if (ctx.query === '') return false;
  return Object.prototype.hasOwnProperty.call(parseQuery(ctx.query), trigger);
}

function requestHeaders(ctx: RequestContext): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const name in ctx.headers) {
    const v = ctx.headers[name]!;
    out[name] = ctx.isRepeated(name) && name !== 'cookie' ? v.split(', ') : v;
  }
  return out;
}

function parsedBody(ctx: RequestContext, raw: Buffer | null): unknown {
  if (raw === null || raw.length === 0) return null;
  const type = (ctx.headers['content-type'] ?? '').toLowerCase();
  try {
    if (type.includes('application/json')) return JSON.parse(raw.toString('utf8'));
    if (type.includes('application/x-www-form-urlencoded')) return parseQuery(raw.toString('utf8'));
  } catch {
    return null;
  }
  return null;
}

export function createRequestTermination(conf: RequestTerminationConfig): PluginHandler {
  const status = conf.status_code;
  const message = conf.message ?? DEFAULT_MESSAGES[status];
  // Precompute the fixed reply once per config (the common, non-echo case).
  let fixed: LocalReply;
  if (conf.body != null) {
    fixed = { status, body: conf.body, contentType: conf.content_type ?? JSON_TYPE };
  } else {
    // Kong: exit(status, message and { message = message } or nil): no message, no body.
    fixed = message === undefined ? { status, body: '' } : { status, body: JSON.stringify({ message }), contentType: JSON_TYPE };
  }

  const echo = (ctx: RequestContext): Promise<Verdict> =>
    ctx.readBody(ECHO_BODY_LIMIT).then(
      (raw) => ({
        status,
        contentType: JSON_TYPE,
        body: JSON.stringify({
          // Kong's cjson leaves a nil message out of the document.
          ...(message !== undefined ? { message } : {}),
          kong: { node_id: NODE_ID, worker_pid: process.pid, hostname: HOSTNAME },
          request: {
            scheme: ctx.scheme,
            host: ctx.host,
            port: ctx.port,
            headers: requestHeaders(ctx),
            query: ctx.query === '' ? {} : parseQuery(ctx.query),
            body: parsedBody(ctx, raw),
            raw_body: raw === null ? null : raw.toString('utf8'),
            method: ctx.method,
            // kong.request.get_path(): the normalised path the router matched.
            path: ctx.path,
          },
          matched_route: ctx.route,
          matched_service: ctx.service,
        }),
      }),
      (err: unknown) => {
        if (err instanceof BodyTooLargeError) return { status: 413, message: 'Request size limit exceeded' };
        throw err;
      },
    );

  return {
    access(ctx: RequestContext): MaybePromise<Verdict> {
      if (conf.trigger != null && !hasTrigger(ctx, conf.trigger)) return undefined;
      if (conf.echo) return echo(ctx);
      return fixed;
    },
  };
}
