/**
 * Field types shared by the entity schemas (the subset of Kong's typedefs we need).
 */
import type { Protocol } from '../types.js';
import { any, array, forbidden, set, string } from '../schema-dsl.js';
import { checkServicePath, checkTag, checkUtf8Name } from '../validators.js';

export const PROTOCOLS: readonly Protocol[] = ['http', 'https', 'grpc', 'grpcs', 'tcp', 'tls', 'tls_passthrough', 'udp'];
/** Kong's http_protocols, sorted as Kong sorts them: the default protocols of a plugin. */
export const HTTP_PROTOCOLS: readonly Protocol[] = ['grpc', 'grpcs', 'http', 'https'];

export const id = () => string({ uuid: true });
export const name = () => string({ check: checkUtf8Name });
export const tags = () => set(string({ check: checkTag }), { default: [] });
export const protocol = () => string({ one_of: PROTOCOLS });
export const servicePath = () => string({ check: checkServicePath });

/** Every entity record accepts these; they never reach the normalised config. */
export const metaFields = () => ({
  _comment: string({ len_min: 0 }),
  _ignore: array(any()),
});

/** A top-level foreign key: the referenced entity's name (or username) or id. */
export const reference = () => string();

/** The foreign key a nesting fills in: writing it as well is refused, as in Kong. */
export const filledByNesting = (field: string, parent: string) =>
  forbidden(`value must be null: '${field}' is set by nesting this entity under a ${parent}`);

/** Any other foreign key of a nested entity: Kong allows none. */
export const notOnNested = (entity: string, field: string, parent: string) =>
  forbidden(
    `value must be null: a ${entity} nested under a ${parent} cannot also set '${field}'; declare it at the top level to combine both`,
  );

export const unsupported = (what: string) => forbidden(`${what} is not supported yet`);
