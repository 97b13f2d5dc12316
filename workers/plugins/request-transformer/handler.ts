/**
 * request-transformer (Kong PRIORITY 801): rewrites the upstream request as
 * kong/plugins/request-transformer/access.lua does, in Kong's order: the path
 * (`replace.uri`), the method, the headers, the body, the query string; within each,
 * remove, rename, replace, add, append. Values are templates (template.ts), rendered from
 * the request as it arrived.
 *
 * Everything is precomputed at create(): entries split, names lowercased, templates
 * parsed. A request whose content type has no body edits (or a plugin without any) is
 * transformed synchronously without reading its body. A body edit buffers the body with
 * ctx.readBody (up to max_body_size) and sets ctx.body; fields of JSON documents are
 * edited in place (transform/json-object.ts), form bodies and queries keep every argument
 * no edit touched byte for byte, multipart parts too.
 *
 * Where Kong forwards a body it could not transform (invalid JSON, a body in a temp file),
 * a remove could be bypassed by a client; we answer instead: 400 for a body that does not
 * parse, 413 over max_body_size, 415 for a Content-Encoding (README).
 */
import { isUtf8 } from 'node:buffer';
import { BodyTooLargeError, type RequestContext } from '../../http/request-context.js';
import type { LocalReply, MaybePromise, PluginEnv, PluginHandler, Verdict } from '../../pipeline/types.js';
import { isHeaderName, isHeaderValue, splitPair } from '../../transform/colon-pair.js';
import { appendToArray, jsonString, JsonMembers, parseJsonObject } from '../../transform/json-object.js';
import { ArgList } from './arg-list.js';
import { Multipart } from './multipart.js';
import type { RequestTransformerConfig } from './schema.js';
import { compileTemplate, renderTemplate, type Template, type TemplateSources } from './template.js';
import { setUpstreamHost, setUpstreamMethod, setUpstreamQuery } from './upstream-request.js';

const TOO_LARGE: LocalReply = Object.freeze({ status: 413, message: 'Request size limit exceeded' });
const BAD_BODY: LocalReply = Object.freeze({ status: 400, message: 'Invalid request body' });
const BAD_REQUEST: LocalReply = Object.freeze({ status: 400, message: 'Bad request' });
const ENCODED_BODY: LocalReply = Object.freeze({ status: 415, message: 'Unsupported Content-Encoding' });

const enum BodyKind {
  None,
  Json,
  Form,
  Multipart,
}

/** Kong's get_content_type: a substring test, JSON first. */
function bodyKindOf(contentType: string | undefined): BodyKind {
  if (contentType === undefined) return BodyKind.None;
  const ct = contentType.toLowerCase();
  if (ct.includes('application/json')) return BodyKind.Json;
  if (ct.includes('multipart/form-data')) return BodyKind.Multipart;
  if (ct.includes('application/x-www-form-urlencoded')) return BodyKind.Form;
  return BodyKind.None;
}

interface Op {
  readonly name: string;
  readonly value: Template;
}

interface OpSet {
  readonly remove: readonly string[];
  readonly rename: readonly Op[];
  readonly replace: readonly Op[];
  readonly add: readonly Op[];
  readonly append: readonly Op[];
}

function isEmpty(s: OpSet): boolean {
  return s.remove.length + s.rename.length + s.replace.length + s.add.length + s.append.length === 0;
}

function ops(entries: readonly string[], lower: boolean): Op[] {
  return entries.map((e) => {
    const { name, value } = splitPair(e)!;
    return { name: lower ? name.toLowerCase() : name, value: compileTemplate(value) };
  });
}

/**
 * The request's framing is the gateway's (the body it sends decides its length): header
 * edits of these names are dropped, as the forwarding drops hop-by-hop headers.
 */
const FRAMING = new Set(['content-length', 'transfer-encoding']);

function opSet(conf: RequestTransformerConfig, part: 'headers' | 'body' | 'querystring'): OpSet {
  const lower = part === 'headers';
  const keep = (op: Op) => !lower || !FRAMING.has(op.name);
  const keepRename = (op: Op) => keep(op) && (!lower || !FRAMING.has(op.value.constant.toLowerCase()));
  return {
    remove: conf.remove[part].map((e) => (lower ? splitPair(e)!.name.toLowerCase() : splitPair(e)!.name)).filter((n) => !lower || !FRAMING.has(n)),
    rename: ops(conf.rename[part], lower).filter(keepRename),
    replace: ops(conf.replace[part], lower).filter(keep),
    add: ops(conf.add[part], lower).filter(keep),
    append: ops(conf.append[part], lower).filter(keep),
  };
}

function usesRoot(sets: readonly OpSet[], uri: Template | null, root: 'headers' | 'query_params' | 'uri_captures' | 'shared'): boolean {
  if (uri !== null && uri.roots.has(root)) return true;
  return sets.some((s) => [s.rename, s.replace, s.add, s.append].some((list) => list.some((op) => op.value.roots.has(root))));
}

/** Characters a path keeps as they are (RFC 3986 pchar, `/` and existing `%XX` escapes). */
const PATH_SAFE = /[^A-Za-z0-9\-._~!$&'()*+,;=:@/%]/gu;
const DOT_SEGMENT = /(^|\/)(\.|%2e){1,2}(\/|$)/i;

/** The rendered `replace.uri` as a path safe to send: null when it must be refused. */
export function upstreamPathOf(rendered: string): string | null {
  let path = rendered.startsWith('/') ? rendered : `/${rendered}`;
  path = path.replace(PATH_SAFE, (c) => encodeURIComponent(c));
  // A `%` that does not start an escape is sent as %25, so the upstream decodes what we meant.
  path = path.replace(/%(?![0-9A-Fa-f]{2})/g, '%25');
  return DOT_SEGMENT.test(path) ? null : path;
}

export function createRequestTransformer(conf: RequestTransformerConfig, env?: PluginEnv): PluginHandler {
  const headerOps = opSet(conf, 'headers');
  const bodyOps = opSet(conf, 'body');
  const queryOps = opSet(conf, 'querystring');
  const uri = conf.replace.uri === null ? null : compileTemplate(conf.replace.uri);
  const method = conf.http_method;
  const methodMovesForm = method === 'GET' || method === 'HEAD' || method === 'TRACE';
  const limit = conf.max_body_size;
  const hasHeaderOps = !isEmpty(headerOps);
  const hasBodyOps = !isEmpty(bodyOps);
  const hasQueryOps = !isEmpty(queryOps);
  const sets = [headerOps, bodyOps, queryOps];
  const templated = ['headers', 'query_params', 'uri_captures', 'shared'].some((r) => usesRoot(sets, uri, r as 'headers'));
  const snapshotHeaders = usesRoot(sets, uri, 'headers');
  const readsQuery = usesRoot(sets, uri, 'query_params');
  const log = env?.log;

  function sources(ctx: RequestContext): TemplateSources | null {
    if (!templated) return null;
    return {
      // Header edits change ctx.headers in place; templates read the request as it arrived.
      headers: snapshotHeaders ? { ...ctx.headers } : ctx.headers,
      query: readsQuery ? ctx.queryArgs() : EMPTY_QUERY,
      captures: ctx.uriCaptures,
      shared: ctx.shared,
    };
  }

  /** Header edits (Kong's transform_headers): Host only through replace (or a rename to it). */
  function transformHeaders(ctx: RequestContext, src: TemplateSources | null): Verdict {
    const h = ctx.headers;
    for (const name of headerOps.remove) {
      if (name !== 'host' && h[name] !== undefined) ctx.setHeader(name, null);
    }
    for (const op of headerOps.rename) {
      const to = op.value.constant.toLowerCase(); // header names are never templates (schema)
      if (op.name === 'host' || op.name === to) continue;
      const v = h[op.name];
      if (v === undefined) continue;
      ctx.setHeader(op.name, null);
      if (to === 'host') setUpstreamHost(ctx, v);
      else ctx.setHeader(to, v);
    }
    for (const op of headerOps.replace) {
      if (op.name !== 'host' && h[op.name] === undefined) continue;
      const v = renderTemplate(op.value, src);
      if (!isHeaderValue(v)) return refuseHeader(ctx, op.name);
      if (op.name === 'host') setUpstreamHost(ctx, v);
      else ctx.setHeader(op.name, v);
    }
    for (const op of headerOps.add) {
      if (op.name === 'host' || h[op.name] !== undefined) continue;
      const v = renderTemplate(op.value, src);
      if (!isHeaderValue(v)) return refuseHeader(ctx, op.name);
      ctx.setHeader(op.name, v);
    }
    for (const op of headerOps.append) {
      if (op.name === 'host') continue;
      const v = renderTemplate(op.value, src);
      if (!isHeaderValue(v)) return refuseHeader(ctx, op.name);
      const old = h[op.name];
      // One field per name here: repeated values are joined as the listener joins them.
      ctx.setHeader(op.name, old === undefined ? v : `${old}${op.name === 'cookie' ? '; ' : ', '}${v}`);
    }
    return undefined;
  }

  function refuseHeader(ctx: RequestContext, name: string): LocalReply {
    log?.warn({ requestId: ctx.id, header: name }, 'request-transformer: a template rendered a value that cannot be a header (control characters)');
    return BAD_REQUEST;
  }

  /** Query edits (Kong's transform_querystrings), on the query as it is now. */
  function transformQuery(args: ArgList, src: TemplateSources | null): void {
    for (const name of queryOps.remove) args.remove(name);
    for (const op of queryOps.rename) args.rename(op.name, renderTemplate(op.value, src));
    for (const op of queryOps.replace) if (args.has(op.name)) args.replace(op.name, renderTemplate(op.value, src));
    for (const op of queryOps.add) if (!args.has(op.name)) args.add(op.name, renderTemplate(op.value, src));
    for (const op of queryOps.append) args.push(op.name, renderTemplate(op.value, src));
  }

  function transformJson(body: Buffer, src: TemplateSources | null): Buffer | LocalReply {
    let doc: JsonMembers;
    const hasContent = body.length > 0;
    if (!hasContent) doc = new JsonMembers(new Map());
    else {
      if (!isUtf8(body)) return BAD_BODY;
      const parsed = parseJsonObject(body.toString('utf8'));
      if (parsed === 'invalid') return BAD_BODY;
      // A valid document that is not an object has no fields to edit: it goes as it came.
      if (parsed === 'not-object') return body;
      doc = parsed;
      for (const name of bodyOps.remove) doc.delete(name);
      for (const op of bodyOps.rename) doc.rename(op.name, renderTemplate(op.value, src));
      for (const op of bodyOps.replace) if (doc.has(op.name)) doc.set(op.name, jsonString(renderTemplate(op.value, src)));
    }
    for (const op of bodyOps.add) if (!doc.has(op.name)) doc.set(op.name, jsonString(renderTemplate(op.value, src)));
    for (const op of bodyOps.append) {
      const v = jsonString(renderTemplate(op.value, src));
      const old = doc.raw(op.name);
      if (old === undefined) doc.set(op.name, `[${v}]`);
      else if (doc.kind(op.name) === 'array') doc.set(op.name, appendToArray(old, v));
      else doc.set(op.name, `[${old},${v}]`);
    }
    return doc.changed ? Buffer.from(doc.toString(), 'utf8') : body;
  }

  function transformForm(body: Buffer, src: TemplateSources | null): Buffer {
    // latin1 maps bytes to characters one to one: untouched arguments leave byte for byte.
    const args = ArgList.parse(body.toString('latin1'));
    if (body.length > 0) {
      for (const name of bodyOps.remove) args.remove(name);
      for (const op of bodyOps.rename) args.rename(op.name, renderTemplate(op.value, src));
      for (const op of bodyOps.replace) if (args.has(op.name)) args.replace(op.name, renderTemplate(op.value, src));
    }
    for (const op of bodyOps.add) if (!args.has(op.name)) args.add(op.name, renderTemplate(op.value, src));
    for (const op of bodyOps.append) args.push(op.name, renderTemplate(op.value, src));
    return args.changed ? Buffer.from(args.toString(), 'latin1') : body;
  }

  function transformMultipart(body: Buffer, contentType: string, src: TemplateSources | null): Buffer | LocalReply {
    const hasContent = body.length > 0;
    const form = hasContent ? Multipart.parse(body, contentType) : Multipart.empty(contentType);
    if (form === null) return BAD_BODY;
    // lua-multipart's order: rename before remove; no append.
    if (hasContent) {
      for (const op of bodyOps.rename) form.rename(op.name, renderTemplate(op.value, src));
      for (const name of bodyOps.remove) form.remove(name);
      for (const op of bodyOps.replace) if (form.has(op.name)) form.replace(op.name, renderTemplate(op.value, src));
    }
    for (const op of bodyOps.add) if (!form.has(op.name)) form.add(op.name, renderTemplate(op.value, src));
    return form.changed ? form.toBuffer() : body;
  }

  /** The steps that need the body: form arguments into the query, the body, then the query. */
  function withBody(ctx: RequestContext, body: Buffer | null, kind: BodyKind, moveForm: boolean, src: TemplateSources | null): Verdict {
    if (body === null) return TOO_LARGE;
    let query: ArgList | null = null;
    if (moveForm && body.length > 0) {
      // Kong's transform_method: the form's arguments are added to the query (the body stays).
      query = ArgList.parse(ctx.query);
      for (const [name, value] of ArgList.parse(body.toString('latin1')).entries()) query.push(name, value);
    }
    if (kind !== BodyKind.None) {
      const ct = ctx.headers['content-type']!;
      const out = kind === BodyKind.Json ? transformJson(body, src) : kind === BodyKind.Form ? transformForm(body, src) : transformMultipart(body, ct, src);
      if (!Buffer.isBuffer(out)) {
        log?.warn({ requestId: ctx.id, contentType: ct.slice(0, 100) }, 'request-transformer: the request body does not parse; refused rather than forwarded untransformed');
        return out;
      }
      if (out !== body) ctx.body = out;
    }
    if (hasQueryOps) {
      query ??= ArgList.parse(ctx.query);
      transformQuery(query, src);
    }
    if (query !== null && query.changed) setUpstreamQuery(ctx, query.toString());
    return undefined;
  }

  return {
    access(ctx: RequestContext): MaybePromise<Verdict> {
      const src = sources(ctx);
      if (uri !== null) {
        const path = upstreamPathOf(renderTemplate(uri, src));
        if (path === null) {
          log?.warn({ requestId: ctx.id }, "request-transformer: replace.uri rendered a path with '.' or '..' segments");
          return BAD_REQUEST;
        }
        ctx.upstreamPath = path;
      }
      let moveForm = false;
      if (method !== null) {
        setUpstreamMethod(ctx, method);
        moveForm = methodMovesForm && bodyKindOf(ctx.headers['content-type']) === BodyKind.Form;
      }
      if (hasHeaderOps) {
        const v = transformHeaders(ctx, src);
        if (v !== undefined) return v;
      }
      // The body is read with the Content-Type the header edits left (Kong reads it after them).
      const kind = hasBodyOps ? bodyKindOf(ctx.headers['content-type']) : BodyKind.None;
      if (kind === BodyKind.None && !moveForm) {
        if (hasQueryOps) {
          const query = ArgList.parse(ctx.query);
          transformQuery(query, src);
          if (query.changed) setUpstreamQuery(ctx, query.toString());
        }
        return undefined;
      }
      const coding = ctx.headers['content-encoding'];
      if (coding !== undefined && coding.trim().toLowerCase() !== 'identity') return ENCODED_BODY;
      if (ctx.body !== null) return withBody(ctx, ctx.body, kind, moveForm, src);
      const ds = ctx.downstream;
      if (ds === null || !ds.hasBody) return withBody(ctx, EMPTY, kind, moveForm, src);
      return ctx.readBody(limit).then(
        (body) => withBody(ctx, body, kind, moveForm, src),
        (err: unknown) => {
          if (err instanceof BodyTooLargeError) return TOO_LARGE;
          throw err;
        },
      );
    },
  };
}

const EMPTY = Buffer.alloc(0);
const EMPTY_QUERY = Object.freeze(Object.create(null)) as Record<string, never>;
