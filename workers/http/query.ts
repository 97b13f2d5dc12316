/**
 * Query strings with Kong's shapes (kong.request.get_query): a repeated argument becomes
 * an array, a bare flag (`?debug`) becomes `true`. Also removes arguments for plugins
 * that hide credentials, leaving every other byte of the query as the client sent it.
 */
export type QueryValue = string | boolean | Array<string | boolean>;
export type QueryArgs = Record<string, QueryValue>;

export function parseQuery(query: string): QueryArgs {
  const out: QueryArgs = Object.create(null);
  if (query === '') return out;
  for (const part of query.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const key = decodeComponent(eq < 0 ? part : part.slice(0, eq));
    const value: string | boolean = eq < 0 ? true : decodeComponent(part.slice(eq + 1));
    const prev = out[key];
    if (prev === undefined) out[key] = value;
    else if (Array.isArray(prev)) prev.push(value);
    else out[key] = [prev, value];
  }
  return out;
}

/** Percent-decodes a query component (`+` is a space); malformed escapes are kept as sent. */
export function decodeComponent(s: string): string {
  if (s.indexOf('%') < 0 && s.indexOf('+') < 0) return s;
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return s;
  }
}

/** The query without every occurrence of argument `name` (compared after decoding). */
export function removeQueryArg(query: string, name: string): string {
  if (query === '') return query;
  const parts = query.split('&');
  const kept: string[] = [];
  for (const part of parts) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    if (decodeComponent(eq < 0 ? part : part.slice(0, eq)) === name) continue;
    kept.push(part);
  }
  return kept.join('&');
}
