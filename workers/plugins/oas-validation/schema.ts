/**
 * oas-validation config (Kong Enterprise's oas-validation, 3.1+, and 3.15's structured
 * errors), plus three fields of ours: api_spec_file, large_body_threshold and
 * max_request_body_size (README.md).
 *
 * Validating the config also compiles the spec (spec-compile.ts): a spec that does not
 * compile is a config error at load, with the spec location of the problem, and the
 * normalised config carries the compiled validators under COMPILED_FIELD. Config
 * validation of any config over a few KiB runs in the config pool thread
 * (src/supervisor/config-loader.ts), so a large spec never stalls the supervisor or a worker.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { boolean, integer, record, string, type CheckFailure, type RecordSchema, type RecordValue } from '../../../src/config/schema-dsl.js';
import { COMPILED_FIELD, type CompiledSpec } from './plan.js';
import { compileSpec } from './spec-compile.js';
import { decodeSpecText } from './spec-parse.js';

const fields = {
  api_spec: string({
    description: 'The OpenAPI 3.0/3.1 document, JSON or YAML (URI-encoded when api_spec_encoded). Kong requires it; here, it or api_spec_file.',
  }),
  api_spec_encoded: boolean({ default: true, description: 'api_spec is URI-encoded (%XX escapes are decoded before parsing).' }),
  api_spec_file: string({ description: 'Ours: path of a file holding the spec (JSON or YAML, not encoded), instead of api_spec. Read at every config load.' }),
  verbose_response: boolean({ default: false, description: 'Answers name the failing parameter or body field and the rule.' }),
  collect_all_errors: boolean({ default: false, description: 'Report every violation instead of the first.' }),
  validate_request_body: boolean({ default: true }),
  validate_request_header_params: boolean({ default: true }),
  validate_request_query_params: boolean({ default: true }),
  validate_request_uri_params: boolean({ default: true }),
  validate_response_body: boolean({ default: false, description: 'Validate JSON responses; a failing one is cut (the head is already sent).' }),
  notify_only_request_validation_failure: boolean({ default: false, description: 'Log failed requests and let them through.' }),
  notify_only_response_body_validation_failure: boolean({ default: false, description: 'Log failed responses and let them through.' }),
  query_parameter_check: boolean({ default: false, description: 'Refuse query parameters the operation does not declare.' }),
  header_parameter_check: boolean({ default: false, description: 'Refuse headers the operation does not declare (allowed_header_parameters excepted).' }),
  allowed_header_parameters: string({
    default: 'Host,Content-Type,User-Agent,Accept,Content-Length',
    description: 'Comma-separated headers header_parameter_check lets through.',
  }),
  include_base_path: boolean({ default: false, description: "Request paths carry the spec's base path (servers[].url path, or custom_base_path)." }),
  custom_base_path: string({ starts_with: '/', description: 'The base path to use instead of the servers one (with include_base_path).' }),
  structured_errors: boolean({ default: false, description: 'With verbose_response: errors as a list of JSON Schema output units.' }),
  max_structured_errors: integer({ default: 10, between: [1, 1000] }),
  large_body_threshold: integer({
    default: 262144,
    between: [0, 2147483647],
    description: 'Ours: JSON bodies of at least this many bytes are parsed and validated in a pool thread, off the event loop; 0: never.',
  }),
  max_request_body_size: integer({
    default: 8388608,
    between: [1, 1073741824],
    description: 'Ours: largest request body read for validation; larger ones are answered 413.',
  }),
};

export type OasValidationFields = RecordValue<typeof fields>;
export type OasValidationConfig = OasValidationFields & { [COMPILED_FIELD]: CompiledSpec };

/**
 * Compiled specs of recent loads, by spec text and compile options: a reload of an unchanged
 * spec (SIGHUP, a change elsewhere in the config) does not compile it again. Per thread:
 * the config pool thread keeps it while it lives.
 */
const recent = new Map<string, CompiledSpec>();
const RECENT_MAX = 4;

function compileCached(text: string, collectAllErrors: boolean, responses: boolean): CompiledSpec | string {
  const key = createHash('sha256').update(`${collectAllErrors ? 1 : 0}${responses ? 1 : 0}`).update(text).digest('hex');
  const hit = recent.get(key);
  if (hit !== undefined) return hit;
  const compiled = compileSpec(text, { collectAllErrors, responses });
  if (typeof compiled === 'string') return compiled;
  recent.set(key, compiled);
  if (recent.size > RECENT_MAX) recent.delete(recent.keys().next().value!);
  return compiled;
}

/**
 * The last check of the record: reads and compiles the spec, and attaches the result to the
 * validated config. The schema DSL hands a record's custom checks the very object it then
 * returns (and the plugin entity schema copies a plugin's checks into the `config` record it
 * builds), so the compiled spec lands in the normalised config; the unit tests assert it.
 */
function compileInto(conf: OasValidationFields): CheckFailure | undefined {
  // Both or neither set: only_one_of reports it.
  if ((conf.api_spec === null) === (conf.api_spec_file === null)) return undefined;
  let text: string;
  let field: 'api_spec' | 'api_spec_file';
  if (conf.api_spec !== null) {
    field = 'api_spec';
    text = conf.api_spec_encoded ? decodeSpecText(conf.api_spec) : conf.api_spec;
  } else {
    field = 'api_spec_file';
    try {
      text = readFileSync(conf.api_spec_file!, 'utf8');
    } catch (err) {
      return { field, message: `cannot read the spec file: ${(err as Error).message}` };
    }
  }
  const compiled = compileCached(text, conf.collect_all_errors, conf.validate_response_body);
  if (typeof compiled === 'string') return { field, message: compiled };
  Object.defineProperty(conf, COMPILED_FIELD, { value: compiled, enumerable: true, writable: true, configurable: true });
  return undefined;
}

export const schema = record(fields, { checks: [{ only_one_of: ['api_spec', 'api_spec_file'] }, { custom: compileInto }] }) as unknown as RecordSchema<OasValidationConfig, false>;
