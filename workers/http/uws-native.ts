/**
 * Loads uWebSockets.js and refuses to run on its silent fallback. The npm build we use
 * (see stack-facts) falls back to a `ws`-based implementation when its native binary
 * does not load; that is an order of magnitude slower and lacks the parser behaviour our
 * request guards are written against, so a gateway on it must not start.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type * as UWS from 'uWebSockets.js';

const require = createRequire(import.meta.url);

export type Uws = typeof UWS;

export function loadNativeUws(): Uws {
  const pkgDir = dirname(require.resolve('uWebSockets.js/package.json'));
  const binary = join(pkgDir, 'binaries', `uws_${process.platform}_${process.arch}_${process.versions.modules}.node`);
  let native: unknown;
  try {
    native = require(binary);
  } catch (err) {
    throw new Error(
      `uWebSockets.js has no native binary for this platform (${process.platform}-${process.arch}, ` +
        `Node ABI ${process.versions.modules}): ${(err as Error).message}. Portcullis refuses to run on the slow ` +
        `ws fallback; use Node 20 on linux-x64 or linux-arm64.`,
    );
  }
  const loaded = require('uWebSockets.js') as unknown;
  if (loaded !== native) {
    throw new Error(
      'uWebSockets.js loaded its ws-based fallback instead of the native binary ' +
        '(UWS_USE_FALLBACK set?). Portcullis refuses to run on it.',
    );
  }
  return native as Uws;
}
