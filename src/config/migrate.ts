/**
 * Files marked `_format_version` "1.1" or "2.1" (Kong 2.x) are migrated on load as Kong
 * does (kong/db/declarative/migrations/route_path.lua, migrate_path_280_300.lua): a route
 * path that is not made of plain path characters was a regex in 2.x and gets the `~`
 * prefix 3.x requires; a plain one is normalized. Works on a copy; indices are kept, so
 * issue paths still point into the file as written.
 */
import { normalizePath } from './validators.js';

const RESERVED = new Set([...`!#$%&'()*+,/:;=?@[]`].map((c) => c.charCodeAt(0)));
const REGEX_META = new Set([...'.^-{}\\|'].map((c) => c.charCodeAt(0)));

/** 2.x percent-decoded regex paths once; 3.x does not, so decode them one last time. */
function normalizeRegex(regex: string): string {
  return regex.replace(/%([0-9A-Fa-f]{2})/g, (m, hex: string) => {
    const n = parseInt(hex, 16);
    if (RESERVED.has(n)) return m.toUpperCase();
    const c = String.fromCharCode(n);
    return REGEX_META.has(n) ? `\\${c}` : c;
  });
}

export function migratePath(path: string): string {
  if (/^[a-zA-Z0-9.\-_~/%]*$/.test(path)) return normalizePath(path);
  return `~${normalizeRegex(path)}`;
}

function migrateRoutes(routes: unknown): void {
  if (!Array.isArray(routes)) return;
  for (const route of routes) {
    const paths = (route as { paths?: unknown } | null)?.paths;
    if (!Array.isArray(paths)) continue;
    paths.forEach((p, i) => {
      if (typeof p === 'string') paths[i] = migratePath(p);
    });
  }
}

/** Migrates a (deep-copied) 1.1/2.1 document in place. */
export function migrateFrom2x(doc: Record<string, unknown>): void {
  migrateRoutes(doc.routes);
  if (Array.isArray(doc.services)) for (const s of doc.services) migrateRoutes((s as { routes?: unknown } | null)?.routes);
}
