/**
 * The audit log: one JSON line per config change (or rejected attempt), to the
 * supervisor's pino log with `audit: true` and, with --audit-log FILE, appended to that
 * file too. A line carries hashes, versions, counts and who asked: never an entity's
 * content, so never a secret.
 */
import { appendFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import { canonicalJson } from '../config/hash.js';
import type { GatewayConfig } from '../config/types.js';

export type ConfigSource = 'startup' | 'sighup' | 'admin' | 'watch' | 'cli';

export const ENTITY_TYPES = ['services', 'routes', 'consumers', 'plugins', 'upstreams'] as const;
export type EntityType = (typeof ENTITY_TYPES)[number];

export interface DiffCounts {
  added: number;
  removed: number;
  changed: number;
}

/** Per entity type: how many entities (by id) appeared, disappeared or differ. */
export function diffSummary(before: GatewayConfig | null, after: GatewayConfig): Record<EntityType, DiffCounts> {
  const out = {} as Record<EntityType, DiffCounts>;
  for (const type of ENTITY_TYPES) {
    const old = new Map<string, string>();
    for (const e of (before?.[type] ?? []) as Array<{ id: string }>) old.set(e.id, canonicalJson(e));
    const counts: DiffCounts = { added: 0, removed: 0, changed: 0 };
    const seen = new Set<string>();
    for (const e of after[type] as Array<{ id: string }>) {
      seen.add(e.id);
      const prev = old.get(e.id);
      if (prev === undefined) counts.added++;
      else if (prev !== canonicalJson(e)) counts.changed++;
    }
    for (const id of old.keys()) if (!seen.has(id)) counts.removed++;
    out[type] = counts;
  }
  return out;
}

export interface AuditEntry {
  source: ConfigSource;
  result: 'applied' | 'rejected' | 'rolled-back';
  /** Admin client address (admin and cli sources). */
  client?: string | null;
  old_hash: string | null;
  new_hash: string | null;
  /** Configuration version after the change (the running one when rejected). */
  version: number;
  diff?: Record<EntityType, DiffCounts>;
  /** Rejections: how many problems (their text can quote values, so it is not logged here). */
  errors?: number;
  reason?: string;
}

export class AuditLog {
  private readonly log: Logger;
  private writes: Promise<void> = Promise.resolve();

  constructor(
    log: Logger,
    private readonly file: string | null,
  ) {
    // Audit lines are written whatever --log-level says (unless it is 'silent').
    this.log = log.level === 'silent' ? log : log.child({}, { level: 'info' });
  }

  record(entry: AuditEntry): void {
    // pino stamps `time` itself; the file line carries its own.
    this.log.info({ audit: true, ...entry }, entry.result === 'applied' ? 'config changed' : `config change ${entry.result}`);
    if (this.file !== null) {
      const file = this.file;
      const text = `${JSON.stringify({ audit: true, time: new Date().toISOString(), pid: process.pid, ...entry })}\n`;
      this.writes = this.writes.then(() =>
        appendFile(file, text, { mode: 0o600 }).catch((err: Error) => this.log.error({ err: err.message, file }, 'cannot write the audit log')),
      );
    }
  }

  /** Resolves once every line so far is in the file. */
  flush(): Promise<void> {
    return this.writes;
  }
}
