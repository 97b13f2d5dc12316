/**
 * Character trie over prefix paths. Kong's prefix match (`http.path ^= "/p"`) is a plain
 * string prefix, not segment-aware ("/p" matches "/pa"), so the trie is per character, not
 * per segment. Walking a request path visits exactly the prefixes that match it: the cost is
 * O(path length + matching entries), whatever the number of routes.
 */

interface Node<T> {
  children: Map<number, Node<T>> | null;
  /** Entries whose prefix ends here, sorted by rank so a walk can stop early. */
  entries: T[] | null;
}

export class PrefixTrie<T extends { rank: number }> {
  private readonly root: Node<T> = { children: null, entries: null };
  size = 0;

  add(prefix: string, entry: T): void {
    let node = this.root;
    for (let i = 0; i < prefix.length; i++) {
      const c = prefix.charCodeAt(i);
      node.children ??= new Map();
      let next = node.children.get(c);
      if (next === undefined) {
        next = { children: null, entries: null };
        node.children.set(c, next);
      }
      node = next;
    }
    (node.entries ??= []).push(entry);
    node.entries.sort((a, b) => a.rank - b.rank);
    this.size++;
  }

  /** Calls `visit` for every entry whose prefix is a prefix of `path`, shortest first. */
  walk(path: string, visit: (entry: T) => void): void {
    let node: Node<T> | undefined = this.root;
    for (let i = 0; i < path.length; i++) {
      node = node.children?.get(path.charCodeAt(i));
      if (node === undefined) return;
      if (node.entries !== null) for (const e of node.entries) visit(e);
    }
  }
}
