/**
 * request-transformer config (kong/plugins/request-transformer/schema.lua, Kong 3.x): the
 * field names, defaults and entry checks are Kong's, with Kong's messages. Stricter than
 * Kong: every value that is a template (all of them but `remove` entries and renamed
 * header names) must parse with our template subset (template.ts) when the config loads,
 * header values too, where Kong would fail at request time.
 *
 * `max_body_size` is not in Kong (see README): the largest body the plugin buffers to
 * transform it.
 */
import { array, integer, record, string, type Infer } from '../../../src/config/schema-dsl.js';
import { isHeaderName, isHeaderValue, splitPair } from '../../transform/colon-pair.js';
import { templateProblem } from './template.js';

/** Kong's validate_headers: the name (and with rename, the new name) must be a header name. */
function checkHeaderName(entry: string): string | undefined {
  const pair = splitPair(entry);
  if (pair === null || !isHeaderName(pair.name)) return `'${pair?.name ?? entry}' is not a valid header`;
  return undefined;
}

/** `name:value` (Kong's match "^[^:]+:.*$"). */
function checkColon(entry: string): string | undefined {
  return /^[^:]+:/.test(entry) ? undefined : `invalid value: ${entry}`;
}

/** Kong's check_for_value: a name, a non-empty value, and a template that compiles. */
function checkValuePair(entry: string): string | undefined {
  const pair = splitPair(entry);
  if (pair === null || pair.value === '') return `key '${pair?.name ?? entry}' has no value`;
  return templateProblem(pair.value);
}

/** replace/add/append headers: `name:value`, a header name, a value fit for a header. */
function checkHeaderPair(entry: string): string | undefined {
  const problem = checkColon(entry) ?? checkHeaderName(entry);
  if (problem !== undefined) return problem;
  const { value } = splitPair(entry)!;
  if (!isHeaderValue(value)) return `'${value}' is not a valid header`;
  return templateProblem(value);
}

/** rename headers: `old:new`, both header names. */
function checkRenameHeader(entry: string): string | undefined {
  const problem = checkColon(entry) ?? checkHeaderName(entry);
  if (problem !== undefined) return problem;
  const { value } = splitPair(entry)!;
  return isHeaderName(value) ? undefined : `'${value}' is not a valid header`;
}

/** replace.uri: a path template (the rendered path is checked again per request). */
function checkUri(value: string): string | undefined {
  if (!value.startsWith('/') && !value.startsWith('$(')) return `invalid value: ${value} (the path must start with '/')`;
  if (/(^|\/)\.\.?(\/|$)/.test(value)) return `invalid value: ${value} (the path must not contain '.' or '..' segments)`;
  return templateProblem(value);
}

const DESCRIBE_PAIRS = 'Entries `name:value`; values may be templates ($(headers.x), $(query_params.x), $(uri_captures.x), $(shared.x)).';

const names = (check?: (v: string) => string | undefined) =>
  array(check === undefined ? string() : string({ check }), { default: [] as string[], description: 'Names to remove.' });
const pairs = (check: (v: string) => string | undefined) => array(string({ check }), { default: [] as string[], description: DESCRIBE_PAIRS });

export const MAX_BODY_SIZE_DEFAULT = 8 * 1024 * 1024;

export const schema = record({
  http_method: string({
    pattern: /^[A-Z]+$/,
    description: 'Method of the upstream request (upper-case letters only). GET, HEAD or TRACE also copy an urlencoded form body into the query.',
  }),
  remove: record(
    {
      body: names(),
      headers: names(checkHeaderName),
      querystring: names(),
    },
    { required: true },
  ),
  rename: record(
    {
      body: pairs(checkValuePair),
      headers: pairs(checkRenameHeader),
      querystring: pairs(checkValuePair),
    },
    { required: true },
  ),
  replace: record(
    {
      body: pairs(checkValuePair),
      headers: pairs(checkHeaderPair),
      querystring: pairs(checkValuePair),
      uri: string({ check: checkUri, description: 'Upstream path, replacing the one computed from the route and service; may be a template.' }),
    },
    { required: true },
  ),
  add: record(
    {
      body: pairs(checkValuePair),
      headers: pairs(checkHeaderPair),
      querystring: pairs(checkValuePair),
    },
    { required: true },
  ),
  append: record(
    {
      body: pairs(checkValuePair),
      headers: pairs(checkHeaderPair),
      querystring: pairs(checkValuePair),
    },
    { required: true },
  ),
  max_body_size: integer({
    default: MAX_BODY_SIZE_DEFAULT,
    between: [0, 1024 * 1024 * 1024],
    description: 'Not in Kong: largest request body (bytes) buffered for a body transformation; a larger one is answered 413.',
  }),
});

export type RequestTransformerConfig = Infer<typeof schema>;
