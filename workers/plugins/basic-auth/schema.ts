/**
 * basic-auth config (kong/plugins/basic-auth/schema.lua, Kong 3.x): the anonymous
 * fallback, whether to strip the credentials before proxying, and the realm of the
 * `WWW-Authenticate: Basic realm="..."` challenge. Field order and defaults are Kong's.
 */
import { boolean, record, string, type Infer } from '../../../src/config/schema-dsl.js';

/** The realm goes into a response header verbatim (as in Kong): control characters are refused at load. */
function checkRealm(value: string): string | undefined {
  return /[\x00-\x1f\x7f]/.test(value) ? 'must not contain control characters' : undefined;
}

export const schema = record({
  anonymous: string({ description: 'Consumer id or username to use when authentication fails (logical OR with other auth plugins).' }),
  hide_credentials: boolean({ default: false, description: 'Remove the Authorization (or Proxy-Authorization) header before proxying.' }),
  realm: string({ default: 'service', check: checkRealm, description: 'Realm of the WWW-Authenticate challenge.' }),
});

export type BasicAuthConfig = Infer<typeof schema>;
