/**
 * Finds the spec path (template) and operation of a request path: a trie over path
 * segments, built once per worker and config at create().
 *
 * OpenAPI's rule: "when matching URLs, concrete (non-templated) paths are matched before
 * their templated counterparts", so /pets/mine wins over /pets/{petId}. The search tries a
 * segment's literal child first, then its templated children in spec order, and goes back
 * when a branch fails, including when the path matched but lacks the request's method (so
 * GET /pets/mine can still be /pets/{petId} when only that one has GET).
 *
 * A segment is either a literal, a whole-segment variable ({id}) or a mixed segment
 * (report.{format}, v{major}.{minor}), matched by an anchored RE2 pattern built from the
 * escaped literal parts. One trailing slash of a request is ignored (/pets/ is /pets).
 *
 * The trie is built lazily: a node sorts the templates below it into children when a
 * request first reaches it. create() then costs nothing per template, and a reload with
 * thousands of paths does not stall the worker; each branch is built once, by the first
 * request that walks it.
 */
import RE2 from 're2';

interface VarEdge {
  /** Null for a whole-segment variable; else the pattern of a mixed segment (one group per variable). */
  readonly re: RE2 | null;
  readonly node: TrieNode;
}

class TrieNode {
  literals: Map<string, TrieNode> | null = null;
  vars: VarEdge[] | null = null;
  /** Indexes of the templates ending here (two spellings of one shape, e.g. /a/{x} and /a/{y}). */
  ends: number[] | null = null;
  /** Mixed-segment patterns of `vars` by source, so two templates share an edge. */
  varKeys: string[] | null = null;
  /** Templates below this node not yet sorted into its children (see expand()). */
  pending: number[] | null = null;

  constructor(readonly depth: number) {}
}

/** match() results below 0: the path is not in the spec, or it is but without this method. */
export const NO_PATH = -1;
export const NO_METHOD = -2;

function escapeRegex(s: string): string {
  return s.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&');
}

export function splitPath(path: string): string[] {
  const segs = path.split('/');
  segs.shift(); // the empty string before the leading "/"
  if (segs.length > 1 && segs[segs.length - 1] === '') segs.pop();
  return segs;
}

function decodeSegment(s: string): string {
  if (s.indexOf('%') < 0) return s;
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

export class PathMatcher {
  private readonly root = new TrieNode(0);
  /**
   * Raw (still percent-encoded) values of the last match's template variables, in template
   * order. Reused by every match: read it before the next one (matching is synchronous).
   */
  readonly values: string[] = [];
  private readonly segments: Array<string[] | undefined>;

  /**
   * `templates` in spec order; `hasMethod(index, method)` says whether a template's path
   * item has an operation for a (lowercase) method.
   */
  constructor(
    private readonly templates: readonly string[],
    private readonly hasMethod: (index: number, method: string) => boolean,
  ) {
    this.segments = new Array<string[] | undefined>(templates.length);
    this.root.pending = Array.from(templates.keys());
  }

  /** Sorts the templates waiting at `node` into its children (each template once per level). */
  private expand(node: TrieNode): void {
    const pending = node.pending!;
    node.pending = null;
    for (const index of pending) {
      const segs = (this.segments[index] ??= splitPath(this.templates[index]!));
      if (segs.length === node.depth) {
        (node.ends ??= []).push(index);
        continue;
      }
      (this.child(node, segs[node.depth]!).pending ??= []).push(index);
    }
  }

  private child(node: TrieNode, seg: string): TrieNode {
    const open = seg.indexOf('{');
    if (open < 0) {
      const key = decodeSegment(seg);
      node.literals ??= new Map();
      let next = node.literals.get(key);
      if (next === undefined) node.literals.set(key, (next = new TrieNode(node.depth + 1)));
      return next;
    }
    const whole = open === 0 && seg.indexOf('}') === seg.length - 1;
    const source = whole ? '' : `^${seg.split(/\{[^{}]*\}/).map(escapeRegex).join('(.+?)')}$`;
    node.vars ??= [];
    node.varKeys ??= [];
    const at = node.varKeys.indexOf(source);
    if (at >= 0) return node.vars[at]!.node;
    const edge: VarEdge = { re: whole ? null : new RE2(source), node: new TrieNode(node.depth + 1) };
    node.vars.push(edge);
    node.varKeys.push(source);
    return edge.node;
  }

  /**
   * Matches a normalised request path for a lowercase method: the index of the template
   * (its variables' values in `values`), or NO_PATH / NO_METHOD.
   */
  match(path: string, method: string): number {
    const segs = splitPath(path);
    this.values.length = 0;
    this.pathSeen = false;
    const index = this.find(this.root, segs, 0, method);
    if (index < 0) return this.pathSeen ? NO_METHOD : NO_PATH;
    return index;
  }

  private pathSeen = false;

  private find(node: TrieNode, segs: string[], i: number, method: string): number {
    if (node.pending !== null) this.expand(node);
    if (i === segs.length) {
      const ends = node.ends;
      if (ends === null) return -1;
      this.pathSeen = true;
      for (let k = 0; k < ends.length; k++) if (this.hasMethod(ends[k]!, method)) return ends[k]!;
      return -1;
    }
    const seg = segs[i]!;
    if (node.literals !== null) {
      const next = node.literals.get(seg) ?? (seg.indexOf('%') >= 0 ? node.literals.get(decodeSegment(seg)) : undefined);
      if (next !== undefined) {
        const found = this.find(next, segs, i + 1, method);
        if (found >= 0) return found;
      }
    }
    const vars = node.vars;
    if (vars === null) return -1;
    for (let k = 0; k < vars.length; k++) {
      const edge = vars[k]!;
      const mark = this.values.length;
      if (edge.re === null) {
        // A path variable is never empty (/pets//x is not /pets/{id}/x).
        if (seg === '') continue;
        this.values.push(seg);
      } else {
        const m = edge.re.exec(seg);
        if (m === null) continue;
        for (let g = 1; g < m.length; g++) this.values.push(m[g] ?? '');
      }
      const found = this.find(edge.node, segs, i + 1, method);
      if (found >= 0) return found;
      this.values.length = mark;
    }
    return -1;
  }
}
