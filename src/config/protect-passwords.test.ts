import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { verifyPassword } from '../shared/password-hash.js';
import { loadConfigText } from './load.js';
import { PasswordProtector } from './protect-passwords.js';
import type { GatewayConfig } from './types.js';

function load(password: string): GatewayConfig {
  const text = [
    '_format_version: "3.0"',
    'consumers:',
    '  - username: alice',
    '    basicauth_credentials:',
    `      - { username: alice, password: "${password}" }`,
    '  - username: bob',
  ].join('\n');
  const r = loadConfigText(text, 'kong.yml', {});
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return r.config;
}

describe('PasswordProtector', () => {
  it('replaces a plaintext password with an scrypt hash that verifies, and keeps the config hash', async () => {
    const config = load('s3cret:with:colons');
    const out = await new PasswordProtector(10).protect(config);
    const stored = out.consumers[0]!.basicauth_credentials[0]!.password;
    expect(stored).toMatch(/^\$scrypt\$ln=10,r=8,p=1\$/);
    expect(JSON.stringify(out)).not.toContain('s3cret');
    expect(await verifyPassword('s3cret:with:colons', stored, out.consumers[0]!.id)).toBe(true);
    expect(await verifyPassword('s3cret:with:colon', stored, out.consumers[0]!.id)).toBe(false);
    expect(out.hash).toBe(config.hash);
    // The input config is left untouched (it may still be referenced elsewhere).
    expect(config.consumers[0]!.basicauth_credentials[0]!.password).toBe('s3cret:with:colons');
  });

  it('reuses the hash of an unchanged password across reloads, and forgets removed ones', async () => {
    const p = new PasswordProtector(10);
    const a = (await p.protect(load('one'))).consumers[0]!.basicauth_credentials[0]!.password;
    const b = (await p.protect(load('one'))).consumers[0]!.basicauth_credentials[0]!.password;
    expect(b).toBe(a);
    await p.protect(load('two'));
    const c = (await p.protect(load('one'))).consumers[0]!.basicauth_credentials[0]!.password;
    expect(c).not.toBe(a); // a fresh salt: 'one' was forgotten when the config dropped it
  });

  it("leaves Kong's sha1 form alone and verifies it as Kong does", async () => {
    const plain = load('x');
    const id = plain.consumers[0]!.id;
    const kong = createHash('sha1').update(`hunter2${id}`).digest('hex');
    const out = await new PasswordProtector(10).protect(load(kong));
    const stored = out.consumers[0]!.basicauth_credentials[0]!.password;
    expect(stored).toBe(kong);
    expect(await verifyPassword('hunter2', stored, id)).toBe(true);
    expect(await verifyPassword('hunter3', stored, id)).toBe(false);
  });
});
