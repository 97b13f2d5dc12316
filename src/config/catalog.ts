/**
 * The entities of one type seen so far: uniqueness of ids and unique fields, and lookup
 * of a reference by its endpoint key (name, username) or id, as Kong's find_entity does.
 */
import { formatPath, type Issue, type Path } from './schema-dsl.js';

interface Entry {
  id: string;
  path: Path;
}

export class Catalog {
  private readonly ids = new Map<string, Path>();
  private readonly unique = new Map<string, Map<string, Entry>>();

  constructor(
    readonly entity: string,
    private readonly endpointKey: string | null,
    private readonly issues: Issue[],
    /** Keep values out of messages (a repeated API key is still a secret). */
    private readonly secretValues = false,
  ) {}

  /**
   * Registers an entity. A repeated unique field is reported at that field; a repeated id
   * only when nothing else was (a generated id repeats exactly when its key does).
   */
  add(id: string, path: Path, idGiven: boolean, uniqueFields: Readonly<Record<string, string | null>>): void {
    let reported = false;
    for (const [field, value] of Object.entries(uniqueFields)) {
      if (value === null) continue;
      let seen = this.unique.get(field);
      if (seen === undefined) this.unique.set(field, (seen = new Map()));
      const prev = seen.get(value);
      if (prev !== undefined) {
        this.issues.push({
          path: [...path, field],
          message: `uniqueness violation: '${this.entity}' entity with ${field} set to '${this.secretValues ? '***' : value}' already declared at ${formatPath(prev.path)}`,
        });
        reported = true;
      } else {
        seen.set(value, { id, path });
      }
    }
    const prev = this.ids.get(id);
    if (prev === undefined) {
      this.ids.set(id, path);
    } else if (!reported) {
      this.issues.push({
        path: idGiven ? [...path, 'id'] : path,
        message: `uniqueness violation: '${this.entity}' entity with primary key set to '${id}' already declared at ${formatPath(prev)}`,
      });
    }
  }

  /** The id a reference names (endpoint key first, then id), or undefined. */
  resolve(ref: string): string | undefined {
    if (this.endpointKey !== null) {
      const byKey = this.unique.get(this.endpointKey)?.get(ref);
      if (byKey !== undefined) return byKey.id;
    }
    return this.ids.has(ref) ? ref : undefined;
  }

  /** Resolves a top-level foreign key, reporting Kong's message when nothing matches. */
  resolveAt(ref: string, field: string, path: Path): string | null {
    const found = this.resolve(ref);
    if (found !== undefined) return found;
    this.issues.push({ path: [...path, field], message: `invalid reference '${field}: ${ref}' (no such entry in '${this.entity}')` });
    return null;
  }
}
