/**
 * basic-auth password storage. A declarative file may carry a password in three forms:
 *
 * - `$scrypt$ln=15,r=8,p=1$<salt b64>$<hash b64>`: already hashed by us (or by
 *   `portcullis hash-password`); kept as is;
 * - 40 hex digits: Kong's stored form, sha1(password .. consumer_id), as decK and
 *   `kong config db_export` write it; verified the way Kong does, in constant time;
 * - anything else: a plaintext password. The supervisor replaces it with an scrypt hash
 *   before the config reaches a worker, so no worker, log, or admin listing holds it.
 *
 * Verification with scrypt is deliberately slow (tens of ms): it runs on libuv's thread
 * pool (never on a worker's event loop) and the basic-auth plugin caches successes.
 */
import { createHash, randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';

const PREFIX = '$scrypt$';
/** N = 2^15, r = 8, p = 1: 32 MiB and ~50 ms per hash on this class of machine. */
const DEFAULT_LN = 15;
const R = 8;
const P = 1;
const KEY_LEN = 32;
const KONG_SHA1 = /^[0-9a-f]{40}$/;

export type PasswordForm = 'scrypt' | 'kong-sha1' | 'plaintext';

export function passwordForm(stored: string): PasswordForm {
  if (stored.startsWith(PREFIX)) return 'scrypt';
  if (KONG_SHA1.test(stored)) return 'kong-sha1';
  return 'plaintext';
}

function scrypt(password: string | Buffer, salt: Buffer, ln: number, r: number, p: number): Promise<Buffer> {
  const N = 2 ** ln;
  const opts: ScryptOptions = { N, r, p, maxmem: 256 * N * r + 1024 * 1024 };
  return new Promise((resolve, reject) => scryptCb(password, salt, KEY_LEN, opts, (err, key) => (err ? reject(err) : resolve(key))));
}

/** Hashes a plaintext password into our stored form. */
export async function hashPassword(password: string, ln = DEFAULT_LN): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(password, salt, ln, R, P);
  return `${PREFIX}ln=${ln},r=${R},p=${P}$${salt.toString('base64')}$${key.toString('base64')}`;
}

interface ScryptParams {
  ln: number;
  r: number;
  p: number;
  salt: Buffer;
  key: Buffer;
}

function parseScrypt(stored: string): ScryptParams | null {
  const m = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$/.exec(stored);
  if (m === null) return null;
  const ln = Number(m[1]);
  const r = Number(m[2]);
  const p = Number(m[3]);
  if (ln < 10 || ln > 20 || r < 1 || p < 1) return null;
  return { ln, r, p, salt: Buffer.from(m[4]!, 'base64'), key: Buffer.from(m[5]!, 'base64') };
}

/** A reason the stored form cannot be used, or null when it is valid. */
export function checkStoredPassword(stored: string): string | null {
  if (stored.startsWith(PREFIX) && parseScrypt(stored) === null) return 'malformed $scrypt$ password hash';
  return null;
}

/**
 * Verifies a password against its stored form. `consumerId` is needed for Kong's sha1
 * form. Resolves false for a malformed stored value (never throws on client input).
 */
export async function verifyPassword(password: string, stored: string, consumerId: string): Promise<boolean> {
  switch (passwordForm(stored)) {
    case 'scrypt': {
      const params = parseScrypt(stored);
      if (params === null) return false;
      const key = await scrypt(password, params.salt, params.ln, params.r, params.p);
      return key.length === params.key.length && timingSafeEqual(key, params.key);
    }
    case 'kong-sha1': {
      const digest = createHash('sha1').update(password).update(consumerId).digest();
      return timingSafeEqual(digest, Buffer.from(stored, 'hex'));
    }
    default: {
      // Only configs that skipped the supervisor (unit tests of the plugin) get here.
      const a = createHash('sha256').update(password).digest();
      const b = createHash('sha256').update(stored).digest();
      return timingSafeEqual(a, b);
    }
  }
}
