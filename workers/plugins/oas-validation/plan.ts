/**
 * What compiling an OpenAPI spec produces (spec-compile.ts, at config load, in the config
 * pool) and what a worker instantiates at create() (spec-runtime.ts). Plain data and
 * strings only: it travels inside the normalised plugin config, by structured clone, from
 * the config pool to the supervisor and from there to every worker.
 */

/** The config key holding the compiled spec. `$` never starts a Kong field name; the admin API leaves it out. */
export const COMPILED_FIELD = '$compiled';

/** Bumped whenever the shape below changes: a worker refuses a compiled spec it does not know. */
export const COMPILED_FORMAT = 2;

/**
 * A compiled spec. The bulk of it (every path's operation plan and every validator's
 * source, tens of MB for thousands of paths) is UTF-8 in one SharedArrayBuffer: posting the
 * config to the workers shares that memory instead of copying it into each of them, and a
 * worker decodes a path's plan or a validator's source when a request first needs it.
 * (The config hash sees the buffer as `{}`; `digest`, which is hashed, covers its content.)
 */
export interface CompiledSpec {
  format: number;
  /** sha256 (hex) over everything below: names this compilation (config hash, offload cache). */
  digest: string;
  /** JSON of the SpecMeta. */
  meta: string;
  /** Path templates as written in the spec (/pets/{petId}), in spec order. */
  paths: string[];
  /**
   * A table of [byte offset, byte length] (Uint32 pairs) of each path's operations, then
   * UTF-8: for each path, JSON of its PathOperations; then each validator's source.
   */
  blob: SharedArrayBuffer;
  /** JSON of a BlobIndex (parsed when a validator is first needed). */
  index: string;
}

/** Where things are in CompiledSpec.blob: [byte offset, byte length]. */
export type Span = [number, number];

export interface BlobIndex {
  /**
   * Validator sources by name: ajv standalone code, a CommonJS module body that may call
   * `link(name)` for another validator. "P…" validators coerce strings (parameters), "B…"
   * ones never do (bodies).
   */
  code: Record<string, Span>;
  /** The validators each one links to: what the offload thread needs along with it. */
  links: Record<string, string[]>;
}

/** Reads a CompiledSpec's blob: slices are decoded on demand, the validator index parsed on first use. */
export class CompiledReader {
  private parsed: BlobIndex | null = null;
  private readonly bytes: Buffer;
  private readonly table: Uint32Array;

  constructor(readonly spec: CompiledSpec) {
    this.bytes = Buffer.from(spec.blob);
    this.table = new Uint32Array(spec.blob, 0, spec.paths.length * 2);
  }

  get index(): BlobIndex {
    return (this.parsed ??= JSON.parse(this.spec.index) as BlobIndex);
  }

  private text(span: Span): string {
    return this.bytes.toString('utf8', span[0], span[0] + span[1]);
  }

  /** JSON of the operations of path `i`. */
  ops(i: number): string {
    const at = this.table[2 * i]!;
    return this.bytes.toString('utf8', at, at + this.table[2 * i + 1]!);
  }

  /** Source of validator `name`, or undefined. */
  code(name: string): string | undefined {
    const code = this.index.code;
    const span = Object.hasOwn(code, name) ? code[name] : undefined;
    return span === undefined ? undefined : this.text(span);
  }

  /** `name` and every validator it reaches through links, with their spans. */
  closure(name: string): Record<string, Span> {
    const out: Record<string, Span> = {};
    const { code, links } = this.index;
    const todo = [name];
    while (todo.length > 0) {
      const n = todo.pop()!;
      if (Object.hasOwn(out, n) || !Object.hasOwn(code, n)) continue;
      out[n] = code[n]!;
      for (const l of links[n] ?? []) todo.push(l);
    }
    return out;
  }
}

export const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;
export type HttpMethod = (typeof HTTP_METHODS)[number];

export type ParamLocation = 'path' | 'query' | 'header' | 'cookie';

/** How a parameter's raw string(s) become the value its schema sees. */
export type ParamShape = 'primitive' | 'array' | 'object' | 'json';

export interface ParamPlan {
  /** As in the spec; header names lowercased. */
  name: string;
  in: ParamLocation;
  required: boolean;
  /** OpenAPI style: simple, label, matrix, form, spaceDelimited, pipeDelimited, deepObject. */
  style: string;
  explode: boolean;
  shape: ParamShape;
  /** Properties of an object parameter (form + explode spreads them over the query), or null. */
  props: string[] | null;
  /** Name of the validator (a key of CompiledSpec.code), or null when the schema accepts anything. */
  v: string | null;
  /**
   * The schema wants a number here (for an array, in its items) and nothing but a number or
   * null: the raw string must then be a plain decimal number, so "0x10", "1e3" or " 5",
   * which JavaScript would coerce, are refused (the upstream may parse them differently).
   */
  numeric: 'integer' | 'number' | null;
}

export interface MediaPlan {
  /** Lowercased media range as written in the spec: application/json, application/*, *\/*. */
  range: string;
  /** The range admits JSON bodies (application/json, +json types, or a wildcard over them). */
  json: boolean;
  /** Name of the validator, or null (no schema, or a range JSON cannot match: not validated). */
  v: string | null;
}

export interface BodyPlan {
  required: boolean;
  media: MediaPlan[];
}

export interface OperationPlan {
  params: ParamPlan[];
  body: BodyPlan | null;
  /** Response bodies by status ("200", "2XX", "default"), for validate_response_body; null when off. */
  responses: Record<string, MediaPlan[]> | null;
}

export type PathOperations = Partial<Record<HttpMethod, OperationPlan>>;

export interface SpecMeta {
  /** "3.0" or "3.1". */
  version: string;
  /**
   * Path prefixes from the spec's servers (include_base_path), normalised: "" for none,
   * else "/v1" (no trailing slash). custom_base_path replaces them at create().
   */
  basePaths: string[];
  /** apiKey security scheme names: never "unknown" to query_parameter_check / header_parameter_check. */
  apiKeys: { query: string[]; header: string[]; cookie: string[] };
}

/** `{name}` variables of a path template, in order. */
export function pathVariables(template: string): string[] {
  const out: string[] = [];
  for (const m of template.matchAll(/\{([^{}]+)\}/g)) out.push(m[1]!);
  return out;
}

/** "/v1/" -> "/v1", "/" or "" -> "". */
export function normaliseBasePath(path: string): string {
  let p = path.trim();
  if (p !== '' && !p.startsWith('/')) p = `/${p}`;
  while (p.endsWith('/')) p = p.slice(0, -1);
  return p;
}
