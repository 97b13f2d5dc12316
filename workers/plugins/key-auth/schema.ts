/**
 * key-auth config (kong/plugins/key-auth/schema.lua, Kong 3.x): where to look for the key,
 * whether to strip it before proxying, the anonymous fallback and the realm of the
 * WWW-Authenticate challenge. Field order and defaults are Kong's.
 */
import { array, boolean, record, string, type Infer } from '../../../src/config/schema-dsl.js';
import { checkHeaderName } from '../../../src/config/validators.js';

/**
 * The realm goes into a response header verbatim (as in Kong): control characters would
 * break every 401, so they are refused at load instead.
 */
export function checkRealm(value: string): string | undefined {
  return /[\x00-\x1f\x7f]/.test(value) ? 'must not contain control characters' : undefined;
}

export const schema = record({
  key_names: array(string({ check: checkHeaderName }), {
    default: ['apikey'],
    description: 'Header, query argument and body field names that may carry the key, tried in order.',
  }),
  hide_credentials: boolean({ default: false, description: 'Remove the key from the request before proxying it.' }),
  anonymous: string({ description: 'Consumer id or username to use when authentication fails (logical OR with other auth plugins).' }),
  key_in_header: boolean({ default: true }),
  key_in_query: boolean({ default: true }),
  key_in_body: boolean({ default: false, description: 'Also look in form-urlencoded and JSON bodies.' }),
  run_on_preflight: boolean({ default: true, description: 'Authenticate OPTIONS requests too.' }),
  realm: string({ check: checkRealm, description: 'Realm of the WWW-Authenticate challenge (`Key realm="..."`).' }),
});

export type KeyAuthConfig = Infer<typeof schema>;
