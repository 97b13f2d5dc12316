/**
 * What a failed validation answers (and logs): Kong's messages, the verbose details, and
 * the structured form (Kong 3.15's structured_errors).
 *
 * Kong's messages: without verbose_response, "request param doesn't conform to schema" or
 * "request body doesn't conform to schema"; with it, e.g. "query 'status' validation failed
 * with error: 'required parameter value not found in request'". Details never contain a
 * value from the request: only names, locations and the schema's rule.
 */
import type { LocalReply } from '../../pipeline/types.js';
import type { ParamLocation } from './plan.js';
import type { AjvError } from './spec-runtime.js';

export type IssueKind = 'route' | ParamLocation | 'body';

export interface Issue {
  kind: IssueKind;
  /** Parameter name (header names lowercased); null for body and route issues. */
  name: string | null;
  /** Human-readable reason. */
  detail: string;
  /** The schema errors behind it, when a schema rejected the value. */
  errors: AjvError[] | null;
}

export const PARAM_MESSAGE = "request param doesn't conform to schema";
export const BODY_MESSAGE = "request body doesn't conform to schema";
export const PATH_NOT_FOUND = 'path not found in api specification';
export const METHOD_NOT_ALLOWED = 'method not allowed in api specification';
export const REQUIRED_MISSING = 'required parameter value not found in request';
export const BODY_REQUIRED = 'request body is required';

/** One ajv error as text: "/owner/name must be string", "must have required property 'id'". */
export function errorText(e: AjvError): string {
  let msg = e.message ?? 'is invalid';
  // Property names come from the client: bounded, so a huge key cannot blow up a reply or a log line.
  if (e.keyword === 'additionalProperties' && typeof e.params.additionalProperty === 'string') msg += ` ('${clip(e.params.additionalProperty)}')`;
  if (e.keyword === 'enum' && Array.isArray(e.params.allowedValues) && e.params.allowedValues.length <= 10) {
    msg += `: ${e.params.allowedValues.map((v) => JSON.stringify(v)).join(', ')}`;
  }
  return e.instancePath === '' ? msg : `${clip(e.instancePath)} ${msg}`;
}

const CLIP = 128;

function clip(s: string): string {
  return s.length <= CLIP ? s : `${s.slice(0, CLIP)}…`;
}

export function errorsText(errors: readonly AjvError[]): string {
  return errors.map(errorText).join(', ');
}

/** The verbose message of one issue, in Kong's words. */
export function issueMessage(i: Issue): string {
  switch (i.kind) {
    case 'route':
      return i.detail;
    case 'body':
      return `request body validation failed with error: '${i.detail}'`;
    default:
      return `${i.kind} '${i.name}' validation failed with error: '${i.detail}'`;
  }
}

export interface ReplyOptions {
  verbose: boolean;
  structured: boolean;
  maxStructured: number;
}

const JSON_TYPE = 'application/json; charset=utf-8';

/** The 400 for a list of issues (at least one). */
export function replyFor(issues: readonly Issue[], o: ReplyOptions): LocalReply {
  const first = issues[0]!;
  if (!o.verbose) {
    const message = first.kind === 'route' ? first.detail : first.kind === 'body' ? BODY_MESSAGE : PARAM_MESSAGE;
    return { status: 400, message };
  }
  const message = issues.map(issueMessage).join('; ');
  if (!o.structured) return { status: 400, message };
  return { status: 400, body: JSON.stringify({ message, errors: structured(issues, o.maxStructured) }), contentType: JSON_TYPE };
}

interface OutputUnit {
  instanceLocation: string;
  keywordLocation: string;
  error: string;
}

/** JSON Schema 2020-12 "basic" output units; instance locations start with the request part. */
function structured(issues: readonly Issue[], max: number): OutputUnit[] {
  const out: OutputUnit[] = [];
  for (const i of issues) {
    const base = i.kind === 'route' ? '' : i.kind === 'body' ? '/body' : `/${i.kind}/${escapePointer(i.name ?? '')}`;
    if (i.errors === null || i.errors.length === 0) {
      out.push({ instanceLocation: base, keywordLocation: '', error: i.detail });
    } else {
      for (const e of i.errors) out.push({ instanceLocation: `${base}${clip(e.instancePath)}`, keywordLocation: e.schemaPath.replace(/^#/, ''), error: errorText({ ...e, instancePath: '' }) });
    }
    if (out.length >= max) break;
  }
  return out.slice(0, max);
}

function escapePointer(s: string): string {
  return s.replace(/~/g, '~0').replace(/\//g, '~1');
}
