/**
 * Constant-time comparison of secrets (Kong compares basic-auth hashes and HMAC
 * signatures with `==`; we do not). Both sides are first reduced to an HMAC-SHA256 under
 * a per-process random key, so the comparison takes the same time whatever the inputs
 * and their lengths, and timingSafeEqual never sees inputs of different sizes.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

const KEY = randomBytes(32);

function digest(v: string | Buffer): Buffer {
  return createHmac('sha256', KEY).update(v).digest();
}

export function safeEqual(a: string | Buffer, b: string | Buffer): boolean {
  return timingSafeEqual(digest(a), digest(b));
}
