/**
 * validate_response_body: JSON responses of the upstream checked against the operation's
 * response schema (status code, then its class such as 2XX, then default; media type as
 * for requests). Only when the plugin is configured so: otherwise the plugin has no
 * header or body filter at all.
 *
 * The response is held back until complete, then validated. Kong answers a failing one
 * with 406 "response body doesn't conform to schema"; here the response head has already
 * gone out when the body arrives (body filters run after it), so a failing response is cut
 * (the client sees a broken response, never a clean invalid one) and logged. With
 * notify_only_response_body_validation_failure it is sent and logged. Compressed responses
 * (Content-Encoding) and bodies over max_request_body_size pass unvalidated.
 */
import type { RequestContext } from '../../http/request-context.js';
import type { PluginEnv } from '../../pipeline/types.js';
import { checkJsonBody } from './body-check.js';
import { isJsonType, mediaType, pickMedia, type OperationRuntime } from './operation.js';
import { errorsText } from './replies.js';
import type { ValidatorSet } from './spec-runtime.js';

export const RESPONSE_MESSAGE = "response body doesn't conform to schema";

const EMPTY = Buffer.alloc(0);

interface Held {
  name: string;
  op: OperationRuntime;
  chunks: Buffer[];
  size: number;
  /** Over the size cap: everything passes from then on. */
  passing: boolean;
}

export class ResponseChecker {
  /** The operation of each request in flight (set in access). */
  private readonly ops = new WeakMap<RequestContext, OperationRuntime>();
  private readonly held = new WeakMap<RequestContext, Held>();

  constructor(
    private readonly validators: ValidatorSet,
    private readonly log: PluginEnv['log'],
    private readonly notifyOnly: boolean,
    private readonly maxBytes: number,
  ) {}

  track(ctx: RequestContext, op: OperationRuntime): void {
    this.ops.set(ctx, op);
  }

  headerFilter(ctx: RequestContext): void {
    const op = this.ops.get(ctx);
    const res = ctx.response;
    if (op === undefined || res === null || res.source !== 'upstream') return;
    const list = op.responseMedia(res.status);
    if (list === null) return;
    const encoding = res.headers['content-encoding'];
    if (encoding !== undefined && String(encoding).toLowerCase() !== 'identity') return;
    const ct = res.headers['content-type'];
    const type = mediaType(Array.isArray(ct) ? ct[0] : ct);
    if (!isJsonType(type)) return;
    const media = pickMedia(list, type);
    if (media === null || media.plan.v === null) return;
    this.held.set(ctx, { name: media.plan.v, op, chunks: [], size: 0, passing: false });
  }

  bodyFilter(ctx: RequestContext, chunk: Buffer, last: boolean): Buffer {
    const h = this.held.get(ctx);
    if (h === undefined || h.passing) return chunk;
    if (chunk.length > 0) {
      h.chunks.push(chunk);
      h.size += chunk.length;
    }
    if (h.size > this.maxBytes) {
      h.passing = true;
      this.log.warn({ request_id: ctx.id, operation: label(h.op), bytes: h.size }, 'response body larger than max_request_body_size: not validated');
      return release(h);
    }
    if (!last) return EMPTY;
    this.held.delete(ctx);
    const body = release(h);
    const outcome = checkJsonBody(body, this.validators.get(h.name));
    if (outcome === null) return body;
    const error = outcome.kind === 'json' ? outcome.detail : errorsText(outcome.errors);
    const base = { request_id: ctx.id, operation: label(h.op), status: ctx.response?.status, error };
    if (this.notifyOnly) {
      this.log.warn(base, 'upstream response does not conform to the OpenAPI spec (notify only: sent)');
      return body;
    }
    this.log.warn(base, 'upstream response does not conform to the OpenAPI spec: replaced with 406');
    ctx.responseAbort = { status: 406, message: RESPONSE_MESSAGE };
    return EMPTY;
  }

}

/** What was held back, as one buffer. */
function release(h: Held): Buffer {
  const body = h.chunks.length === 1 ? h.chunks[0]! : Buffer.concat(h.chunks, h.size);
  h.chunks = [];
  return body;
}

function label(op: OperationRuntime): string {
  return `${op.method.toUpperCase()} ${op.template}`;
}
