/**
 * injection-protection (Kong Enterprise, PRIORITY 1007): looks for injection payloads in the
 * locations configured, with RE2 rules compiled once per config generation (matcher.ts,
 * patterns.ts), over values decoded the way the upstream will read them (scan.ts, media.ts).
 *
 * Order, as in Kong: path and query, then headers, then the body; within a value, custom
 * injections before the built-in types. The first finding decides:
 * - block: the request is refused with `error_status_code` and `error_message` (Kong's
 *   error document, {"message": ...}) and a warning is logged;
 * - log_only: a warning is logged and the request goes on (one line per location that has a
 *   finding, so a body finding is not hidden by a query finding).
 * The log line names the injection, the rule, the location and the field (segment number,
 * argument, header or JSON path, at most 64 characters), never the value: a custom rule may
 * match a secret and a payload may be personal data. Kong logs the matched text.
 *
 * The body (location `body`, inspectable kinds only: media.ts) is checked whole, once it has
 * been received, up to BODY_INSPECTION_LIMIT bytes (after decompression):
 * - block: read with ctx.readBody before anything goes upstream. Over the limit (announced by
 *   Content-Length, reached while a chunked body arrives, or reached by decompression) the
 *   request is refused with 413 "Request body too large to inspect"; a body that cannot be
 *   decoded (unknown Content-Encoding or charset, corrupt compression) is refused like an
 *   injection. Nothing unchecked reaches the upstream. Kong answers 500 to a body larger
 *   than its client_body_buffer_size (8 KiB by default).
 * - log_only: a streaming inspector copies the body as it goes upstream (no added latency)
 *   and checks it at its end; a body over the limit or undecodable is logged as not
 *   inspected.
 */
import { BodyTooLargeError, type RequestContext } from '../../http/request-context.js';
import type { BodyInspector } from '../../http/body-inspection.js';
import type { LocalReply, MaybePromise, PluginEnv, PluginHandler, Verdict } from '../../pipeline/types.js';
import { InjectionMatcher } from './matcher.js';
import { BodyTooLargeToInspect, BodyUndecodable, decodeContent, mediaTypeOf, type MediaType } from './media.js';
import type { InjectionType } from './patterns.js';
import { bodyView, findInBody, findInHeaders, findInPath, findInQuery, type Finding, type Location } from './scan.js';
import type { InjectionProtectionConfig } from './schema.js';

/** Largest body checked (after decompression): 1 MiB. Matching is linear, JSON.parse is not free. */
export const BODY_INSPECTION_LIMIT = 1024 * 1024;

export const TOO_LARGE_MESSAGE = 'Request body too large to inspect';
const TOO_LARGE: LocalReply = Object.freeze({ status: 413, message: TOO_LARGE_MESSAGE });

type Log = PluginEnv['log'];

const EMPTY = Buffer.alloc(0);

class Policy {
  readonly matcher: InjectionMatcher;
  readonly reply: LocalReply;
  readonly logOnly: boolean;
  readonly action: 'block' | 'log_only';
  readonly path: boolean;
  readonly query: boolean;
  readonly headers: boolean;
  readonly body: boolean;

  constructor(
    conf: InjectionProtectionConfig,
    readonly log: Log,
  ) {
    this.matcher = new InjectionMatcher(conf.injection_types as InjectionType[], conf.custom_injections ?? []);
    this.reply = Object.freeze({ status: conf.error_status_code, message: conf.error_message });
    this.logOnly = conf.enforcement_mode === 'log_only';
    this.action = this.logOnly ? 'log_only' : 'block';
    const at = new Set<string>(conf.locations);
    this.path = at.has('path') || at.has('path_and_query');
    this.query = at.has('query') || at.has('path_and_query');
    this.headers = at.has('headers');
    this.body = at.has('body');
  }

  /** The worker's logger for this instance already carries `plugin: 'injection-protection'`. */
  report(ctx: RequestContext, f: Finding): void {
    const rule = this.matcher.rules[f.ruleIndex]!;
    this.log.warn(
      {
        requestId: ctx.id,
        injection: rule.injection,
        rule: rule.rule,
        custom: rule.custom,
        location: f.location,
        field: f.field,
        part: f.part,
        action: this.action,
      },
      `threat detected: '${rule.injection}', action taken: ${this.action}, found in ${f.location}`,
    );
  }

  /** Logs a finding; true when the request must be refused (block mode). */
  refuses(ctx: RequestContext, f: Finding | null): boolean {
    if (f === null) return false;
    this.report(ctx, f);
    return !this.logOnly;
  }

  notInspected(ctx: RequestContext, reason: string): void {
    this.log.warn(
      { requestId: ctx.id, location: 'body' satisfies Location, reason, action: this.action },
      `request body not inspected: ${reason}`,
    );
  }

  /** Checks a complete body; returns the verdict (block mode) after logging. */
  checkBody(ctx: RequestContext, raw: Buffer, media: MediaType): Verdict {
    let f: Finding | null;
    try {
      f = findInBody(this.matcher, bodyView(decodeContent(raw, ctx.headers['content-encoding'], BODY_INSPECTION_LIMIT), media));
    } catch (err) {
      if (err instanceof BodyTooLargeToInspect) {
        this.notInspected(ctx, err.message);
        return this.logOnly ? undefined : TOO_LARGE;
      }
      this.notInspected(ctx, err instanceof BodyUndecodable ? err.message : 'body could not be decoded');
      return this.logOnly ? undefined : this.reply;
    }
    if (f === null) return undefined;
    this.report(ctx, f);
    return this.logOnly ? undefined : this.reply;
  }
}

/** log_only: keeps a copy of the body as it streams upstream, checks it at the end, never stops it. */
class LoggingBodyInspector implements BodyInspector {
  private chunks: Buffer[] | null = [];
  private size = 0;

  constructor(
    private readonly policy: Policy,
    private readonly ctx: RequestContext,
    private readonly media: MediaType,
  ) {}

  chunk(data: Buffer): Verdict {
    const chunks = this.chunks;
    if (chunks === null) return undefined;
    this.size += data.length;
    if (this.size > BODY_INSPECTION_LIMIT) {
      this.chunks = null;
      this.policy.notInspected(this.ctx, `body over ${BODY_INSPECTION_LIMIT} bytes`);
      return undefined;
    }
    chunks.push(data);
    return undefined;
  }

  end(): Verdict {
    const chunks = this.chunks;
    if (chunks === null) return undefined;
    this.chunks = null;
    const body = chunks.length === 0 ? EMPTY : chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, this.size);
    try {
      this.policy.checkBody(this.ctx, body, this.media);
    } catch {
      // An inspector must never throw; checkBody does not, this is the last guard.
    }
    return undefined;
  }
}

function hasBody(ctx: RequestContext): boolean {
  if (ctx.body !== null) return ctx.body.length > 0;
  return ctx.downstream !== null && ctx.downstream.hasBody;
}

export function createInjectionProtection(conf: InjectionProtectionConfig, env: PluginEnv): PluginHandler {
  const policy = new Policy(conf, env.log);

  function checkRequestBody(ctx: RequestContext, media: MediaType): MaybePromise<Verdict> {
    if (policy.logOnly) return ctx.inspectRequestBody(new LoggingBodyInspector(policy, ctx, media));
    const announced = ctx.body === null && ctx.downstream !== null ? ctx.downstream.contentLength : -1;
    if (announced > BODY_INSPECTION_LIMIT) {
      policy.notInspected(ctx, `body over ${BODY_INSPECTION_LIMIT} bytes`);
      return TOO_LARGE;
    }
    return ctx.readBody(BODY_INSPECTION_LIMIT).then(
      (raw) => {
        if (raw === null) {
          policy.notInspected(ctx, `body over ${BODY_INSPECTION_LIMIT} bytes`);
          return TOO_LARGE;
        }
        return policy.checkBody(ctx, raw, media);
      },
      (err: unknown) => {
        // A chunked body outgrew the limit: partly consumed, it can no longer be proxied.
        if (err instanceof BodyTooLargeError) {
          policy.notInspected(ctx, `body over ${BODY_INSPECTION_LIMIT} bytes`);
          return TOO_LARGE;
        }
        throw err;
      },
    );
  }

  // No rule at all (injection_types: [] and no custom injection): nothing to look for, and
  // no reason to read a body.
  if (policy.matcher.rules.length === 0) return {};

  return {
    access(ctx: RequestContext): MaybePromise<Verdict> {
      const m = policy.matcher;
      if (policy.path && policy.refuses(ctx, findInPath(m, ctx.rawPath))) return policy.reply;
      if (policy.query && ctx.query !== '' && policy.refuses(ctx, findInQuery(m, ctx.query))) return policy.reply;
      if (policy.headers && policy.refuses(ctx, findInHeaders(m, ctx.headers))) return policy.reply;
      if (!policy.body || !hasBody(ctx)) return undefined;
      const media = mediaTypeOf(ctx.headers['content-type']);
      if (media.kind === 'skip') return undefined;
      return checkRequestBody(ctx, media);
    },
  };
}
