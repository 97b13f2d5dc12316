/**
 * oas-validation (Kong PRIORITY 850): checks each request against an OpenAPI 3.0/3.1 spec
 * before it is proxied: the path and method must be an operation of the spec, its path,
 * query, header and cookie parameters must match their schemas, and a JSON body must
 * match the schema of its media type. A failure answers 400 (Kong's messages, details
 * with verbose_response), or with notify_only_request_validation_failure is logged and
 * let through.
 *
 * create() does little: the spec was compiled at config load (schema.ts); here the path
 * trie is built, and each operation's plan and validators are evaluated on first use
 * (spec-runtime.ts), so a reload with a 5,000-path spec does not stall the worker.
 * JSON bodies from large_body_threshold on are checked in a pool thread (body-offload.ts).
 */
import type { QueryArgs } from '../../http/query.js';
import { BodyTooLargeError, type RequestContext } from '../../http/request-context.js';
import type { LocalReply, MaybePromise, PluginEnv, PluginHandler, Verdict } from '../../pipeline/types.js';
import { checkJsonBody, MAX_ERRORS, plainError, type BodyOutcome } from './body-check.js';
import { bodyOffload, type BodyOffload } from './body-offload.js';
import { isJsonType, mediaType, OperationRuntime, pickMedia, type MediaRuntime } from './operation.js';
import { cookieValue, headerValue, Malformed, parseCookies, pathValue, queryValue, strictNumberProblem } from './params.js';
import { NO_METHOD, PathMatcher } from './path-matcher.js';
import { COMPILED_FIELD, COMPILED_FORMAT, CompiledReader, normaliseBasePath, type CompiledSpec, type PathOperations, type Span, type SpecMeta } from './plan.js';
import { BODY_REQUIRED, errorsText, issueMessage, METHOD_NOT_ALLOWED, PATH_NOT_FOUND, REQUIRED_MISSING, replyFor, type Issue, type IssueKind } from './replies.js';
import { ResponseChecker } from './response-check.js';
import type { OasValidationConfig } from './schema.js';
import { ValidatorSet, type AjvError } from './spec-runtime.js';

const TOO_LARGE: LocalReply = Object.freeze({ status: 413, message: 'Request size limit exceeded' });
const NOT_FOUND_ISSUE: Issue = Object.freeze({ kind: 'route', name: null, detail: PATH_NOT_FOUND, errors: null });
const NOT_ALLOWED_ISSUE: Issue = Object.freeze({ kind: 'route', name: null, detail: METHOD_NOT_ALLOWED, errors: null });

const LOWER_METHODS: ReadonlyMap<string, string> = new Map(['GET', 'PUT', 'POST', 'DELETE', 'OPTIONS', 'HEAD', 'PATCH', 'TRACE'].map((m) => [m, m.toLowerCase()]));

function lowerMethod(m: string): string {
  return LOWER_METHODS.get(m) ?? m.toLowerCase();
}

export interface OasValidationDeps {
  /** The offload pool (tests give one with the built task module). */
  offload?: BodyOffload;
}

function issue(kind: IssueKind, name: string | null, detail: string, errors: AjvError[] | null = null): Issue {
  return { kind, name, detail, errors };
}

function schemaIssue(kind: IssueKind, name: string | null, errors: readonly AjvError[] | null | undefined): Issue {
  const list = (errors ?? []).slice(0, MAX_ERRORS).map(plainError);
  return issue(kind, name, list.length > 0 ? errorsText(list) : 'does not match the schema', list);
}

export function createOasValidation(conf: OasValidationConfig, env: PluginEnv, deps: OasValidationDeps = {}): PluginHandler {
  const compiled = conf[COMPILED_FIELD] as CompiledSpec | undefined;
  if (compiled === undefined || compiled.format !== COMPILED_FORMAT) {
    throw new Error('oas-validation: the config carries no compiled spec this version can use (it must be loaded by this gateway version)');
  }
  const offload = deps.offload ?? bodyOffload;
  const meta = JSON.parse(compiled.meta) as SpecMeta;
  const reader = new CompiledReader(compiled);
  const validators = new ValidatorSet((name) => reader.code(name));

  // Operation plans, decoded and parsed per path on first use.
  const pathOps: Array<PathOperations | null> = new Array<PathOperations | null>(compiled.paths.length).fill(null);
  const opsOf = (i: number): PathOperations => (pathOps[i] ??= JSON.parse(reader.ops(i)) as PathOperations);
  const matcher = new PathMatcher(compiled.paths, (i, m) => opsOf(i)[m as keyof PathOperations] !== undefined);
  // Per path, its operations as checked (built on first use).
  const runtimes: Array<Partial<Record<string, OperationRuntime>> | undefined> = new Array(compiled.paths.length);

  const bases = conf.include_base_path ? (conf.custom_base_path !== null ? [normaliseBasePath(conf.custom_base_path)] : meta.basePaths) : [''];
  const allowedHeaders = new Set(conf.allowed_header_parameters.split(',').map((h) => h.trim().toLowerCase()).filter((h) => h !== ''));
  for (const h of meta.apiKeys.header) allowedHeaders.add(h);
  const checkPath = conf.validate_request_uri_params;
  const checkQuery = conf.validate_request_query_params;
  const checkHeaders = conf.validate_request_header_params;
  const checkBody = conf.validate_request_body;
  const collectAll = conf.collect_all_errors;
  const notifyOnly = conf.notify_only_request_validation_failure;
  const threshold = conf.large_body_threshold;
  const maxBody = conf.max_request_body_size;
  const replyOptions = { verbose: conf.verbose_response, structured: conf.structured_errors, maxStructured: conf.max_structured_errors };

  function runtimeFor(index: number, method: string): OperationRuntime {
    const forPath = (runtimes[index] ??= {});
    return (forPath[method] ??= new OperationRuntime(opsOf(index)[method as keyof PathOperations]!, compiled!.paths[index]!, method, meta));
  }

  /** The operation of the request (its path values in matcher.values), or the route issue. */
  function locate(ctx: RequestContext): OperationRuntime | Issue {
    const method = lowerMethod(ctx.method);
    let methodMissing = false;
    for (let b = 0; b < bases.length; b++) {
      const base = bases[b]!;
      let rest = ctx.path;
      if (base !== '') {
        if (!rest.startsWith(base) || (rest.length > base.length && rest.charCodeAt(base.length) !== 0x2f)) continue;
        rest = rest.length === base.length ? '/' : rest.slice(base.length);
      }
      const m = matcher.match(rest, method);
      if (m >= 0) return runtimeFor(m, method);
      // HEAD is GET without the body (RFC 9110): a spec rarely lists it.
      if (m === NO_METHOD && method === 'head') {
        const g = matcher.match(rest, 'get');
        if (g >= 0) return runtimeFor(g, 'get');
      }
      if (m === NO_METHOD) methodMissing = true;
    }
    return methodMissing ? NOT_ALLOWED_ISSUE : NOT_FOUND_ISSUE;
  }

  /** The parameters' issues (null when none); `values` are the path variables' raw values. */
  function checkParams(ctx: RequestContext, op: OperationRuntime, values: readonly string[]): Issue[] | null {
    const params = op.plan.params;
    let issues: Issue[] | null = null;
    let args: QueryArgs | null = null;
    let cookies: Record<string, string> | null = null;
    for (let k = 0; k < params.length; k++) {
      const p = params[k]!;
      let value: unknown;
      switch (p.in) {
        case 'path':
          if (!checkPath) continue;
          value = pathValue(p, values[op.pathIndex[k]!] ?? '');
          break;
        case 'query':
          if (!checkQuery) continue;
          value = queryValue(p, (args ??= ctx.queryArgs()), op.declared, null);
          break;
        case 'header':
          if (!checkHeaders) continue;
          value = headerValue(p, ctx.headers[p.name]);
          break;
        default:
          if (!checkHeaders) continue;
          value = cookieValue(p, (cookies ??= parseCookies(ctx.headers.cookie)));
      }
      if (value === undefined) {
        if (p.required) (issues ??= []).push(issue(p.in, p.name, REQUIRED_MISSING));
      } else if (value instanceof Malformed) {
        (issues ??= []).push(issue(p.in, p.name, value.why));
      } else {
        const strict = strictNumberProblem(p, value);
        if (strict !== null) {
          (issues ??= []).push(schemaIssue(p.in, p.name, [strict]));
        } else if (p.v !== null) {
          const v = validators.get(p.v);
          if (!v(value)) (issues ??= []).push(schemaIssue(p.in, p.name, v.errors));
        }
      }
      if (issues !== null && !collectAll) return issues;
    }
    if (conf.query_parameter_check) {
      args ??= ctx.queryArgs();
      for (const name in args) {
        if (!op.unknownQuery(name)) continue;
        (issues ??= []).push(issue('query', name, 'query parameter not defined in the api specification'));
        if (!collectAll) return issues;
      }
    }
    if (conf.header_parameter_check) {
      for (const name in ctx.headers) {
        if (op.headerNames.has(name) || allowedHeaders.has(name)) continue;
        (issues ??= []).push(issue('header', name, 'header not defined in the api specification'));
        if (!collectAll) return issues;
      }
    }
    return issues;
  }

  /** The verdict for issues: a 400, or (notify only) a log line and nothing. */
  function fail(ctx: RequestContext, op: OperationRuntime | null, issues: readonly Issue[]): Verdict {
    if (notifyOnly) {
      env.log.warn(
        {
          request_id: ctx.id,
          method: ctx.method,
          operation: op === null ? null : `${op.method.toUpperCase()} ${op.template}`,
          failures: issues.map((i) => ({ in: i.kind, name: i.name, error: issueMessage(i) })),
        },
        'request does not conform to the OpenAPI spec (notify only: let through)',
      );
      return undefined;
    }
    return replyFor(issues, replyOptions);
  }

  function bodyVerdict(ctx: RequestContext, op: OperationRuntime, outcome: BodyOutcome): Verdict {
    if (outcome === null) return undefined;
    if (outcome.kind === 'json') return fail(ctx, op, [issue('body', null, outcome.detail)]);
    return fail(ctx, op, [schemaIssue('body', null, outcome.errors)]);
  }

  /** Which validators the offload thread needs for a media type: its own and everything it links to. */
  const closure = (media: MediaRuntime): Record<string, Span> => (media.closure ??= reader.closure(media.plan.v!));

  let offloadAnnounced = false;

  function judge(ctx: RequestContext, op: OperationRuntime, media: MediaRuntime, body: Buffer): MaybePromise<Verdict> {
    const name = media.plan.v!;
    if (threshold > 0 && body.length >= threshold && offload.available) {
      if (!offloadAnnounced) {
        offloadAnnounced = true;
        env.log.info({ large_body_threshold: threshold, bytes: body.length }, 'validating a large request body in the offload thread of this worker');
      }
      return offload.run(compiled!.digest, compiled!.blob, name, closure(media), body).then(
        (outcome) => bodyVerdict(ctx, op, outcome),
        // The pool could not take it (queue full, thread failure): the check still happens.
        () => bodyVerdict(ctx, op, checkJsonBody(body, validators.get(name))),
      );
    }
    return bodyVerdict(ctx, op, checkJsonBody(body, validators.get(name)));
  }

  function checkRequestBody(ctx: RequestContext, op: OperationRuntime): MaybePromise<Verdict> {
    const plan = op.plan.body;
    if (plan === null) return undefined;
    const buffered = ctx.body;
    const ds = ctx.downstream;
    const present = buffered !== null ? buffered.length > 0 : ds !== null && ds.hasBody;
    if (!present) return plan.required ? fail(ctx, op, [issue('body', null, BODY_REQUIRED)]) : undefined;
    const type = mediaType(ctx.headers['content-type']);
    const media = pickMedia(op.media, type);
    if (media === null) {
      return fail(ctx, op, [issue('body', null, type === '' ? 'a body without a content type is not allowed' : `content type '${type}' is not allowed`)]);
    }
    // Only JSON bodies are validated (as in Kong); other media types pass once allowed.
    if (media.plan.v === null || !isJsonType(type)) return undefined;
    if (buffered !== null) return judge(ctx, op, media, buffered);
    if (ds!.contentLength > maxBody) {
      if (!notifyOnly) return TOO_LARGE;
      env.log.warn({ request_id: ctx.id, operation: `${op.method.toUpperCase()} ${op.template}`, bytes: ds!.contentLength }, 'request body larger than max_request_body_size: not validated (notify only)');
      return undefined;
    }
    return ctx.readBody(maxBody).then(
      (body) => {
        if (body === null) return TOO_LARGE;
        if (body.length === 0) return plan.required ? fail(ctx, op, [issue('body', null, BODY_REQUIRED)]) : undefined;
        return judge(ctx, op, media, body);
      },
      (err: unknown) => {
        // A chunked body past the limit was partly consumed: it can be neither checked nor proxied.
        if (err instanceof BodyTooLargeError) return TOO_LARGE;
        throw err;
      },
    );
  }

  const access = (ctx: RequestContext): MaybePromise<Verdict> => {
    const op = locate(ctx);
    if (!(op instanceof OperationRuntime)) return fail(ctx, null, [op]);
    responses?.track(ctx, op);
    const issues = op.plan.params.length === 0 && !conf.query_parameter_check && !conf.header_parameter_check ? null : checkParams(ctx, op, matcher.values);
    if (issues !== null) {
      const verdict = fail(ctx, op, issues);
      if (verdict !== undefined) return verdict;
    }
    return checkBody ? checkRequestBody(ctx, op) : undefined;
  };

  // Response filters only when responses are validated: otherwise no per-response cost at all.
  const responses = conf.validate_response_body ? new ResponseChecker(validators, env.log, conf.notify_only_response_body_validation_failure, maxBody) : null;
  if (responses === null) return { access };
  return {
    access,
    headerFilter: (ctx) => responses.headerFilter(ctx),
    bodyFilter: (ctx, chunk, last) => responses.bodyFilter(ctx, chunk, last),
  };
}
