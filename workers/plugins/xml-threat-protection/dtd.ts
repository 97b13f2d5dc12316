/**
 * What a DOCTYPE may contain when allow_dtd is on, and how much its entities expand.
 *
 * saxes hands us the DOCTYPE's text and never reads a DTD itself: it neither fetches nor
 * expands anything. But the upstream's parser may do both, so the gateway refuses what would
 * make it: an external DTD subset or external entity (XXE, SSRF: a SYSTEM/PUBLIC identifier
 * is refused, never resolved), parameter entities (the out-of-band XXE vehicle), entity
 * references in ATTLIST defaults (expanded into every element), recursive or undefined
 * references. What is left are internal general entities with literal values: their
 * expanded size is computed without expanding them, so each reference in the document can
 * be accounted for the billion-laughs limits (bla_max_amplification, bla_threshold).
 */

export interface DtdLimits {
  /** Longest entity name (entityname). */
  entityName: number;
  /** Longest entity value, in characters (entity). */
  entityValue: number;
}

export type DtdResult =
  | { ok: true; entities: Map<string, number> }
  | { ok: false; rule: 'external_entity' | 'parameter_entity' | 'entityname' | 'entity' | 'invalid_dtd'; detail: string };

/** Nesting of entity references inside entity values beyond which the DTD is refused. */
export const MAX_ENTITY_NESTING = 64;

const PREDEFINED = new Set(['lt', 'gt', 'amp', 'apos', 'quot']);
const NAME = /^[A-Za-z_:\u00C0-\uFFFF][-A-Za-z0-9._:\u00B7\u00C0-\uFFFF]*/;
const REF = /&(#x[0-9a-fA-F]+|#[0-9]+|[^;&\s]+);/g;

function fail(rule: Extract<DtdResult, { ok: false }>['rule'], detail: string): DtdResult {
  return { ok: false, rule, detail };
}

/** Parses the text saxes reports for `<!DOCTYPE ...>` (everything after the keyword). */
export function analyseDoctype(text: string, limits: DtdLimits): DtdResult {
  let i = 0;
  const n = text.length;
  const ws = () => {
    while (i < n && /\s/.test(text[i]!)) i++;
  };
  ws();
  const name = NAME.exec(text.slice(i));
  if (name === null) return fail('invalid_dtd', 'no document type name');
  i += name[0].length;
  ws();
  if (text.startsWith('SYSTEM', i) || text.startsWith('PUBLIC', i)) return fail('external_entity', 'external DTD subset');
  const values = new Map<string, string>();
  if (text[i] === '[') {
    i++;
    for (;;) {
      ws();
      if (i >= n) return fail('invalid_dtd', 'unterminated internal subset');
      if (text[i] === ']') {
        i++;
        break;
      }
      if (text[i] === '%') return fail('parameter_entity', 'parameter entity reference');
      if (text.startsWith('<!--', i)) {
        const end = text.indexOf('-->', i + 4);
        if (end < 0) return fail('invalid_dtd', 'unterminated comment');
        i = end + 3;
        continue;
      }
      if (text.startsWith('<?', i)) {
        const end = text.indexOf('?>', i + 2);
        if (end < 0) return fail('invalid_dtd', 'unterminated processing instruction');
        i = end + 2;
        continue;
      }
      if (text.startsWith('<!ENTITY', i)) {
        i += 8;
        const before = i;
        ws();
        if (i === before) return fail('invalid_dtd', 'malformed ENTITY declaration');
        if (text[i] === '%') return fail('parameter_entity', 'parameter entity declaration');
        const m = NAME.exec(text.slice(i));
        if (m === null) return fail('invalid_dtd', 'malformed ENTITY declaration');
        const entityName = m[0];
        if ([...entityName].length > limits.entityName) return fail('entityname', `entity name longer than ${limits.entityName}`);
        i += entityName.length;
        ws();
        if (text.startsWith('SYSTEM', i) || text.startsWith('PUBLIC', i)) return fail('external_entity', `external entity '${entityName.slice(0, 32)}'`);
        const q = text[i];
        if (q !== '"' && q !== "'") return fail('invalid_dtd', 'malformed ENTITY declaration');
        const end = text.indexOf(q, i + 1);
        if (end < 0) return fail('invalid_dtd', 'unterminated entity value');
        const value = text.slice(i + 1, end);
        if ([...value].length > limits.entityValue) return fail('entity', `entity value longer than ${limits.entityValue}`);
        if (value.includes('%')) return fail('parameter_entity', 'parameter entity reference in an entity value');
        i = end + 1;
        ws();
        if (text[i] !== '>') return fail('invalid_dtd', 'malformed ENTITY declaration');
        i++;
        // XML: the first declaration of an entity binds.
        if (!values.has(entityName)) values.set(entityName, value);
        continue;
      }
      if (text.startsWith('<!ELEMENT', i) || text.startsWith('<!ATTLIST', i) || text.startsWith('<!NOTATION', i)) {
        const attlist = text.startsWith('<!ATTLIST', i);
        // Skip to the closing '>', outside quoted literals.
        let j = i + 2;
        let quote = '';
        for (; j < n; j++) {
          const c = text[j]!;
          if (quote !== '') {
            if (c === quote) quote = '';
            else if (attlist && c === '&' && !text.startsWith('&#', j)) return fail('invalid_dtd', 'entity reference in an ATTLIST default');
          } else if (c === '"' || c === "'") quote = c;
          else if (c === '%') return fail('parameter_entity', 'parameter entity reference');
          else if (c === '>') break;
        }
        if (j >= n) return fail('invalid_dtd', 'unterminated declaration');
        i = j + 1;
        continue;
      }
      return fail('invalid_dtd', 'unexpected content in the internal subset');
    }
    ws();
  }
  if (i !== n) return fail('invalid_dtd', 'unexpected content after the internal subset');
  return expandedSizes(values);
}

/** Characters each entity expands to, references included; refuses cycles and undefined names. */
function expandedSizes(values: Map<string, string>): DtdResult {
  const sizes = new Map<string, number>();
  const visiting = new Set<string>();
  let problem: DtdResult | null = null;

  const size = (name: string, depth: number): number => {
    const known = sizes.get(name);
    if (known !== undefined) return known;
    if (depth > MAX_ENTITY_NESTING) {
      problem ??= fail('invalid_dtd', `entity references nested deeper than ${MAX_ENTITY_NESTING}`);
      return 0;
    }
    if (visiting.has(name)) {
      problem ??= fail('invalid_dtd', 'recursive entity reference');
      return 0;
    }
    visiting.add(name);
    const value = values.get(name)!;
    let total = 0;
    let last = 0;
    for (const m of value.matchAll(REF)) {
      total += [...value.slice(last, m.index)].length;
      last = m.index + m[0].length;
      const ref = m[1]!;
      if (ref.startsWith('#') || PREDEFINED.has(ref)) total += 1;
      else if (values.has(ref)) total += size(ref, depth + 1);
      else problem ??= fail('invalid_dtd', 'reference to an undefined entity');
      if (problem !== null) break;
    }
    total += [...value.slice(last)].length;
    visiting.delete(name);
    sizes.set(name, total);
    return total;
  };

  for (const name of values.keys()) {
    size(name, 0);
    if (problem !== null) return problem;
  }
  return { ok: true, entities: sizes };
}
