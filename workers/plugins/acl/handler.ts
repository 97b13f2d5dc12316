/**
 * acl (Kong PRIORITY 950): lets a request through or not by the groups of whoever the
 * authentication plugins identified, following kong/plugins/acl/{handler,groups}.lua
 * (Kong 3.x):
 *
 * - the groups checked are the consumer's (its `acls`), or the groups an authentication
 *   plugin set (ctx.authenticatedGroups, Kong's authenticated_groups) when there is no
 *   consumer, when the consumer is the anonymous one (no credential), or always with
 *   always_use_authenticated_groups (falling back to the consumer's when none were set);
 * - no consumer and no authenticated groups: 401 "Unauthorized" (403 if a credential
 *   without consumer exists);
 * - `allow`: blocked unless one group is listed; `deny`: blocked if one group is listed;
 *   a consumer without groups is therefore blocked by `allow`. Blocked: 403 "You cannot
 *   consume this service";
 * - let through: `X-Consumer-Groups: g1, g2` (the consumer's groups) or
 *   `X-Authenticated-Groups: ...` (authenticated groups) is set on the upstream request,
 *   unless hide_groups_header. No groups at all clears the header (Kong sets it empty,
 *   which nginx treats as removal).
 *
 * Synchronous. The allow/deny set is built once per instance; the decision for a
 * consumer's (frozen, per-generation) group list is cached.
 */
import type { RequestContext } from '../../http/request-context.js';
import type { LocalReply, PluginHandler, Verdict } from '../../pipeline/types.js';
import type { AclConfig } from './schema.js';

export const CONSUMER_GROUPS = 'x-consumer-groups';
export const AUTHENTICATED_GROUPS = 'x-authenticated-groups';
export const BLOCKED_MESSAGE = 'You cannot consume this service';

const UNAUTHORIZED: LocalReply = Object.freeze({ status: 401, message: 'Unauthorized' });
const FORBIDDEN: LocalReply = Object.freeze({ status: 403, message: BLOCKED_MESSAGE });

/** A decision: blocked, or the header value to send (possibly empty). */
const BLOCK = null;
type Decision = string | typeof BLOCK;

export function createAcl(conf: AclConfig): PluginHandler {
  const denyMode = conf.deny !== null && conf.deny.length > 0;
  const listed = new Set<string>(denyMode ? conf.deny : (conf.allow ?? []));
  const hide = conf.hide_groups_header;
  const alwaysAuthenticated = conf.always_use_authenticated_groups;
  // Keyed by the group array itself: the consumer index freezes one per consumer per config
  // generation, so entries go away with the generation (WeakMap) and never go stale.
  const decisions = new WeakMap<readonly string[], Decision>();

  function decide(groups: readonly string[]): Decision {
    let inGroup = false;
    for (let i = 0; i < groups.length; i++) {
      if (listed.has(groups[i]!)) {
        inGroup = true;
        break;
      }
    }
    if (inGroup === denyMode) return BLOCK;
    return hide ? '' : groups.join(', ');
  }

  function decideCached(groups: readonly string[]): Decision {
    // Only immutable lists can be cached by identity (a plugin could reuse and change its own).
    if (!Object.isFrozen(groups)) return decide(groups);
    let d = decisions.get(groups);
    if (d === undefined) decisions.set(groups, (d = decide(groups)));
    return d;
  }

  return {
    access(ctx: RequestContext): Verdict {
      const consumer = ctx.consumer;
      let groups: readonly string[] | null;
      let name: string;
      if (consumer === null) {
        groups = ctx.authenticatedGroups;
        if (groups === null) return ctx.credential !== null ? FORBIDDEN : UNAUTHORIZED;
        name = AUTHENTICATED_GROUPS;
      } else {
        groups = ctx.credential === null || alwaysAuthenticated ? ctx.authenticatedGroups : null;
        name = AUTHENTICATED_GROUPS;
        if (groups === null) {
          groups = consumer.groups;
          name = CONSUMER_GROUPS;
        }
      }
      const d = decideCached(groups);
      if (d === BLOCK) return FORBIDDEN;
      // Never forward group headers the client sent itself (Kong does when it sets none).
      ctx.setHeader(CONSUMER_GROUPS, null);
      ctx.setHeader(AUTHENTICATED_GROUPS, null);
      if (d !== '') ctx.setHeader(name, d);
      return undefined;
    },
  };
}
