/**
 * What every authentication plugin does once it knows (or fails to know) who is calling,
 * with Kong's semantics (reference sections 3 and 4.4):
 *
 * - set_consumer sets *or clears* X-Consumer-ID / -Custom-ID / -Username and
 *   X-Credential-Identifier on the upstream request, and sets X-Anonymous-Consumer: true
 *   only when the request fell through to the anonymous consumer (clears it otherwise),
 *   so a client can never smuggle these headers to the upstream;
 * - with `anonymous` configured, auth plugins form a logical OR: a later one skips when
 *   an earlier one found a credential, and a failure maps to the anonymous consumer
 *   (500 when that consumer does not exist); without it each plugin is mandatory (AND).
 */
import type { CredentialIdentity, RequestContext } from '../http/request-context.js';
import type { LocalReply, Verdict } from '../pipeline/types.js';
import type { ConsumerIndex, IndexedConsumer } from './consumer-index.js';

export const CONSUMER_ID = 'x-consumer-id';
export const CONSUMER_CUSTOM_ID = 'x-consumer-custom-id';
export const CONSUMER_USERNAME = 'x-consumer-username';
export const CREDENTIAL_IDENTIFIER = 'x-credential-identifier';
export const ANONYMOUS_CONSUMER = 'x-anonymous-consumer';

/** Kong's set_consumer: the request is now authenticated as `consumer` with `credential`. */
export function setConsumer(ctx: RequestContext, consumer: IndexedConsumer | null, credential: CredentialIdentity | null): void {
  ctx.consumer = consumer;
  ctx.credential = credential;
  ctx.setHeader(CONSUMER_ID, consumer !== null ? consumer.id : null);
  ctx.setHeader(CONSUMER_CUSTOM_ID, consumer !== null ? consumer.custom_id : null);
  ctx.setHeader(CONSUMER_USERNAME, consumer !== null ? consumer.username : null);
  ctx.setHeader(CREDENTIAL_IDENTIFIER, credential !== null ? credential.identifier : null);
  ctx.setHeader(ANONYMOUS_CONSUMER, credential !== null ? null : 'true');
}

/**
 * Kong's logical-OR short-circuit: with `anonymous` configured and a credential already
 * found by a plugin that ran earlier, this plugin has nothing to do.
 */
export function skipBecauseAuthenticated(ctx: RequestContext, anonymous: string | null): boolean {
  return anonymous !== null && ctx.credential !== null;
}

/**
 * Ends a failed authentication: without `anonymous`, the failure is the answer; with it,
 * the request continues as the anonymous consumer, or gets 500 when that consumer is
 * missing from the config (Kong's message, logged as an error too).
 */
export function failOrAnonymous(
  ctx: RequestContext,
  anonymous: string | null,
  consumers: ConsumerIndex,
  failure: LocalReply,
  onMissingAnonymous: (message: string) => void,
): Verdict {
  if (anonymous === null) return failure;
  const consumer = consumers.resolve(anonymous);
  if (consumer === undefined) {
    const message = `anonymous consumer ${anonymous} is configured but doesn't exist`;
    onMissingAnonymous(message);
    return { status: 500, message };
  }
  setConsumer(ctx, consumer, null);
  return undefined;
}

/** `WWW-Authenticate` value: `scheme` or `scheme realm="..."`. */
export function challenge(scheme: string, realm: string | null): string {
  return realm === null || realm === '' ? scheme : `${scheme} realm="${realm}"`;
}

/** Reply objects for the common 401s, built once per plugin instance (no per-request allocation). */
export function unauthorized(message: string, wwwAuthenticate: string | null): LocalReply {
  return Object.freeze({
    status: 401,
    message,
    headers: wwwAuthenticate === null ? undefined : Object.freeze([Object.freeze(['WWW-Authenticate', wwwAuthenticate] as const)]),
  });
}
