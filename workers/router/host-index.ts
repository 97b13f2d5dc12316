/**
 * First level of the candidate index: which matchers could accept this Host. A matcher is
 * filed under each of its hosts; a lookup visits at most
 *   the exact bucket + one suffix bucket per dot in the host + one prefix bucket per dot
 *   + the bucket of matchers without hosts,
 * so a config with thousands of virtual hosts costs the same per request as one with a few.
 * A matcher's port (host:port) is checked later with the rest of its conditions.
 */
import type { Matcher } from './compile.js';
import { PathIndex } from './path-index.js';

export class HostIndex {
  readonly exact = new Map<string, PathIndex>();
  /** "*.example.com" filed under ".example.com". */
  readonly suffix = new Map<string, PathIndex>();
  /** "example.*" filed under "example.". */
  readonly prefix = new Map<string, PathIndex>();
  /** Matchers without hosts. */
  readonly any = new PathIndex();

  add(m: Matcher): void {
    if (m.hosts === null || m.hosts.length === 0) {
      this.any.add(m);
      return;
    }
    for (const h of m.hosts) {
      const map = h.kind === 'exact' ? this.exact : h.kind === 'suffix' ? this.suffix : this.prefix;
      let idx = map.get(h.value);
      if (idx === undefined) {
        idx = new PathIndex();
        map.set(h.value, idx);
      }
      idx.add(m);
    }
  }

  finish(): void {
    this.any.finish();
    for (const map of [this.exact, this.suffix, this.prefix]) for (const idx of map.values()) idx.finish();
  }

  /** Calls `visit` for every bucket that may hold matchers for `host`. */
  visit(host: string, visit: (idx: PathIndex) => void): void {
    const exact = this.exact.get(host);
    if (exact !== undefined) visit(exact);
    if (this.suffix.size > 0 || this.prefix.size > 0) {
      for (let i = host.indexOf('.'); i !== -1; i = host.indexOf('.', i + 1)) {
        if (this.suffix.size > 0) {
          const s = this.suffix.get(host.slice(i));
          if (s !== undefined) visit(s);
        }
        if (this.prefix.size > 0) {
          const p = this.prefix.get(host.slice(0, i + 1));
          if (p !== undefined) visit(p);
        }
      }
    }
    visit(this.any);
  }
}
