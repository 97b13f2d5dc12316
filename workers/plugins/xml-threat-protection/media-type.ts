/**
 * Content-Type matching for checked_content_types / allowed_content_types: the media type
 * (parameters dropped, lowercased) against a list of patterns: `type/subtype`, any subtype
 * of a type (`text/` + star), any type at all (star/star) and suffix patterns such as
 * `application/` + star + `+xml`.
 */

/** `type/subtype` of a Content-Type value, lowercased, or null when there is none. */
export function mediaTypeOf(value: string | undefined): string | null {
  if (value === undefined) return null;
  const semi = value.indexOf(';');
  const mt = (semi < 0 ? value : value.slice(0, semi)).trim().toLowerCase();
  const slash = mt.indexOf('/');
  return slash > 0 && slash < mt.length - 1 ? mt : null;
}

/** A compiled list of media type patterns (built once per plugin instance). */
export class MediaTypeList {
  private readonly exact = new Set<string>();
  private readonly anyOfType = new Set<string>();
  /** [type or '*', suffix including '+'] of `type/*+suffix` patterns. */
  private readonly suffixes: Array<readonly [string, string]> = [];
  private any = false;

  constructor(patterns: readonly string[]) {
    for (const p of patterns) {
      const mt = mediaTypeOf(p);
      if (mt === null) continue;
      const [type, sub] = mt.split('/') as [string, string];
      if (sub === '*') {
        if (type === '*') this.any = true;
        else this.anyOfType.add(type);
      } else if (sub.startsWith('*+')) {
        this.suffixes.push([type, sub.slice(1)]);
      } else {
        this.exact.add(mt);
      }
    }
  }

  matches(mediaType: string): boolean {
    if (this.any || this.exact.has(mediaType)) return true;
    const slash = mediaType.indexOf('/');
    const type = mediaType.slice(0, slash);
    if (this.anyOfType.has(type)) return true;
    for (const [t, suffix] of this.suffixes) {
      if ((t === '*' || t === type) && mediaType.endsWith(suffix) && mediaType.length - slash - 1 > suffix.length) return true;
    }
    return false;
  }
}
