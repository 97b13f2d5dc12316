/**
 * response-transformer (Kong PRIORITY 800): edits response headers in header_filter and
 * the top-level properties of a JSON response body in body_filter, as
 * kong/plugins/response-transformer/{header,body}_transformer.lua do, in Kong's order:
 * remove, rename, replace, add, append.
 *
 * Headers: presence tests read the headers as the upstream sent them (Kong tests a copy
 * taken before the edits), values are set as configured; append adds another field.
 * Framing headers (Content-Length, Transfer-Encoding, Connection, ...) belong to the
 * gateway and are never edited.
 *
 * JSON body: only for an application/json (or +json) response from the upstream, with a
 * body (not HEAD, 204, 304 or a 206 range). The body is held back until it is complete
 * (the bodyFilter returns empty chunks), at most max_body_size bytes, then edited once. A
 * gzip, deflate or br body is decoded (bounded) and the edited body is sent without a
 * Content-Encoding. The transformation is never silently skipped where a `remove` could
 * leak what it should hide: a body over the limit, a coding we cannot decode, or a
 * compressed body that does not decode, is refused (502 before the head, a cut
 * connection after it). A body that is not JSON is passed on unchanged, as Kong does
 * (upstreams label HTML error pages as JSON; there is no property in them to hide).
 */
import type { RequestContext } from '../../http/request-context.js';
import type { LocalReply, PluginEnv, PluginHandler } from '../../pipeline/types.js';
import { splitPair } from '../../transform/colon-pair.js';
import { codingOf, decodeBody, DecodedTooLargeError, type Coding } from './content-coding.js';
import { editJsonBody, hasJsonEdits, jsonEdits } from './json-body.js';
import type { ResponseTransformerConfig } from './schema.js';

/** Response headers the gateway frames the body with: a plugin never edits them. */
const FRAMING = new Set(['content-length', 'transfer-encoding', 'connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'upgrade']);

const REFUSED: LocalReply = Object.freeze({ status: 502, message: 'An invalid response was received from the upstream server' });
const EMPTY = Buffer.alloc(0);

interface HeaderOp {
  readonly name: string;
  readonly value: string;
}

/** A JSON response being held back until complete. */
class HeldBody {
  chunks: Buffer[] = [];
  size = 0;
  constructor(readonly coding: Coding | null) {}
}

/** application/json or a +json subtype, in any of the listed media types (Kong 3.4+). */
export function isJsonContentType(value: string | string[] | undefined): boolean {
  if (value === undefined) return false;
  const list = Array.isArray(value) ? value : [value];
  for (const v of list) {
    for (const part of v.split(',')) {
      const media = part.split(';')[0]!.trim().toLowerCase();
      const slash = media.indexOf('/');
      if (slash < 0 || media.slice(0, slash) !== 'application') continue;
      const sub = media.slice(slash + 1);
      if (sub === 'json' || sub.endsWith('+json')) return true;
    }
  }
  return false;
}

function headerOps(entries: readonly string[]): HeaderOp[] {
  const out: HeaderOp[] = [];
  for (const e of entries) {
    const { name, value } = splitPair(e)!;
    const lower = name.toLowerCase();
    // Kong skips an entry without a value (iter() gives nil); framing is the gateway's.
    if (value !== '' && !FRAMING.has(lower)) out.push({ name: lower, value });
  }
  return out;
}

export function createResponseTransformer(conf: ResponseTransformerConfig, env?: PluginEnv): PluginHandler {
  const remove = conf.remove.headers.map((n) => n.toLowerCase()).filter((n) => !FRAMING.has(n));
  const rename = conf.rename.headers
    .map((e) => splitPair(e)!)
    .map(({ name, value }) => [name.toLowerCase(), value.toLowerCase()] as const)
    .filter(([from, to]) => from !== to && !FRAMING.has(from) && !FRAMING.has(to));
  const replace = headerOps(conf.replace.headers);
  const add = headerOps(conf.add.headers);
  const append = headerOps(conf.append.headers);
  // Presence is tested on the headers as received; a copy is needed only when one edit can
  // change what another tests (the same name in two of remove/rename/replace/add).
  const seen = new Map<string, number>();
  const touch = (names: Iterable<string>, bit: number) => {
    for (const n of names) seen.set(n, (seen.get(n) ?? 0) | bit);
  };
  touch(remove, 1);
  touch(rename.flat(), 2);
  touch(replace.map((o) => o.name), 4);
  touch(add.map((o) => o.name), 8);
  const needsSnapshot = [...seen.values()].some((bits) => (bits & (bits - 1)) !== 0);
  const hasHeaderEdits = remove.length + rename.length + replace.length + add.length + append.length > 0;

  const edits = jsonEdits(conf);
  const hasBodyEdits = hasJsonEdits(edits);
  const limit = conf.max_body_size;
  const log = env?.log;
  for (const list of [edits.replace, edits.add, edits.append]) {
    for (const op of list) {
      if (op.json === null) log?.warn({ property: op.name }, "response-transformer: a json_types 'number' entry is not a number; it is skipped (as in Kong)");
    }
  }
  const held = new WeakMap<RequestContext, HeldBody>();

  function refuse(ctx: RequestContext, why: string): void {
    log?.warn({ requestId: ctx.id, limit }, `response-transformer: ${why}; the response is refused rather than sent untransformed`);
    ctx.responseAbort = REFUSED;
  }

  return {
    headerFilter(ctx: RequestContext): void {
      const r = ctx.response;
      if (r === null) return;
      const h = r.headers;
      if (hasHeaderEdits) {
        const before = needsSnapshot ? { ...h } : h;
        for (const name of remove) delete h[name];
        for (const [from, to] of rename) {
          const v = before[from];
          if (v === undefined) continue;
          h[to] = v;
          delete h[from];
        }
        for (const op of replace) if (before[op.name] !== undefined) h[op.name] = op.value;
        for (const op of add) if (before[op.name] === undefined) h[op.name] = op.value;
        for (const op of append) {
          const old = h[op.name];
          h[op.name] = old === undefined ? op.value : Array.isArray(old) ? [...old, op.value] : [old, op.value];
        }
      }
      if (!hasBodyEdits || r.source !== 'upstream') return;
      const status = r.status;
      if (ctx.method === 'HEAD' || status === 204 || status === 304 || status === 206 || status < 200) return;
      if (!isJsonContentType(h['content-type'])) return;
      const coding = codingOf(h['content-encoding']);
      if (coding === 'unsupported') return refuse(ctx, `Content-Encoding '${String(h['content-encoding']).slice(0, 40)}' cannot be decoded`);
      const length = r.contentLength ?? -1;
      if (length > limit) return refuse(ctx, 'JSON body over max_body_size');
      // The edited body goes out decoded (and is framed by the gateway).
      if (coding !== null) delete h['content-encoding'];
      held.set(ctx, new HeldBody(coding));
    },

    bodyFilter(ctx: RequestContext, chunk: Buffer, last: boolean): Buffer {
      const st = held.get(ctx);
      if (st === undefined) return chunk;
      if (chunk.length > 0) {
        st.size += chunk.length;
        if (st.size > limit) {
          held.delete(ctx);
          refuse(ctx, 'JSON body over max_body_size');
          return EMPTY;
        }
        st.chunks.push(chunk);
      }
      if (!last) return EMPTY;
      held.delete(ctx);
      let body = st.chunks.length === 1 ? st.chunks[0]! : Buffer.concat(st.chunks, st.size);
      if (st.coding !== null) {
        try {
          body = decodeBody(body, st.coding, limit);
        } catch (err) {
          refuse(ctx, err instanceof DecodedTooLargeError ? 'decoded JSON body over max_body_size' : `the ${st.coding} body does not decode`);
          return EMPTY;
        }
      }
      return editJsonBody(body, edits, () => log?.info({ requestId: ctx.id }, 'response-transformer: the JSON response body does not parse; sent unchanged'));
    },
  };
}
