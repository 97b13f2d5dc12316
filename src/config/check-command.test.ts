import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { checkCommand } from '../cli/check.js';

async function run(file: string): Promise<{ code: number; out: string; err: string }> {
  const out = new PassThrough();
  const err = new PassThrough();
  const chunks = { out: '', err: '' };
  out.on('data', (c) => (chunks.out += c));
  err.on('data', (c) => (chunks.err += c));
  const code = await checkCommand(file, out, err);
  return { code, ...chunks };
}

const dir = mkdtempSync(join(tmpdir(), 'portcullis-check-'));

describe('portcullis check', () => {
  it('prints FILE:LINE:COL: PATH: MESSAGE per issue, in file order, and exits 1', async () => {
    const file = join(dir, 'bad.yml');
    writeFileSync(file, '_format_version: "3.0"\nroutes:\n  - name: r\n    service: nope\n    paths: [/]\nservices:\n  - name: s\n    host: h\n    retries: -1\n    colour: red\n');
    const r = await run(file);
    expect(r.code).toBe(1);
    expect(r.out).toBe('');
    expect(r.err.split('\n')).toEqual([
      `${file}:9:14: services[0].retries: value should be between 0 and 32767`,
      `${file}:10:5: services[0].colour: unknown field`,
      `${file}: 2 errors; the config is not valid`,
      '',
    ]);
  });

  it('prints a summary and exits 0 for a valid file', async () => {
    const file = join(dir, 'good.yml');
    writeFileSync(file, '_format_version: "3.0"\nservices:\n  - name: s\n    url: http://h\n    routes:\n      - paths: [/]\nupstreams:\n  - name: h\n    targets: [{ target: "10.0.0.1:80" }]\n');
    const r = await run(file);
    expect(r.code).toBe(0);
    expect(r.err).toBe('');
    expect(r.out).toMatch(/^OK: 1 service, 1 route, 0 consumers, 0 plugins, 1 upstream, 1 target \(hash [0-9a-f]{12}\)\n$/);
  });

  it('reports a file it cannot read', async () => {
    const r = await run(join(dir, 'missing.yml'));
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/missing\.yml:0:0: cannot read the config file: ENOENT/);
  });
});
