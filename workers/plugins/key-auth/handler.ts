/**
 * key-auth (Kong PRIORITY 1250): authenticates a request by an API key found in a header,
 * a query argument or (optionally) the body, following kong/plugins/key-auth/handler.lua:
 *
 * - for each name of `key_names`, in order: the header (case-insensitive), then the query
 *   argument (exact name), then the body field; the first value found for a name decides.
 *   A string is the key; a repeated header, query argument or form field (or a JSON
 *   array/object) is 401 "Duplicate API key found"; anything else (a bare `?apikey` flag,
 *   a JSON number) moves on to the next name;
 * - with hide_credentials, the name that matched is removed from the headers, the query
 *   and (key_in_body) the body, wherever the key was actually found;
 * - an empty key is 401 "No API key found in request", an unknown or expired key 401
 *   "Unauthorized", each with `WWW-Authenticate: Key` (or `Key realm="..."`);
 * - anonymous turns the plugin into one branch of a logical OR (see workers/auth/identity.ts).
 *
 * Synchronous unless the body has to be read (key_in_body, a form or JSON body, and the
 * key not found before the body is consulted). The key itself is never logged.
 */
import { setConsumer, challenge, failOrAnonymous, skipBecauseAuthenticated, unauthorized } from '../../auth/identity.js';
import type { ConsumerIndex, KeyCredential } from '../../auth/consumer-index.js';
import { BodyTooLargeError, type CredentialIdentity, type RequestContext } from '../../http/request-context.js';
import { parseQuery, removeQueryArg } from '../../http/query.js';
import type { LocalReply, MaybePromise, PluginEnv, PluginHandler, Verdict } from '../../pipeline/types.js';
import type { KeyAuthConfig } from './schema.js';

/**
 * Largest body read when looking for a key in it. Kong only parses bodies that fit its
 * client_body_buffer_size (8k by default) and treats larger ones as having no fields; a
 * larger budget here, but still small: the body is read before the client is authenticated.
 */
export const KEY_AUTH_BODY_LIMIT = 64 * 1024;

const FORM = 'application/x-www-form-urlencoded';
const JSON_TYPE = 'application/json';

type BodyKind = 'form' | 'json';

/** The fields of a parsed body; NO_FIELDS for no body, an unsupported type, or a parse error. */
interface BodyFields {
  readonly kind: BodyKind | null;
  readonly fields: Record<string, unknown>;
}

const NO_FIELDS: BodyFields = Object.freeze({ kind: null, fields: Object.freeze(Object.create(null)) });

/** The body has to be read before the search can go on. */
const NEED_BODY = 1;
/** Authenticated (consumer set). */
const OK = 0;
type Outcome = LocalReply | typeof OK | typeof NEED_BODY;

interface KeyName {
  /** As configured: the query argument and body field name. */
  readonly name: string;
  /** Lowercased: the header name. */
  readonly header: string;
  /** OpenResty's header lookup also tries underscores as dashes; null when the same. */
  readonly dashed: string | null;
}

function bodyKind(ctx: RequestContext): BodyKind | null {
  const type = ctx.headers['content-type'];
  if (type === undefined) return null;
  const t = type.trimStart().toLowerCase();
  if (t.startsWith(FORM)) return 'form';
  if (t.startsWith(JSON_TYPE)) return 'json';
  return null;
}

function parseBody(kind: BodyKind | null, raw: Buffer | null): BodyFields {
  if (kind === null || raw === null || raw.length === 0) return NO_FIELDS;
  const text = raw.toString('utf8');
  if (kind === 'form') return { kind, fields: parseQuery(text) };
  try {
    const v: unknown = JSON.parse(text);
    // Only an object has named fields (Kong indexes whatever cjson gives; the rest yield nil).
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? { kind, fields: v as Record<string, unknown> } : NO_FIELDS;
  } catch {
    return NO_FIELDS;
  }
}

/**
 * The body's fields when they can be had without waiting, or undefined when the body must
 * be read first. Bodies Kong's get_body would refuse (no or another content type) have no
 * fields and are never read.
 */
function bodyNow(ctx: RequestContext): BodyFields | undefined {
  const kind = bodyKind(ctx);
  if (kind === null) return NO_FIELDS;
  if (ctx.body !== null) return parseBody(kind, ctx.body);
  const ds = ctx.downstream;
  if (ds === null || !ds.hasBody) return NO_FIELDS;
  return undefined;
}

function removeBodyField(ctx: RequestContext, body: BodyFields, name: string): void {
  if (body.kind === null || ctx.body === null) return;
  if (body.kind === 'form') {
    // latin1 keeps every other byte of the body exactly as the client sent it.
    ctx.body = Buffer.from(removeQueryArg(ctx.body.toString('latin1'), name), 'latin1');
  } else if (Object.hasOwn(body.fields, name)) {
    delete body.fields[name];
    ctx.body = Buffer.from(JSON.stringify(body.fields), 'utf8');
  }
}

export function createKeyAuth(conf: KeyAuthConfig, env: PluginEnv): PluginHandler {
  const consumers: ConsumerIndex = env.consumers;
  const names: readonly KeyName[] = conf.key_names.map((name) => {
    const header = name.toLowerCase();
    const dashed = header.replace(/_/g, '-');
    return { name, header, dashed: dashed === header ? null : dashed };
  });
  const anonymous = conf.anonymous;
  const hide = conf.hide_credentials;
  const inHeader = conf.key_in_header;
  const inQuery = conf.key_in_query;
  const inBody = conf.key_in_body;
  const skipPreflight = !conf.run_on_preflight;

  // Replies built once per instance: the reject path allocates nothing.
  const www = challenge('Key', conf.realm);
  const NO_KEY = unauthorized('No API key found in request', www);
  const INVALID = unauthorized('Unauthorized', www);
  const DUPLICATE = unauthorized('Duplicate API key found', www);
  const TOO_LARGE: LocalReply = Object.freeze({ status: 413, message: 'Request size limit exceeded' });
  const onMissingAnonymous = (message: string): void => env.log.error({ plugin: 'key-auth' }, message);

  // X-Credential-Identifier is the credential id: one identity object per credential.
  const identities = new Map<KeyCredential, CredentialIdentity>();
  const identityOf = (cred: KeyCredential): CredentialIdentity => {
    let id = identities.get(cred);
    if (id === undefined) identities.set(cred, (id = Object.freeze({ id: cred.id, identifier: cred.id })));
    return id;
  };

  /** Kong's do_authentication. `body` is undefined until it is known. */
  function authenticate(ctx: RequestContext, body: BodyFields | undefined): Outcome {
    let key: string | undefined;
    let found: KeyName | undefined;
    for (let i = 0; i < names.length; i++) {
      const n = names[i]!;
      let v: unknown;
      if (inHeader) {
        let h = n.header;
        v = ctx.headers[h];
        if (typeof v !== 'string' && n.dashed !== null) v = ctx.headers[(h = n.dashed)];
        if (typeof v !== 'string') v = undefined;
        else if (ctx.isRepeated(h)) return DUPLICATE;
      }
      if (v === undefined && inQuery && ctx.query !== '') v = ctx.queryArgs()[n.name];
      if (v === undefined && inBody) {
        if (body === undefined && (body = bodyNow(ctx)) === undefined) return NEED_BODY;
        v = Object.hasOwn(body.fields, n.name) ? body.fields[n.name] : undefined;
      }
      if (typeof v === 'string') {
        key = v;
        found = n;
        break;
      }
      // A repeated query argument or form field, or a JSON array/object: Kong's "table".
      if (v !== null && typeof v === 'object') return DUPLICATE;
    }

    if (found !== undefined && hide) {
      // Read the body (if it must be) before changing anything: the search is re-run then.
      if (inBody && body === undefined && (body = bodyNow(ctx)) === undefined) return NEED_BODY;
      if (ctx.query !== '') ctx.removeQueryArg(found.name);
      ctx.setHeader(found.header, null);
      if (found.dashed !== null) ctx.setHeader(found.dashed, null);
      if (inBody) removeBodyField(ctx, body!, found.name);
    }

    if (key === undefined || key === '') return NO_KEY;
    const cred = consumers.key(key);
    if (cred === undefined) return INVALID;
    setConsumer(ctx, cred.consumer, identityOf(cred));
    return OK;
  }

  function conclude(ctx: RequestContext, outcome: LocalReply | typeof OK): Verdict {
    if (outcome === OK) return undefined;
    return failOrAnonymous(ctx, anonymous, consumers, outcome, onMissingAnonymous);
  }

  function withBody(ctx: RequestContext): Promise<Verdict> {
    const kind = bodyKind(ctx);
    return ctx.readBody(KEY_AUTH_BODY_LIMIT).then(
      (raw) => {
        // A body announced larger than the limit has no fields (Kong: body in a temp file).
        const outcome = authenticate(ctx, parseBody(kind, raw));
        return conclude(ctx, outcome === NEED_BODY ? NO_KEY : outcome);
      },
      (err: unknown) => {
        // A chunked body outgrew the limit: partly consumed, it can no longer be proxied.
        if (err instanceof BodyTooLargeError) return TOO_LARGE;
        throw err;
      },
    );
  }

  return {
    access(ctx: RequestContext): MaybePromise<Verdict> {
      if (skipPreflight && ctx.method === 'OPTIONS') return undefined;
      if (skipBecauseAuthenticated(ctx, anonymous)) return undefined;
      const outcome = authenticate(ctx, undefined);
      if (outcome === NEED_BODY) return withBody(ctx);
      return conclude(ctx, outcome);
    },
  };
}
