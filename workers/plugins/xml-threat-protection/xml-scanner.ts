/**
 * A streaming XML checker: the body's bytes are decoded as UTF-8 (fatal on invalid bytes) and
 * fed to the saxes SAX parser in slices as they arrive; its events are checked against Kong's
 * xml-threat-protection limits and the first violation stops everything (the event handler
 * throws, so the parser goes no further). saxes builds no tree, never fetches anything, and
 * treats a reference to an entity it does not know as an error; a DOCTYPE is refused unless
 * allow_dtd, and even then only internal literal entities are accepted, their expansion
 * accounted for the billion-laughs limits (dtd.ts).
 *
 * The "unparsed buffer" (Kong's `buffer`): what saxes holds that no event has reported yet
 * (a tag and its attributes, a text run, a comment...). It is measured after every slice fed
 * (at most SLICE characters) as the characters since the last event, so a single huge tag or
 * attribute is refused before it is complete.
 */
import { SaxesParser, type SaxesAttributeNS, type SaxesOptions } from 'saxes';
import { analyseDoctype } from './dtd.js';

export interface XmlLimits {
  namespaceAware: boolean;
  allowDtd: boolean;
  maxDepth: number;
  maxChildren: number;
  maxAttributes: number;
  maxNamespaces: number;
  localname: number;
  prefix: number;
  namespaceuri: number;
  text: number;
  attribute: number;
  comment: number;
  pitarget: number;
  pidata: number;
  document: number;
  buffer: number;
  entity: number;
  entityname: number;
  entityproperty: number;
  blaMaxAmplification: number;
  blaThreshold: number;
}

/** The rule: a config field name, or one of ours (external_entity, parameter_entity, invalid_xml, invalid_dtd). */
export interface XmlViolation {
  rule: string;
  detail: string;
  /** Body bytes received when it was detected. */
  offset: number;
  /** Line of the document (1-based) where the parser was. */
  line: number;
}

/** Characters handed to saxes at once: bounds how far it runs before the buffer check. */
export const SLICE = 16 * 1024;

/** Thrown from an event handler to stop the parser at once. */
const STOP = { stop: true };

const UTF8_NAMES = new Set(['utf-8', 'utf8', 'us-ascii', 'ascii']);

function charLength(s: string): number {
  // Characters, not UTF-16 units: only strings with astral characters pay for the count.
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) n--;
  }
  return n;
}

export class XmlScanner {
  violation: XmlViolation | null = null;
  bytes = 0;

  private readonly parser: SaxesParser<SaxesOptions>;
  private readonly decoder = new TextDecoder('utf-8', { fatal: true });
  private failed = false;
  /** Characters fed to saxes, and the parser position at the last event. */
  private fed = 0;
  private lastEvent = 0;
  private depth = 0;
  /** Children of each open element (index = depth - 1), and whether the last was text. */
  private readonly children: number[] = [];
  private lastWasText = false;
  /** Characters of the current run of adjacent text and CDATA. */
  private textRun = 0;
  /** Attributes and namespace declarations of the tag being opened. */
  private attributes = 0;
  private namespaces = 0;
  /** Characters entity references expanded to since the last text/attribute event, less their placeholders. */
  private pendingExpansion = 0;
  /** All the characters entity references expanded to (billion-laughs accounting). */
  private expanded = 0;

  constructor(private readonly limits: XmlLimits) {
    const p = new SaxesParser<SaxesOptions>({ xmlns: limits.namespaceAware, position: true });
    this.parser = p;
    p.on('xmldecl', (d) => {
      this.event();
      if (d.encoding !== undefined && !UTF8_NAMES.has(d.encoding.toLowerCase())) this.stop('invalid_xml', 'declared encoding is not UTF-8');
    });
    p.on('doctype', (text) => {
      this.event();
      this.doctype(text);
    });
    p.on('opentagstart', (tag) => {
      this.event();
      this.child();
      if (this.depth + 1 > limits.maxDepth) this.stop('max_depth', `deeper than ${limits.maxDepth}`);
      this.checkName(tag.name);
      this.attributes = 0;
      this.namespaces = 0;
    });
    p.on('attribute', (attr) => {
      this.event();
      this.attribute(attr as SaxesAttributeNS);
    });
    p.on('opentag', (tag) => {
      this.event();
      this.depth++;
      this.children[this.depth - 1] = 0;
      this.lastWasText = false;
      this.textRun = 0;
      if (tag.isSelfClosing) this.close();
    });
    p.on('closetag', (tag) => {
      this.event();
      if (!tag.isSelfClosing) this.close();
    });
    p.on('text', (t) => {
      this.event();
      this.textNode(charLength(t));
    });
    p.on('cdata', (t) => {
      this.event();
      this.textNode(charLength(t));
    });
    p.on('comment', (c) => {
      this.event();
      this.child();
      if (charLength(c) > limits.comment) this.stop('comment', `comment longer than ${limits.comment}`);
    });
    p.on('processinginstruction', (pi) => {
      this.event();
      this.child();
      if (charLength(pi.target) > limits.pitarget) this.stop('pitarget', `processing instruction target longer than ${limits.pitarget}`);
      if (charLength(pi.body) > limits.pidata) this.stop('pidata', `processing instruction data longer than ${limits.pidata}`);
    });
    p.on('error', (err) => {
      // saxes messages are "line:column: what" and never quote the document.
      this.stop('invalid_xml', err.message);
    });
  }

  /** Checks one chunk of the body. */
  write(buf: Uint8Array): boolean {
    if (this.failed) return false;
    this.bytes += buf.length;
    if (this.bytes > this.limits.document) return this.fail('document', `more than ${this.limits.document} bytes`);
    let text: string;
    try {
      text = this.decoder.decode(buf, { stream: true });
    } catch {
      return this.fail('invalid_xml', 'invalid UTF-8');
    }
    return this.feed(text);
  }

  /** The body is complete: is the document? */
  end(): boolean {
    if (this.failed) return false;
    if (this.bytes === 0) return true; // no body: nothing to check
    let rest: string;
    try {
      rest = this.decoder.decode();
    } catch {
      return this.fail('invalid_xml', 'invalid UTF-8');
    }
    if (!this.feed(rest)) return false;
    try {
      this.parser.close();
    } catch (err) {
      return this.caught(err);
    }
    return !this.failed;
  }

  // -------------------------------------------------------------------------------------

  private feed(text: string): boolean {
    for (let i = 0; i < text.length; i += SLICE) {
      const slice = i === 0 && text.length <= SLICE ? text : text.slice(i, i + SLICE);
      try {
        this.parser.write(slice);
      } catch (err) {
        return this.caught(err);
      }
      this.fed += slice.length;
      if (this.fed - this.lastEvent > this.limits.buffer) return this.fail('buffer', `more than ${this.limits.buffer} characters unparsed`);
    }
    return true;
  }

  private caught(err: unknown): boolean {
    if (err === STOP) return false;
    return this.fail('invalid_xml', err instanceof Error ? err.message : 'parser error');
  }

  private event(): void {
    this.lastEvent = this.parser.position;
  }

  /** One more child node of the current element (elements, comments, PIs: not text). */
  private child(): void {
    this.lastWasText = false;
    this.textRun = 0;
    if (this.depth === 0) return;
    const d = this.depth - 1;
    const count = this.children[d]! + 1;
    this.children[d] = count;
    if (count > this.limits.maxChildren) this.stop('max_children', `more than ${this.limits.maxChildren} children`);
  }

  private close(): void {
    this.depth--;
    this.lastWasText = false;
    this.textRun = 0;
  }

  /** Text or CDATA: adjacent runs are one child, their lengths added up (Kong). */
  private textNode(length: number): void {
    const total = length + this.takeExpansion();
    if (this.depth === 0) return; // whitespace around the root (saxes refuses anything else)
    if (!this.lastWasText) {
      this.child();
      this.lastWasText = true;
    }
    this.textRun += total;
    if (this.textRun > this.limits.text) this.stop('text', `text longer than ${this.limits.text}`);
  }

  private checkName(qname: string): void {
    const L = this.limits;
    if (!L.namespaceAware) {
      if (charLength(qname) > L.localname) this.stop('localname', `name longer than ${L.localname}`);
      return;
    }
    const colon = qname.indexOf(':');
    if (colon >= 0 && charLength(qname.slice(0, colon)) > L.prefix) this.stop('prefix', `prefix longer than ${L.prefix}`);
    if (charLength(colon >= 0 ? qname.slice(colon + 1) : qname) > L.localname) this.stop('localname', `local name longer than ${L.localname}`);
  }

  private attribute(attr: SaxesAttributeNS): void {
    const L = this.limits;
    const value = charLength(attr.value) + this.takeExpansion();
    if (L.namespaceAware && (attr.name === 'xmlns' || attr.prefix === 'xmlns')) {
      // A namespace declaration: counted as a namespace, not an attribute.
      if (++this.namespaces > L.maxNamespaces) this.stop('max_namespaces', `more than ${L.maxNamespaces} namespace declarations`);
      if (attr.prefix === 'xmlns' && charLength(attr.local) > L.prefix) this.stop('prefix', `prefix longer than ${L.prefix}`);
      if (value > L.namespaceuri) this.stop('namespaceuri', `namespace URI longer than ${L.namespaceuri}`);
      return;
    }
    if (++this.attributes > L.maxAttributes) this.stop('max_attributes', `more than ${L.maxAttributes} attributes`);
    this.checkName(attr.name);
    if (value > L.attribute) this.stop('attribute', `attribute value longer than ${L.attribute}`);
  }

  private doctype(text: string): void {
    const L = this.limits;
    if (!L.allowDtd) this.stop('allow_dtd', 'DOCTYPE not allowed');
    const r = analyseDoctype(text, { entityName: L.entityname, entityValue: L.entity });
    if (!r.ok) this.stop(r.rule, r.detail);
    if (!r.ok) return;
    // saxes expands what ENTITIES holds: each declared entity becomes a getter that expands to
    // one placeholder character here and accounts the size it would have upstream.
    const entities = Object.create(this.parser.ENTITIES) as Record<string, string>;
    for (const [name, size] of r.entities) {
      Object.defineProperty(entities, name, { get: () => this.expand(size), enumerable: true });
    }
    this.parser.ENTITIES = entities;
  }

  private expand(size: number): string {
    this.expanded += size;
    // One placeholder character stands for the expansion, so the text or attribute it is in
    // is reported (an empty one would not be) and its length corrected by takeExpansion.
    this.pendingExpansion += size - 1;
    const L = this.limits;
    const total = this.bytes + this.expanded;
    if (total > L.blaThreshold && total / this.bytes > L.blaMaxAmplification) {
      this.stop('bla_max_amplification', `entity expansion amplifies the document more than ${L.blaMaxAmplification} times`);
    }
    return '\u2026';
  }

  private takeExpansion(): number {
    const n = this.pendingExpansion;
    this.pendingExpansion = 0;
    return n;
  }

  /** Records the violation and unwinds out of saxes. */
  private stop(rule: string, detail: string): never {
    this.fail(rule, detail);
    throw STOP;
  }

  private fail(rule: string, detail: string): boolean {
    if (!this.failed) {
      this.failed = true;
      this.violation = { rule, detail, offset: this.bytes, line: this.parser.line };
    }
    return false;
  }
}
