/**
 * Cache key for the match LRU, built from exactly the request fields the config's routes
 * look at (Kong does the same with fields:get_cache_key). Two requests with the same key are
 * indistinguishable to every route, so they must get the same answer; a field no route uses
 * (the method when no route has methods, a header no route names) is left out so it cannot
 * split the cache.
 *
 * Layout: the path, then for each used field "\0" + a tag character + the value. No field may
 * contain "\0" (a request that has one is routed uncached), so the key cannot be forged by
 * moving text from one field into the next. A header that is absent gets a different tag from
 * one that is present but empty.
 *
 * Memory: the caches are bounded LRUs (entry count) and keys longer than a limit are not
 * cached at all, so an attacker varying paths or header values only churns the cache; it
 * cannot grow it.
 */
import type { Matcher } from './compile.js';
import type { MatchInput } from './types.js';

export interface KeyFields {
  method: boolean;
  host: boolean;
  port: boolean;
  /** Scheme matters for snis and for protocolMismatch on https-only routes. */
  scheme: boolean;
  sni: boolean;
  /** Header names any route matches on, sorted. */
  headers: string[];
}

export function usedFields(matchers: readonly Matcher[]): KeyFields {
  const f: KeyFields = { method: false, host: false, port: false, scheme: false, sni: false, headers: [] };
  const headers = new Set<string>();
  for (const m of matchers) {
    if (m.methods !== null) f.method = true;
    if (m.hosts !== null) {
      f.host = true;
      if (m.hosts.some((h) => h.port !== null)) f.port = true;
    }
    if (m.snis !== null) f.sni = f.scheme = true;
    if (m.httpsOnly) f.scheme = true;
    if (m.headers !== null) for (const h of m.headers) headers.add(h.name);
  }
  f.headers = [...headers].sort();
  return f;
}

export type KeyFunction = (req: MatchInput) => string | null;

export function makeKeyFunction(f: KeyFields, maxLength: number): KeyFunction {
  const headerNames = f.headers;
  const separators =
    (f.method ? 1 : 0) + (f.host ? 1 : 0) + (f.port ? 1 : 0) + (f.scheme ? 1 : 0) + (f.sni ? 1 : 0) + headerNames.length;
  return (req) => {
    let key = req.path;
    if (f.method) key += '\0m' + req.method;
    if (f.host) key += '\0h' + req.host;
    if (f.port) key += '\0p' + req.port;
    if (f.scheme) key += '\0s' + req.scheme;
    if (f.sni) key += req.sni === null ? '\0n' : '\0t' + req.sni;
    for (const name of headerNames) {
      const v = req.headers[name];
      key += typeof v === 'string' ? '\0v' + v : '\0a';
    }
    if (key.length > maxLength) return null;
    // One pass over the key instead of one per field: any "\0" beyond the separators we
    // wrote came from a value, and such a request is routed without the cache.
    let n = 0;
    for (let i = key.indexOf('\0'); i !== -1; i = key.indexOf('\0', i + 1)) n++;
    return n === separators ? key : null;
  };
}
