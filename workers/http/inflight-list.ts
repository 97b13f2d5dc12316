/**
 * The exchanges in flight on a listener, as an intrusive doubly-linked list: the links live
 * on the exchange itself. A Set did the same job, but with one add and one delete per
 * request its hash table kept growing and shrinking (a rehash, with a fresh backing array,
 * every few dozen requests: seen in the page-fault profile of the plain bench); here both
 * are a few field writes and allocate nothing.
 */
export interface InflightEntry {
  /** Neighbours in the list; null at either end, and while not in a list. */
  inflightPrev: InflightEntry | null;
  inflightNext: InflightEntry | null;
  /** Whether the entry is in a list (so removing it twice, or one never added, is a no-op). */
  inflightListed: boolean;
}

export class InflightList<T extends InflightEntry> implements Iterable<T> {
  private head: T | null = null;
  size = 0;

  add(entry: T): void {
    if (entry.inflightListed) return;
    entry.inflightListed = true;
    entry.inflightPrev = null;
    entry.inflightNext = this.head;
    if (this.head !== null) this.head.inflightPrev = entry;
    this.head = entry;
    this.size++;
  }

  /** Removes `entry`; returns whether it was in the list. */
  delete(entry: T): boolean {
    if (!entry.inflightListed) return false;
    const prev = entry.inflightPrev;
    const next = entry.inflightNext;
    if (prev !== null) prev.inflightNext = next;
    else this.head = next as T | null;
    if (next !== null) next.inflightPrev = prev;
    entry.inflightPrev = null;
    entry.inflightNext = null;
    entry.inflightListed = false;
    this.size--;
    return true;
  }

  /**
   * Newest first. The entry just yielded may be removed (or others added) during the walk:
   * the next one is read before yielding. Removing an entry not yet reached skips it.
   */
  *[Symbol.iterator](): Iterator<T> {
    let entry = this.head;
    while (entry !== null) {
      const next = entry.inflightNext as T | null;
      yield entry;
      entry = next;
    }
  }

  toArray(): T[] {
    const out: T[] = [];
    for (let e = this.head; e !== null; e = e.inflightNext as T | null) out.push(e);
    return out;
  }
}
