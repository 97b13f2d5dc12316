/**
 * request-size-limiting (Kong PRIORITY 951): refuses request bodies larger than the
 * configured size, as kong/plugins/request-size-limiting/handler.lua does, but without
 * reading the body to find out:
 * - Content-Length over the limit: 413 "Request size limit exceeded" (417 when the client
 *   sent Expect: 100-continue), before any byte of the body is read or proxied;
 * - no Content-Length, not chunked, and require_content_length: 411;
 * - a chunked body: the limit is handed to the listener (ctx.limitRequestBody), which
 *   counts bytes as they stream to the upstream and answers 413 the moment the limit is
 *   crossed, aborting the upstream request. Kong reads the whole body (memory or a temp
 *   file) before checking it.
 */
import type { RequestContext } from '../../http/request-context.js';
import type { LocalReply, PluginHandler, Verdict } from '../../pipeline/types.js';
import { UNIT_BYTES, type RequestSizeLimitingConfig } from './schema.js';

const MESSAGE = 'Request size limit exceeded';
const TOO_LARGE: LocalReply = Object.freeze({ status: 413, message: MESSAGE });
const EXPECTATION_FAILED: LocalReply = Object.freeze({ status: 417, message: MESSAGE });
const LENGTH_REQUIRED: LocalReply = Object.freeze({ status: 411, message: 'A valid Content-Length header is required' });

/** The allowed size in bytes (Kong: allowed_payload_size * unit factor). */
export function allowedBytes(conf: RequestSizeLimitingConfig): number {
  return conf.allowed_payload_size * UNIT_BYTES[conf.size_unit];
}

function tooLarge(ctx: RequestContext): LocalReply {
  const expect = ctx.headers['expect'];
  return expect !== undefined && expect.trim().toLowerCase() === '100-continue' ? EXPECTATION_FAILED : TOO_LARGE;
}

const DIGITS = /^[0-9]+$/;

export function createRequestSizeLimiting(conf: RequestSizeLimitingConfig): PluginHandler {
  const limit = allowedBytes(conf);
  const requireContentLength = conf.require_content_length;
  return {
    access(ctx: RequestContext): Verdict {
      const ds = ctx.downstream;
      let length: number;
      let chunked: boolean;
      if (ds !== null) {
        // The listener parsed and checked the framing (one Content-Length of digits, or chunked).
        length = ds.contentLength;
        chunked = length < 0 && ds.hasBody;
      } else {
        const cl = ctx.headers['content-length'];
        length = cl !== undefined && DIGITS.test(cl) ? Number(cl) : -1;
        chunked = length < 0 && ctx.headers['transfer-encoding']?.toLowerCase() === 'chunked';
      }
      if (length >= 0) return length > limit ? tooLarge(ctx) : undefined;
      // Neither Content-Length nor chunked: there is no body.
      if (!chunked) return requireContentLength ? LENGTH_REQUIRED : undefined;
      // A plugin before us buffered the chunked body already: Kong's get_raw_body check.
      const body = ctx.body;
      if (body !== null) return body.length > limit ? tooLarge(ctx) : undefined;
      ctx.limitRequestBody(limit);
      return undefined;
    },
  };
}
