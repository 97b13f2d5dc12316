/**
 * Reads the text of an OpenAPI document: Kong's URI-encoding (api_spec_encoded), then JSON
 * or YAML, then the version. Config-load time only.
 */
import { parse as parseYaml } from 'yaml';

export type SpecDocument = Record<string, unknown>;

export interface ParsedSpec {
  doc: SpecDocument;
  /** "3.0" or "3.1". */
  version: '3.0' | '3.1';
}

/**
 * Kong's api_spec_encoded: the spec went through URI encoding to keep YAML's line breaks in
 * form bodies. Like ngx.unescape_uri, only well-formed %XX escapes are decoded ("+" stays),
 * so a spec that was not encoded at all reads the same unless it contains such escapes.
 */
export function decodeSpecText(text: string): string {
  if (text.indexOf('%') < 0) return text;
  return text.replace(/(?:%[0-9A-Fa-f]{2})+/g, (run) => Buffer.from(run.replace(/%/g, ''), 'hex').toString('utf8'));
}

export function parseSpecText(text: string): ParsedSpec | string {
  let doc: unknown;
  const trimmed = text.trimStart();
  try {
    // JSON is YAML, but JSON.parse is an order of magnitude faster on a large spec.
    doc = trimmed.startsWith('{') ? JSON.parse(trimmed) : parseYaml(text, { maxAliasCount: 1000, merge: true });
  } catch (err) {
    return `the API spec is neither valid JSON nor valid YAML: ${(err as Error).message.split('\n')[0]}`;
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) return 'the API spec must be an OpenAPI document (a mapping)';
  const d = doc as SpecDocument;
  if (d.swagger !== undefined) return `Swagger ${String(d.swagger)} specs are not supported: convert the spec to OpenAPI 3 (e.g. with swagger2openapi)`;
  const v = d.openapi;
  if (typeof v !== 'string') return "the API spec has no 'openapi' version field (OpenAPI 3.0 or 3.1 expected)";
  const version = /^3\.0(\.\d+)?$/.test(v) ? '3.0' : /^3\.1(\.\d+)?$/.test(v) ? '3.1' : null;
  if (version === null) return `OpenAPI version ${v} is not supported (3.0.x and 3.1.x are)`;
  if (d.paths !== undefined && (d.paths === null || typeof d.paths !== 'object' || Array.isArray(d.paths))) return "the API spec's 'paths' must be a mapping";
  return { doc: d, version };
}
