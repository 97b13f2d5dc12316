/** Option checks the bench and perf CLIs share: a bad value fails before anything starts. */

/** `--name N`: a whole number within [min, max], or `def` when absent. */
export function wholeNumber(name: string, raw: string | undefined, def: number, min: number, max: number): number {
  if (raw === undefined) return def;
  if (!/^\d+$/.test(raw)) throw new Error(`--${name} must be a whole number, got '${raw}'`);
  const n = Number(raw);
  if (n < min || n > max) throw new Error(`--${name} must be between ${min} and ${max}, got ${n}`);
  return n;
}

/** `--name V`: one of `allowed`, or null when absent. */
export function oneOf<T extends string>(name: string, raw: string | undefined, allowed: readonly T[]): T | null {
  if (raw === undefined) return null;
  if (!(allowed as readonly string[]).includes(raw)) throw new Error(`--${name} must be one of ${allowed.join('|')}, got '${raw}'`);
  return raw as T;
}
