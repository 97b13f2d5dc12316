/**
 * Maps a field path back to a line and column of the YAML (or JSON) source, using the
 * node ranges the `yaml` package keeps. When the path leaves the document (a missing
 * field, a value produced by a default or a shorthand) the deepest node that exists is
 * used: for a missing required field that is the mapping that should contain it.
 */
import { isAlias, isMap, isPair, isScalar, isSeq, type Document, type LineCounter, type Node } from 'yaml';
import type { PathSegment } from './schema-dsl.js';

export interface Position {
  line: number;
  col: number;
}

export class PositionIndex {
  constructor(
    private readonly doc: Document.Parsed,
    private readonly lines: LineCounter,
  ) {}

  /** Position of the value at `path`, or of its key when `at` is 'key'. */
  locate(path: readonly PathSegment[], at?: 'key'): Position {
    let node: unknown = this.doc.contents;
    let best = this.offsetOf(node) ?? 0;
    for (let i = 0; i < path.length; i++) {
      node = this.deref(node);
      const seg = path[i]!;
      const last = i === path.length - 1;
      if (isMap(node)) {
        const pair = node.items.find((p) => isPair(p) && keyText(p.key) === String(seg));
        if (pair === undefined) break;
        const keyOffset = this.offsetOf(pair.key);
        if (last && at === 'key' && keyOffset !== undefined) return this.toPosition(keyOffset);
        const valueOffset = this.offsetOf(pair.value);
        // `key:` with nothing after it has no value node: point at the key.
        best = valueOffset ?? keyOffset ?? best;
        node = pair.value;
      } else if (isSeq(node) && typeof seg === 'number') {
        const item = node.items[seg];
        const offset = this.offsetOf(item);
        if (offset === undefined) break;
        best = offset;
        node = item;
      } else {
        break;
      }
    }
    return this.toPosition(best);
  }

  private deref(node: unknown): unknown {
    return isAlias(node) ? node.resolve(this.doc) : node;
  }

  private offsetOf(node: unknown): number | undefined {
    const range = (node as Node | null | undefined)?.range;
    if (range === undefined || range === null) return undefined;
    // A null scalar (`key:` with no value) sits at the end of its key; not a useful spot.
    if (isScalar(node) && node.value === null && node.source === '') return undefined;
    return range[0];
  }

  private toPosition(offset: number): Position {
    const { line, col } = this.lines.linePos(offset);
    return { line, col };
  }
}

function keyText(key: unknown): string | undefined {
  if (isScalar(key)) return String(key.value);
  return undefined;
}
