/**
 * Our own request object (Kong's PDK): the only view of a request that the router and the
 * plugins get. A listener adapter (uWS today; node:tls/node:http2 for mTLS and HTTP/2)
 * fills it synchronously, so nothing downstream ever touches a listener's objects.
 *
 * One instance per request; fields are assigned in the constructor in a fixed order so V8
 * keeps a single hidden class for all of them.
 */
import { performance } from 'node:perf_hooks';
import type { RouteConfig, ServiceConfig } from '../../src/config/types.js';
import type { PluginHandler } from '../pipeline/types.js';
import { InspectingSink, inspectWhole, type BodyInspector } from './body-inspection.js';
import type { Downstream, RequestBodySink } from './downstream.js';
import type { LocalReply, Verdict } from '../pipeline/types.js';
import { parseQuery, removeQueryArg, type QueryArgs } from './query.js';

/** A header name a plugin may set without the proxy re-checking every header: a token. */
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** ...and a value of HTAB and visible ASCII only. */
const PLAIN_VALUE = /^[\x09\x20-\x7e]*$/;

/** Response as the header_filter phase sees it (upstream's or a local reply's). */
export interface ResponseState {
  status: number;
  /** Lowercased names; multi-valued headers (set-cookie) as arrays. */
  headers: Record<string, string | string[]>;
  /** 'upstream' for a proxied response, 'gateway' for a local reply (Kong's `source`). */
  source: 'upstream' | 'gateway';
  /** The upstream's Content-Length, -1 for a chunked or close-delimited body; absent for a local reply. */
  contentLength?: number;
}

export interface ConsumerIdentity {
  readonly id: string;
  readonly username: string | null;
  readonly custom_id: string | null;
  /** ACL groups of the consumer (empty when none). */
  readonly groups: readonly string[];
}

export interface CredentialIdentity {
  id: string;
  /** What X-Credential-Identifier carries for the authenticating plugin. */
  identifier: string;
}

export class RequestContext {
  /** Request id (X-Kong-Request-Id), 32 hex characters, unique per worker lifetime. */
  readonly id: string;
  /** Upper-case method as sent. */
  readonly method: string;
  /** Path as received, before normalisation, without the query. */
  readonly rawPath: string;
  /** Normalised path the router matched against (see router/normalize-path.ts). */
  path: string;
  /** Raw query string without the leading '?', '' when absent. */
  query: string;
  /** Request headers, lowercased names; repeated headers joined with ", " (cookie: "; "). */
  headers: Record<string, string>;
  /** Lowercased names of headers that appeared more than once, or null (the common case). */
  repeatedHeaders: string[] | null;
  /**
   * Every header name is a token and every value is HTAB and visible ASCII: the listener
   * checked them (request-guard.ts) and setHeader keeps it so (or clears it).
   * The proxy then sends them upstream as they are, without re-encoding or re-checking
   * each one. False unless a listener vouches for its headers.
   */
  headersChecked = false;
  /**
   * The names in `headers` in the order they were added (a listener's, kept up to date by
   * setHeader; a removed name stays listed with no value), or null: the proxy then walks
   * the object itself. Walking a dictionary-mode object with for-in collects and sorts its
   * keys on every request; this list is read as it is.
   */
  headerNames: string[] | null = null;
  /** Host without port, lowercased. */
  host: string;
  /** Port the client addressed (from Host, else the listener's). */
  port: number;
  /** Scheme of the client connection (after trusted X-Forwarded-Proto). */
  scheme: 'http' | 'https';
  /** TCP peer address, normalised (IPv4-mapped IPv6 shown as IPv4). */
  readonly remoteAddress: string;
  /** Client address after trusted_ips / real_ip_header rules: what IP policies and logs use. */
  clientIp: string;
  /** Start of the request, from performance.now() (ms, fractional). */
  readonly startedAt: number;

  /** The config generation this request runs on: in-flight requests keep theirs across reloads. */
  generation: unknown = null;
  route: RouteConfig | null = null;
  service: ServiceConfig | null = null;
  /** Regex captures of the matched path, numbered ("0", "1", ...) and named. */
  uriCaptures: Record<string, string> | null = null;
  /** Upstream request path (without the query), computed after routing (Kong's upstream URI rules). */
  upstreamPath = '';
  /** The path prefix strip_path removed (sent upstream as X-Forwarded-Prefix), or null. */
  strippedPrefix: string | null = null;
  /** Method for the upstream request when a plugin changed it (Kong's kong.service.request.set_method), else null. */
  upstreamMethod: string | null = null;
  /** Host header for the upstream request when a plugin set it (Kong's upstream_host), else null: preserve_host decides. */
  upstreamHost: string | null = null;

  consumer: ConsumerIdentity | null = null;
  credential: CredentialIdentity | null = null;
  /** Groups set by an authentication plugin for acl (Kong authenticated_groups). */
  authenticatedGroups: string[] | null = null;
  /** Per-request scratch space shared by plugins (kong.ctx.shared). */
  shared: Record<string, unknown> | null = null;

  /** Plugin handlers that apply to this request, in priority order (set by the access phase). */
  plugins: readonly PluginHandler[] = [];

  response: ResponseState | null = null;
  /**
   * Response headers a plugin wants on the final response whatever its source, flat:
   * [name, value, name, value, ...] (no pair allocated per header: rate-limiting adds seven
   * on every request).
   */
  extraResponseHeaders: string[] | null = null;

  /**
   * The request body once a plugin has read it with readBody(); the proxy then sends these
   * bytes instead of streaming from the client.
   */
  body: Buffer | null = null;
  /** Where the body comes from (set by the listener adapter). */
  downstream: Downstream | null = null;
  /** Inspectors every request body chunk passes through (ctx.inspectRequestBody), or null. */
  bodyInspectors: BodyInspector[] | null = null;
  /**
   * Set by a header or body filter to replace the upstream's response (Kong's
   * kong.response.exit from header_filter, e.g. a response over its size limit): before
   * the head went out the client gets this reply instead; after, the connection is cut.
   */
  responseAbort: LocalReply | null = null;

  /** Status code sent to the client (upstream's or a local reply's, after header_filter); 0 until then. */
  status = 0;
  /** performance.now() when the upstream request was sent / its headers came back. */
  upstreamSentAt = 0;
  upstreamHeadersAt = 0;
  /** Bytes of request and response bodies seen so far. */
  bytesIn = 0;
  bytesOut = 0;

  constructor(
    id: string,
    method: string,
    rawPath: string,
    query: string,
    headers: Record<string, string>,
    repeatedHeaders: string[] | null,
    host: string,
    port: number,
    scheme: 'http' | 'https',
    remoteAddress: string,
    clientIp: string,
    startedAt: number,
  ) {
    this.id = id;
    this.method = method;
    this.rawPath = rawPath;
    this.path = rawPath;
    this.query = query;
    this.headers = headers;
    this.repeatedHeaders = repeatedHeaders;
    this.host = host;
    this.port = port;
    this.scheme = scheme;
    this.remoteAddress = remoteAddress;
    this.clientIp = clientIp;
    this.startedAt = startedAt;
  }

  private parsedQuery: QueryArgs | null = null;

  /** Query arguments, parsed on first use (Kong's kong.request.get_query shapes). */
  queryArgs(): QueryArgs {
    return (this.parsedQuery ??= parseQuery(this.query));
  }

  /** Replaces the query sent upstream (Kong's kong.service.request.set_query); later plugins read the new one. */
  setQuery(query: string): void {
    this.query = query;
    this.parsedQuery = null;
  }

  /** Removes an argument from the query sent upstream (hide_credentials). */
  removeQueryArg(name: string): void {
    this.query = removeQueryArg(this.query, name);
    this.parsedQuery = null;
  }

  /** True when the header appeared more than once in the request. */
  isRepeated(name: string): boolean {
    return this.repeatedHeaders !== null && this.repeatedHeaders.includes(name);
  }

  /** Sets (or with null, removes) a request header sent upstream and seen by later plugins. */
  setHeader(name: string, value: string | null): void {
    if (value === null) {
      delete this.headers[name];
      return;
    }
    const names = this.headerNames;
    if (names !== null && this.headers[name] === undefined && !names.includes(name)) names.push(name);
    this.headers[name] = value;
    // A token name with a plain ASCII value (the identity headers of the auth plugins) keeps
    // the headers vouched for; anything else (a template filled from the query, a claim)
    // makes the proxy re-encode and check every header before sending it.
    if (this.headersChecked && !(HEADER_NAME.test(name) && PLAIN_VALUE.test(value))) this.headersChecked = false;
  }

  /**
   * Reads the whole request body into memory, for plugins that must see it. Resolves
   * with an empty buffer when there is no body, and with null (without consuming
   * anything) when Content-Length says it is larger than `limit`. A chunked body that
   * grows past `limit` rejects with BodyTooLargeError: it has been partly consumed and
   * can no longer be proxied, so the caller answers 413.
   */
  readBody(limit: number): Promise<Buffer | null> {
    if (this.body !== null) return Promise.resolve(this.body);
    const ds = this.downstream;
    if (ds === null || !ds.hasBody) return Promise.resolve((this.body = EMPTY));
    if (ds.contentLength > limit) return Promise.resolve(null);
    return new Promise((resolve, reject) => ds.attachBody(this.bodySink(new BodyCollector(this, limit, resolve, reject))));
  }

  /**
   * Makes every request body chunk pass through `inspector` before it goes anywhere (see
   * body-inspection.ts): a plugin's streaming check that stops at the first violation
   * without buffering or building the document. When the body is already in memory (an
   * earlier plugin read it) or there is none, the inspector runs at once and its verdict
   * is returned; otherwise undefined, and a later verdict stops the body with a
   * BodyRejectedError that the runloop turns into the inspector's reply.
   */
  inspectRequestBody(inspector: BodyInspector): Verdict {
    if (this.body !== null) return inspectWhole([inspector], this.body);
    const ds = this.downstream;
    if (ds === null || !ds.hasBody) return inspector.end();
    (this.bodyInspectors ??= []).push(inspector);
    return undefined;
  }

  /** The sink to attach to the downstream: `sink` itself, or wrapped by the inspectors. */
  bodySink(sink: RequestBodySink): RequestBodySink {
    const ins = this.bodyInspectors;
    return ins === null ? sink : new InspectingSink(ins, sink);
  }

  /**
   * Caps the request body while it streams (chunked bodies too), without buffering it:
   * crossing the cap answers 413 "Request size limit exceeded" (or cuts the exchange if
   * the response has started) and aborts the upstream request. readBody() rejects with
   * RequestBodyLimitError instead. The lowest cap set on a request wins.
   */
  limitRequestBody(maxBytes: number): void {
    this.downstream?.limitBody(maxBytes);
  }

  /** Adds a header to the response sent to the client, whatever produced it. */
  addResponseHeader(name: string, value: string): void {
    (this.extraResponseHeaders ??= []).push(name, value);
  }
}

const EMPTY = Buffer.alloc(0);

export class BodyTooLargeError extends Error {
  constructor(limit: number) {
    super(`request body larger than ${limit} bytes`);
    this.name = 'BodyTooLargeError';
  }
}

class BodyCollector implements RequestBodySink {
  private chunks: Buffer[] = [];
  private size = 0;
  private failed = false;

  constructor(
    private readonly ctx: RequestContext,
    private readonly limit: number,
    private readonly resolve: (b: Buffer) => void,
    private readonly reject: (e: Error) => void,
  ) {}

  onBodyChunk(chunk: Buffer): void {
    if (this.failed) return;
    this.size += chunk.length;
    if (this.size > this.limit) {
      this.failed = true;
      this.chunks = [];
      this.reject(new BodyTooLargeError(this.limit));
      return;
    }
    this.chunks.push(chunk);
  }

  onBodyError(err: Error): void {
    if (this.failed) return;
    this.failed = true;
    this.chunks = [];
    this.reject(err);
  }

  onBodyEnd(): void {
    if (this.failed) return;
    const body = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.size);
    this.ctx.body = body;
    this.resolve(body);
  }
}
