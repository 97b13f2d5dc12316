import { describe, expect, it } from 'vitest';
import { InflightList, type InflightEntry } from './inflight-list.js';

class Entry implements InflightEntry {
  inflightPrev: InflightEntry | null = null;
  inflightNext: InflightEntry | null = null;
  inflightListed = false;
  constructor(readonly name: string) {}
}

const names = (list: InflightList<Entry>): string[] => [...list].map((e) => e.name);

describe('InflightList', () => {
  it('adds, removes from the head, the middle and the tail, and counts', () => {
    const list = new InflightList<Entry>();
    const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((n) => new Entry(n)) as [Entry, Entry, Entry, Entry];
    for (const e of [a, b, c, d]) list.add(e);
    expect(list.size).toBe(4);
    expect(names(list)).toEqual(['d', 'c', 'b', 'a']);
    expect(list.delete(c)).toBe(true);
    expect(names(list)).toEqual(['d', 'b', 'a']);
    expect(list.delete(d)).toBe(true);
    expect(list.delete(a)).toBe(true);
    expect(names(list)).toEqual(['b']);
    expect(list.size).toBe(1);
    expect(list.delete(b)).toBe(true);
    expect(list.size).toBe(0);
    expect(names(list)).toEqual([]);
    // Re-adding after removal works (exchanges are never reused, but the list must not care).
    list.add(c);
    expect(names(list)).toEqual(['c']);
  });

  it('ignores a second delete and a second add: the count stays exact', () => {
    const list = new InflightList<Entry>();
    const a = new Entry('a');
    const b = new Entry('b');
    list.add(a);
    list.add(a);
    list.add(b);
    expect(list.size).toBe(2);
    expect(list.delete(a)).toBe(true);
    expect(list.delete(a)).toBe(false);
    expect(list.delete(new Entry('never added'))).toBe(false);
    expect(list.size).toBe(1);
    expect(names(list)).toEqual(['b']);
  });

  it('lets the walk remove the entry it is on, and skips one removed ahead of it', () => {
    const list = new InflightList<Entry>();
    const all = Array.from({ length: 6 }, (_, i) => new Entry(String(i)));
    for (const e of all) list.add(e);
    const seen: string[] = [];
    for (const e of list) {
      seen.push(e.name);
      list.delete(e);
      if (e.name === '4') list.delete(all[2]!);
    }
    expect(seen).toEqual(['5', '4', '3', '1', '0']);
    expect(list.size).toBe(0);
  });

  it('toArray is a snapshot that survives removals', () => {
    const list = new InflightList<Entry>();
    for (const n of ['x', 'y', 'z']) list.add(new Entry(n));
    const snap = list.toArray();
    for (const e of snap) list.delete(e);
    expect(snap.map((e) => e.name)).toEqual(['z', 'y', 'x']);
    expect(list.size).toBe(0);
  });
});
