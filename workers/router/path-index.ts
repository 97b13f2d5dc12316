/**
 * The matchers that share a host bucket (host-index.ts), indexed by path so a lookup only
 * touches matchers whose path can match:
 *  - prefix paths in a character trie (prefix-trie.ts);
 *  - regex paths in one RE2.Set once there are enough of them: a single linear-time pass
 *    over the path says which regexes match, however many there are;
 *  - matchers without paths in a list (they match any path).
 */
import RE2 from 're2';
import type { Matcher } from './compile.js';
import { PrefixTrie } from './prefix-trie.js';

export interface PrefixEntry {
  rank: number;
  matcher: Matcher;
  prefix: string;
}

export interface RegexEntry {
  rank: number;
  matcher: Matcher;
  pattern: string;
  re: RE2;
}

type RE2Set = InstanceType<typeof RE2.Set>;

/** Below this many regexes, testing them one by one is cheaper than a set pass. */
const REGEX_SET_THRESHOLD = 8;

export class PathIndex {
  readonly trie = new PrefixTrie<PrefixEntry>();
  /** Sorted by rank. */
  readonly pathless: Matcher[] = [];
  /** One per regex path, sorted by rank. */
  regexes: RegexEntry[] = [];
  regexSet: RE2Set | null = null;
  /** Best rank among the regex entries: the regex pass is skipped when it cannot win. */
  minRegexRank = Number.POSITIVE_INFINITY;
  private readonly members = new Set<Matcher>();

  add(m: Matcher): void {
    if (this.members.has(m)) return; // e.g. hosts ["a.com", "a.com:8080"] land in one bucket
    this.members.add(m);
    if (m.pathKind === 'none') this.pathless.push(m);
    else if (m.pathKind === 'prefix') for (const prefix of m.prefixes) this.trie.add(prefix, { rank: m.rank, matcher: m, prefix });
    else for (const r of m.regexes) this.regexes.push({ rank: m.rank, matcher: m, pattern: r.pattern, re: r.re });
  }

  /** Called once all matchers are added. */
  finish(): void {
    this.pathless.sort((a, b) => a.rank - b.rank);
    this.regexes.sort((a, b) => a.rank - b.rank);
    if (this.regexes.length > 0) this.minRegexRank = this.regexes[0]!.rank;
    if (this.regexes.length >= REGEX_SET_THRESHOLD) {
      try {
        this.regexSet = new RE2.Set(this.regexes.map((e) => e.pattern));
      } catch {
        this.regexSet = null; // too big for RE2's set memory budget: fall back to one by one
      }
    }
    this.members.clear();
  }
}
