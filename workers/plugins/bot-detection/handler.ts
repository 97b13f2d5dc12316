/**
 * bot-detection (Kong PRIORITY 2500): rejects requests by their User-Agent, following
 * kong/plugins/bot-detection/handler.lua (Kong 3.x):
 *
 * - no User-Agent: let through; more than one: 400 "Only one User-Agent header allowed";
 * - the value, stripped of surrounding ASCII whitespace, is tried against `allow` (a match
 *   lets it through), then `deny` (a match rejects it), then the built-in list (bots.ts:
 *   a match rejects it); rejections are 403 with Kong's error document ("Forbidden").
 *
 * Each list is one RE2.Set (a single linear-time pass over the User-Agent, whatever the
 * number of patterns). Verdicts are kept per instance in a bounded LRU keyed by the
 * User-Agent as received (Kong keeps 10^4 per configuration): a returning User-Agent costs
 * one map lookup and allocates nothing. The cache is bounded in entries and in characters
 * (a client sending ever-new 8 KB User-Agents cannot make it hold more than
 * UA_CACHE_MAX_CHARS), and a User-Agent longer than UA_CACHE_MAX_ENTRY is examined
 * every time instead of cached. Synchronous.
 */
import RE2 from 're2';
import { LRUCache } from 'lru-cache';
import type { RequestContext } from '../../http/request-context.js';
import type { LocalReply, PluginHandler, Verdict } from '../../pipeline/types.js';
import { BOT_PATTERNS } from './bots.js';
import type { BotDetectionConfig } from './schema.js';

/** Distinct User-Agents whose verdict an instance remembers (per worker), as in Kong. */
export const UA_CACHE_SIZE = 10_000;
/** Characters of User-Agent held by one instance's cache at most (plus a fixed cost per entry). */
export const UA_CACHE_MAX_CHARS = 4 * 1024 * 1024;
/** Longer User-Agents are not cached. */
export const UA_CACHE_MAX_ENTRY = 2048;
const ENTRY_COST = 64;

export const DUPLICATE_MESSAGE = 'Only one User-Agent header allowed';
const DUPLICATE: LocalReply = Object.freeze({ status: 400, message: DUPLICATE_MESSAGE });
const FORBIDDEN: LocalReply = Object.freeze({ status: 403, message: 'Forbidden' });

const PASS = 1;
const BLOCK = 2;
type Decision = typeof PASS | typeof BLOCK;

type RE2Set = InstanceType<typeof RE2.Set>;

/** Compiled once per worker: the same for every instance. */
const BUILTIN: RE2Set = new RE2.Set(BOT_PATTERNS);

/** Kong's utils.strip: ASCII whitespace (space, \t \n \v \f \r) at both ends. */
export function strip(s: string): string {
  let start = 0;
  let end = s.length;
  while (start < end && isSpace(s.charCodeAt(start))) start++;
  while (end > start && isSpace(s.charCodeAt(end - 1))) end--;
  return start === 0 && end === s.length ? s : s.slice(start, end);
}

function isSpace(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d);
}

/** True when the built-in list says this User-Agent is a bot (allow/deny not consulted). */
export function isKnownBot(userAgent: string): boolean {
  return BUILTIN.test(strip(userAgent));
}

export function createBotDetection(conf: BotDetectionConfig): PluginHandler {
  const allow: RE2Set | null = conf.allow.length > 0 ? new RE2.Set(conf.allow) : null;
  const deny: RE2Set | null = conf.deny.length > 0 ? new RE2.Set(conf.deny) : null;

  function examine(raw: string): Decision {
    const ua = strip(raw);
    if (allow !== null && allow.test(ua)) return PASS;
    if (deny !== null && deny.test(ua)) return BLOCK;
    return BUILTIN.test(ua) ? BLOCK : PASS;
  }

  // Allocated on first use: an instance that never sees a User-Agent costs no cache.
  let cache: LRUCache<string, Decision> | null = null;
  const newCache = (): LRUCache<string, Decision> =>
    new LRUCache<string, Decision>({
      max: UA_CACHE_SIZE,
      maxSize: UA_CACHE_MAX_CHARS,
      maxEntrySize: UA_CACHE_MAX_ENTRY + ENTRY_COST,
      sizeCalculation: (_v, key) => key.length + ENTRY_COST,
    });

  return {
    access(ctx: RequestContext): Verdict {
      const ua = ctx.headers['user-agent'];
      if (ua === undefined) return undefined;
      if (ctx.isRepeated('user-agent')) return DUPLICATE;
      const c = (cache ??= newCache());
      let d = c.get(ua);
      if (d === undefined) c.set(ua, (d = examine(ua)));
      return d === BLOCK ? FORBIDDEN : undefined;
    },
  };
}
