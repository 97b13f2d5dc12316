/**
 * Vault references in referenceable fields, resolved once at load time from the process
 * environment (Kong OSS ships only the env vault: kong/vaults/env, kong/pdk/vault.lua).
 *
 *   {vault://env/my-secret}            -> $MY_SECRET
 *   {vault://env/my-secret#2}          -> $MY_SECRET_PREVIOUS (rotation)
 *   {vault://env/creds/password}       -> JSON.parse($CREDS).password
 *   {vault://env/x?prefix=APP_}        -> $APP_X
 *   {vault://my-vault/x}               -> with a declared vault {prefix: my-vault, name: env,
 *                                         config: {prefix: SECRET_}}: $SECRET_X
 *
 * The variable name is the vault's config prefix followed by the resource, upper-cased
 * with `-` turned into `_`.
 */
import type { ReferenceResolver } from './schema-dsl.js';

export interface EnvVault {
  prefix: string;
  name: string;
  config: { prefix: string | null };
}

export interface ParsedReference {
  name: string;
  resource: string;
  key: string | null;
  config: Record<string, string>;
  version: number | null;
}

const SHAPE = /^\{vault:\/\/([^/?#}]+)\/([^?#]*)(?:\?([^#]*))?(?:#(.*))?\}$/s;

function unescape(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

export function parseReference(reference: string): ParsedReference | { error: string } {
  const m = SHAPE.exec(reference);
  if (m === null) return { error: `invalid vault reference '${reference}': expected {vault://<vault>/<resource>[/<key>]}` };
  const [, name, path, query, fragment] = m as unknown as [string, string, string, string | undefined, string | undefined];
  if (path === '') return { error: `invalid vault reference '${reference}': the resource is empty` };
  const parts = path.split('/');
  const key = parts.length > 1 ? unescape(parts.pop()!) : null;
  const resource = parts.map(unescape).join('/');
  let version: number | null = null;
  if (fragment !== undefined) {
    if (!/^\d+$/.test(fragment)) return { error: `invalid vault reference '${reference}': invalid version '${fragment}'` };
    version = Number(fragment);
  }
  const config: Record<string, string> = Object.fromEntries(new URLSearchParams(query ?? ''));
  return { name, resource, key, config, version };
}

/** The environment variable an env-vault reference reads. */
export function envVariableName(prefix: string | null, resource: string, version: number | null): string {
  const base = `${prefix ?? ''}${resource}`.toUpperCase().replace(/-/g, '_');
  return version === 2 ? `${base}_PREVIOUS` : base;
}

export function createResolver(env: NodeJS.ProcessEnv, vaults: readonly EnvVault[]): ReferenceResolver {
  const byPrefix = new Map(vaults.map((v) => [v.prefix, v]));
  return (reference) => {
    const ref = parseReference(reference);
    if ('error' in ref) return ref;
    let prefix: string | null;
    if (ref.name === 'env') {
      prefix = null;
    } else {
      const vault = byPrefix.get(ref.name);
      if (vault === undefined) {
        return { error: `vault '${ref.name}' is not declared: add it under 'vaults', or use {vault://env/...}` };
      }
      prefix = vault.config.prefix;
    }
    if (ref.config.prefix !== undefined) prefix = ref.config.prefix;
    if (ref.version !== null && ref.version !== 1 && ref.version !== 2) {
      return { error: `vault reference '${reference}': the env vault only has versions 1 and 2` };
    }
    const variable = envVariableName(prefix, ref.resource, ref.version);
    const value = env[variable];
    if (value === undefined) return { error: `environment variable ${variable} is not set (vault reference '${reference}')` };
    if (ref.key === null) return { value };
    let doc: unknown;
    try {
      doc = JSON.parse(value);
    } catch {
      return { error: `environment variable ${variable} is not JSON, so key '${ref.key}' cannot be read from it` };
    }
    const field = typeof doc === 'object' && doc !== null ? (doc as Record<string, unknown>)[ref.key] : undefined;
    if (typeof field !== 'string') return { error: `environment variable ${variable} has no string key '${ref.key}'` };
    return { value: field };
  };
}
