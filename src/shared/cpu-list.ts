/**
 * Linux CPU list syntax, as in taskset -c, cpusets and /proc/<pid>/status Cpus_allowed_list:
 * comma-separated core ids and inclusive ranges, e.g. `0,2,4-7`. Parsing keeps the order and
 * repetitions the user wrote: `--cpu-affinity 1,0` gives worker 0 core 1 and worker 1 core 0.
 */

/** Largest core id accepted (the addon's limit too): above any machine, refuses typos like 1e9. */
export const MAX_CPU_ID = 65535;

/** Core ids in the order written, ranges expanded; throws an Error saying what is wrong. */
export function parseCpuList(text: string): number[] {
  const cpus: number[] = [];
  const parts = text.split(',').map((p) => p.trim());
  if (parts.length === 1 && parts[0] === '') throw new Error('expected core ids like 0,1 or 0-3, got an empty list');
  for (const part of parts) {
    const m = /^(\d{1,6})(?:-(\d{1,6}))?$/.exec(part);
    if (m === null) throw new Error(`'${part}' is not a core id or a range like 0-3`);
    const first = Number(m[1]);
    const last = m[2] === undefined ? first : Number(m[2]);
    if (first > MAX_CPU_ID || last > MAX_CPU_ID) throw new Error(`'${part}': core ids go up to ${MAX_CPU_ID}`);
    if (last < first) throw new Error(`'${part}': a range goes from the lower id to the higher one`);
    for (let cpu = first; cpu <= last; cpu++) cpus.push(cpu);
  }
  return cpus;
}

/** The compact form (`0-3,6`) of a set of core ids, as the kernel prints Cpus_allowed_list. */
export function formatCpuList(cpus: readonly number[]): string {
  const sorted = [...new Set(cpus)].sort((a, b) => a - b);
  const out: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    out.push(i === j ? String(sorted[i]) : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return out.join(',');
}
