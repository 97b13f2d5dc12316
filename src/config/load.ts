/**
 * Loads a Kong 3.x declarative config (YAML or JSON) into the normalised GatewayConfig.
 *
 * Steps: parse (JSON is YAML 1.2, so both can go through the YAML parser and keep positions;
 * a JSON config is tried with JSON.parse first, see loadConfigText)
 * -> `_format_version` (1.1/2.1 files are migrated as Kong does) -> vaults (they decide
 * how references resolve) -> schema validation of every entity -> flatten (ids, foreign
 * keys, uniqueness) -> hash. Each step reports every issue it finds; a later step runs
 * only on a clean earlier one, so a broken field never shows up again as a confusing
 * reference error. Issues come back sorted by position.
 */
import { readFile } from 'node:fs/promises';
import { LineCounter, parseDocument } from 'yaml';
import { pluginSchemas, type PluginSchemaRegistry } from '../../workers/plugins/registry-schemas.js';
import type { ConfigIssue, GatewayConfig, LoadResult } from './types.js';
import { declarativeSchema } from './entities/declarative.js';
import { vaultSchema, vaultsSchema } from './entities/vaults.js';
import { flatten, type Decl } from './flatten.js';
import { configHash } from './hash.js';
import { migrateFrom2x } from './migrate.js';
import { PositionIndex } from './positions.js';
import { formatPath, validate, type Issue } from './schema-dsl.js';
import { createResolver, type EnvVault } from './vault.js';

export interface LoadOptions {
  /** Plugin schemas by name; defaults to the plugins this gateway ships. */
  plugins?: PluginSchemaRegistry;
}

const FORMAT_VERSIONS = ['1.1', '2.1', '3.0'];

const schemas = new WeakMap<PluginSchemaRegistry, ReturnType<typeof declarativeSchema>>();

function schemaFor(registry: PluginSchemaRegistry): ReturnType<typeof declarativeSchema> {
  let s = schemas.get(registry);
  if (s === undefined) schemas.set(registry, (s = declarativeSchema(registry)));
  return s;
}

export async function loadConfigFile(path: string, env: NodeJS.ProcessEnv = process.env, options: LoadOptions = {}): Promise<LoadResult> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    return { ok: false, issues: [{ file: path, line: 0, col: 0, path: '', message: `cannot read the config file: ${(err as Error).message}` }] };
  }
  return loadConfigText(text, path, env, options);
}

export function loadConfigText(text: string, fileName = '<inline>', env: NodeJS.ProcessEnv = process.env, options: LoadOptions = {}): LoadResult {
  // Positions are needed only to report issues. A JSON config (what decK and the admin API
  // send, and what large generated configs are) is first parsed with JSON.parse, which is
  // ~100x faster than a positional YAML parse and keeps no syntax tree (a 7.7 MB config
  // with 100,000 consumers: 13.5 s and 1.2 GB RSS through the YAML path). Only a config
  // with issues is parsed again with positions, to point at them. JSON.parse keeps the last
  // of duplicate keys, as Kong's JSON decoding does.
  if (looksLikeJson(text)) {
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch {
      raw = undefined; // the positional parse reports the syntax error
    }
    if (raw !== undefined) {
      const fast = loadParsed(raw, env, options, false);
      if (fast.ok) return fast;
    }
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, merge: true, keepSourceTokens: true });
  if (doc.errors.length > 0) {
    const issues = doc.errors.map((e): ConfigIssue => {
      const { line, col } = lineCounter.linePos(e.pos[0]);
      return { file: fileName, line, col, path: '', message: `syntax error: ${e.message}` };
    });
    return { ok: false, issues: sortIssues(issues) };
  }
  const positions = new PositionIndex(doc, lineCounter);
  const report = (issues: readonly Issue[]): LoadResult => ({
    ok: false,
    issues: sortIssues(
      issues.map((i) => {
        const { line, col } = positions.locate(i.path, i.at);
        return { file: fileName, line, col, path: formatPath(i.path), message: i.message };
      }),
    ),
  });

  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: 1000 });
  } catch (err) {
    return report([{ path: [], message: (err as Error).message }]);
  }
  const result = loadParsed(raw, env, options, true);
  if (result.ok) return result;
  return report(result.pending);
}

function looksLikeJson(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09 || c === 0xfeff) continue;
    return c === 0x7b; // '{'
  }
  return false;
}

type ParsedResult = (LoadResult & { ok: true }) | { ok: false; pending: Issue[] };

/** Validates and normalises a parsed document; issues come back unpositioned. */
function loadParsed(raw: unknown, env: NodeJS.ProcessEnv, options: LoadOptions, clone: boolean): ParsedResult {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return { ok: false, pending: [{ path: [], message: 'expected a declarative config: a mapping with _format_version and lists of entities' }] };
  }
  // A YAML document's objects may be shared through aliases: every entity gets its own copy.
  const input = (clone ? structuredClone(raw) : raw) as Record<string, unknown>;
  const issues: Issue[] = [];

  checkFormatVersion(input, issues);

  const declared = loadVaults(input.vaults, issues);
  // Values read from vaults are secrets wherever they land: remember them so the admin API
  // can redact them (src/supervisor/redact.ts) without knowing which fields were references.
  const resolver = createResolver(env, declared);
  const secrets: string[] = [];
  const resolveReference: typeof resolver = (reference, path) => {
    const r = resolver(reference, path);
    if ('value' in r && r.value !== '') secrets.push(r.value);
    return r;
  };
  const result = validate(schemaFor(options.plugins ?? pluginSchemas), input, { resolveReference });
  issues.push(...result.issues);
  if (issues.length > 0 || !result.ok) return { ok: false, pending: issues };

  const flat = flatten(result.value as Decl, issues);
  if (issues.length > 0) return { ok: false, pending: issues };
  const config: GatewayConfig = { ...flat, hash: configHash(flat) };
  return { ok: true, config, secrets };
}

/**
 * Vaults are read first and one by one: a broken vault entry must not turn every
 * reference to a valid one into a second, misleading error.
 */
function loadVaults(raw: unknown, issues: Issue[]): EnvVault[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) {
    issues.push(...validate(vaultsSchema(), raw, { path: ['vaults'] }).issues);
    return [];
  }
  const declared: EnvVault[] = [];
  const prefixes = new Map<string, number>();
  raw.forEach((v: unknown, i) => {
    const r = validate(vaultSchema(), v, { path: ['vaults', i] });
    issues.push(...r.issues);
    if (!r.ok) return;
    const first = prefixes.get(r.value.prefix);
    if (first !== undefined) {
      issues.push({
        path: ['vaults', i, 'prefix'],
        message: `uniqueness violation: 'vaults' entity with prefix set to '${r.value.prefix}' already declared at vaults[${first}]`,
      });
      return;
    }
    prefixes.set(r.value.prefix, i);
    declared.push(r.value);
  });
  return declared;
}

function checkFormatVersion(input: Record<string, unknown>, issues: Issue[]): void {
  const v = input._format_version;
  const path = ['_format_version'];
  if (v === undefined || v === null) {
    issues.push({ path, message: 'required field missing (this gateway reads Kong\'s format: _format_version: "3.0")' });
  } else if (typeof v === 'number') {
    // Unquoted, 3.0 is the number 3 in YAML.
    issues.push({ path, message: 'expected a string: quote the version, _format_version: "3.0"' });
  } else if (typeof v !== 'string') {
    issues.push({ path, message: 'expected a string' });
  } else if (!FORMAT_VERSIONS.includes(v)) {
    issues.push({ path, message: `expected one of: ${FORMAT_VERSIONS.join(', ')}` });
  } else if (v !== '3.0') {
    migrateFrom2x(input);
  }
}

function sortIssues(issues: ConfigIssue[]): ConfigIssue[] {
  // Issues without a position (line 0) go last; the sort is stable otherwise.
  const key = (i: ConfigIssue) => (i.line === 0 ? Number.MAX_SAFE_INTEGER : i.line);
  return [...issues].sort((a, b) => key(a) - key(b) || a.col - b.col);
}
