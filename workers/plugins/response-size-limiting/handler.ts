/**
 * response-size-limiting: caps the size of upstream response bodies, enforced while they
 * stream, with nothing buffered (the third-party Optum plugin checks Content-Length only).
 *
 * - A Content-Length over the limit (or none, with require_content_length): the header
 *   filter replaces the response with 502 "Response size limit exceeded" before anything
 *   of the upstream's reaches the client, and the upstream request is dropped.
 * - Any other body is counted as it streams (ctx.bytesOut: the upstream's body bytes, as
 *   received, before any other plugin's filter) and the moment it crosses the limit the
 *   client connection is cut: the client sees a broken response, never a clean short
 *   one. The chunk that crosses the limit is not forwarded.
 *
 * HEAD requests and 204/304 answers carry no body and are never refused.
 */
import type { RequestContext } from '../../http/request-context.js';
import type { LocalReply, PluginEnv, PluginHandler } from '../../pipeline/types.js';
import { UNIT_BYTES, type ResponseSizeLimitingConfig } from './schema.js';

export const TOO_LARGE: LocalReply = Object.freeze({ status: 502, message: 'Response size limit exceeded' });
export const LENGTH_REQUIRED: LocalReply = Object.freeze({ status: 502, message: 'Upstream response has no Content-Length' });
const EMPTY = Buffer.alloc(0);

export function allowedBytes(conf: ResponseSizeLimitingConfig): number {
  return conf.allowed_payload_size * UNIT_BYTES[conf.size_unit];
}

/**
 * The upstream's Content-Length as the runloop reports it in ctx.response.contentLength
 * (-1: the body is chunked or delimited by the connection), or undefined while the runloop
 * does not report it (see README): the body is then counted as it streams.
 */
function upstreamContentLength(ctx: RequestContext): number | undefined {
  return ctx.response?.contentLength;
}

export function createResponseSizeLimiting(conf: ResponseSizeLimitingConfig, env?: PluginEnv): PluginHandler {
  const limit = allowedBytes(conf);
  const requireContentLength = conf.require_content_length;
  const log = env?.log;
  return {
    headerFilter(ctx: RequestContext): void {
      const r = ctx.response;
      if (r === null || r.source !== 'upstream') return;
      if (ctx.method === 'HEAD' || r.status === 204 || r.status === 304 || r.status < 200) return;
      const length = upstreamContentLength(ctx);
      if (length === undefined) return;
      if (length > limit) {
        log?.warn({ requestId: ctx.id, limit, contentLength: length }, 'response-size-limiting: upstream Content-Length over the limit; answered 502');
        ctx.responseAbort = TOO_LARGE;
      } else if (length < 0 && requireContentLength) {
        log?.warn({ requestId: ctx.id }, 'response-size-limiting: upstream response without Content-Length; answered 502');
        ctx.responseAbort = LENGTH_REQUIRED;
      }
    },

    bodyFilter(ctx: RequestContext, chunk: Buffer): Buffer {
      if (ctx.bytesOut <= limit) return chunk;
      if (ctx.responseAbort === null) {
        log?.warn({ requestId: ctx.id, limit, received: ctx.bytesOut }, 'response-size-limiting: upstream body crossed the limit while streaming; response stopped (502 if none of it was sent, else the connection is cut)');
        ctx.responseAbort = TOO_LARGE;
      }
      return EMPTY;
    },
  };
}
