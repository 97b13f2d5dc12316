/**
 * response-transformer config (kong/plugins/response-transformer/schema.lua, Kong 3.8+
 * with `rename.json`): field names, defaults and entry checks are Kong's, with Kong's
 * messages. Values are literal (the response-transformer has no templates).
 *
 * `max_body_size` is not in Kong (see README): the largest JSON body the plugin buffers.
 */
import { array, integer, record, string, type Infer } from '../../../src/config/schema-dsl.js';
import { isHeaderName, isHeaderValue, splitPair } from '../../transform/colon-pair.js';

export const JSON_TYPES = ['boolean', 'number', 'string'] as const;
export type JsonType = (typeof JSON_TYPES)[number];

/** `name:value` (Kong's match "^[^:]+:.*$"). */
function checkColon(entry: string): string | undefined {
  return /^[^:]+:/.test(entry) ? undefined : `invalid value: ${entry}`;
}

/** Kong's validate_colon_header_values: a header name and a value fit for a header. */
function checkHeaderPair(entry: string): string | undefined {
  const problem = checkColon(entry);
  if (problem !== undefined) return problem;
  const { name, value } = splitPair(entry)!;
  if (!isHeaderName(name)) return `'${name}' is not a valid header`;
  if (!isHeaderValue(value)) return `'${value}' is not a valid header`;
  return undefined;
}

/** Kong's validate_colon_headers: `old:new`, both header names. */
function checkRenameHeader(entry: string): string | undefined {
  const problem = checkColon(entry);
  if (problem !== undefined) return problem;
  const { name, value } = splitPair(entry)!;
  if (!isHeaderName(name)) return `'${name}' is not a valid header`;
  if (!isHeaderName(value)) return `'${value}' is not a valid header`;
  return undefined;
}

const list = (description: string) => array(string(), { default: [] as string[], description });
const colonList = (description: string) => array(string({ check: checkColon }), { default: [] as string[], description });
const headerPairs = () => array(string({ check: checkHeaderPair }), { default: [] as string[], description: 'Entries `Header-Name:value`.' });
const jsonTypes = () =>
  array(string({ one_of: JSON_TYPES }), {
    default: [] as JsonType[],
    description: 'Type of each `json` entry value, by position: string (default), number or boolean.',
  });

export const MAX_BODY_SIZE_DEFAULT = 8 * 1024 * 1024;

export const schema = record({
  remove: record({ json: list('Top-level JSON properties to remove.'), headers: list('Response headers to remove.') }, { required: true }),
  rename: record(
    {
      json: colonList('Entries `old:new`: top-level JSON properties to rename.'),
      headers: array(string({ check: checkRenameHeader }), { default: [] as string[], description: 'Entries `Old-Name:New-Name`.' }),
    },
    { required: true },
  ),
  replace: record({ json: colonList('Entries `name:value`: replaced when present.'), json_types: jsonTypes(), headers: headerPairs() }, { required: true }),
  add: record({ json: colonList('Entries `name:value`: added when absent.'), json_types: jsonTypes(), headers: headerPairs() }, { required: true }),
  append: record({ json: colonList('Entries `name:value`: appended to the property (an array).'), json_types: jsonTypes(), headers: headerPairs() }, { required: true }),
  max_body_size: integer({
    default: MAX_BODY_SIZE_DEFAULT,
    between: [0, 1024 * 1024 * 1024],
    description: 'Not in Kong: largest JSON response body (bytes, before and after decompression) buffered for a JSON transformation; a larger one is refused.',
  }),
});

export type ResponseTransformerConfig = Infer<typeof schema>;
