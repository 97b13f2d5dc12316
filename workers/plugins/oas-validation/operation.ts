/**
 * One operation of the spec as a worker checks it: its plan plus what is derived from it
 * once (where each path parameter sits in the template, which query and header names the
 * operation declares). Built on the first request that reaches the operation.
 */
import { pathVariables, type MediaPlan, type OperationPlan, type ParamPlan, type Span, type SpecMeta } from './plan.js';

export interface MediaRuntime {
  readonly plan: MediaPlan;
  /** Where the validator and everything it links to are in the blob, for the offload pool; built on first use. */
  closure: Record<string, Span> | null;
}

export class OperationRuntime {
  /** For each parameter, the index of its value among the template's variables (path parameters), else -1. */
  readonly pathIndex: number[];
  /** Query names the operation declares (exploded object properties included). */
  readonly queryNames: Set<string>;
  /** deepObject parameters: their arguments are `name[...]`. */
  readonly deepPrefixes: string[];
  /** A form-exploded object without declared properties takes any argument: nothing is unknown. */
  readonly anyQuery: boolean;
  /** Header names the operation declares (lowercase), plus cookie when it has cookie parameters. */
  readonly headerNames: Set<string>;
  readonly media: MediaRuntime[];
  /** Response media types by status ("200", "2XX", "DEFAULT"), when validate_response_body compiled them. */
  readonly responses: Map<string, MediaRuntime[]> | null;
  readonly declared: Set<string>;

  constructor(
    readonly plan: OperationPlan,
    readonly template: string,
    readonly method: string,
    meta: SpecMeta,
  ) {
    const vars = pathVariables(template);
    this.pathIndex = plan.params.map((p) => (p.in === 'path' ? vars.indexOf(p.name) : -1));
    this.queryNames = new Set(meta.apiKeys.query);
    this.deepPrefixes = [];
    this.headerNames = new Set(meta.apiKeys.header);
    this.declared = new Set();
    let anyQuery = false;
    for (const p of plan.params as ParamPlan[]) {
      if (p.in === 'query') {
        this.declared.add(p.name);
        if (p.style === 'deepObject') this.deepPrefixes.push(`${p.name}[`);
        else if (p.shape === 'object' && p.explode) {
          if (p.props === null) anyQuery = true;
          else for (const k of p.props) this.queryNames.add(k);
        } else this.queryNames.add(p.name);
      } else if (p.in === 'header') {
        this.headerNames.add(p.name);
      } else if (p.in === 'cookie') {
        this.headerNames.add('cookie');
      }
    }
    if (meta.apiKeys.cookie.length > 0) this.headerNames.add('cookie');
    this.anyQuery = anyQuery;
    this.media = (plan.body?.media ?? []).map((m) => ({ plan: m, closure: null }));
    this.responses = plan.responses === null ? null : new Map(Object.entries(plan.responses).map(([status, list]) => [status, list.map((m) => ({ plan: m, closure: null }))]));
  }

  /** The response media types declared for a status: exact code, then its class (2XX), then default. */
  responseMedia(status: number): MediaRuntime[] | null {
    const r = this.responses;
    if (r === null) return null;
    return r.get(String(status)) ?? r.get(`${Math.floor(status / 100)}XX`) ?? r.get('DEFAULT') ?? null;
  }

  /** The query argument is neither declared nor an apiKey (query_parameter_check). */
  unknownQuery(name: string): boolean {
    if (this.anyQuery || this.queryNames.has(name)) return false;
    for (const prefix of this.deepPrefixes) if (name.startsWith(prefix)) return false;
    return true;
  }
}

/** The media type of a Content-Type value: lowercase, without parameters; '' when absent. */
export function mediaType(contentType: string | undefined): string {
  if (contentType === undefined) return '';
  const semi = contentType.indexOf(';');
  return (semi < 0 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
}

/** JSON bodies: application/json and any +json type (RFC 6839). */
export function isJsonType(type: string): boolean {
  return type === 'application/json' || type.endsWith('+json');
}

/** The operation's media entry for a request media type: exact, then type/*, then *\/* (RFC 9110 precedence). */
export function pickMedia(media: readonly MediaRuntime[], type: string): MediaRuntime | null {
  let wildcard: MediaRuntime | null = null;
  let any: MediaRuntime | null = null;
  const slash = type.indexOf('/');
  const major = slash < 0 ? null : `${type.slice(0, slash)}/*`;
  for (const m of media) {
    const r = m.plan.range;
    if (r === type) return m;
    if (r === major) wildcard ??= m;
    else if (r === '*/*') any ??= m;
  }
  return wildcard ?? any;
}
