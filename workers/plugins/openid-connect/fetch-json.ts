/**
 * Fetches one JSON document from the identity provider (discovery document, JWKS) with a
 * timeout covering the whole exchange, a size cap, no redirects, and the response's
 * Cache-Control max-age. Runs only when a cache needs filling, never once per request.
 */

export interface FetchedDocument {
  readonly json: unknown;
  /** Cache-Control max-age in seconds (0 for no-store/no-cache), or null when absent. */
  readonly maxAgeSec: number | null;
}

/** Discovery documents and key sets are a few KiB; anything this large is not one. */
export const MAX_DOCUMENT_BYTES = 512 * 1024;

export class FetchError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'FetchError';
  }
}

/** `max-age` of a Cache-Control value; `no-store` / `no-cache` count as 0. */
export function maxAgeOf(cacheControl: string | null): number | null {
  if (cacheControl === null) return null;
  let maxAge: number | null = null;
  for (const part of cacheControl.split(',')) {
    const directive = part.trim().toLowerCase();
    if (directive === 'no-store' || directive === 'no-cache') return 0;
    const m = /^max-age\s*=\s*"?(\d+)"?$/.exec(directive);
    if (m !== null) maxAge = Number(m[1]);
  }
  return maxAge;
}

export async function fetchJson(url: string, timeoutMs: number, maxBytes: number = MAX_DOCUMENT_BYTES): Promise<FetchedDocument> {
  let res: Response;
  try {
    res = await fetch(url, {
      signal: AbortSignal.timeout(timeoutMs),
      redirect: 'error',
      headers: { accept: 'application/json' },
    });
  } catch (err) {
    throw new FetchError(`${url}: ${describe(err)}`, { cause: err });
  }
  const body = res.body;
  try {
    if (res.status !== 200) throw new FetchError(`${url}: HTTP ${res.status}`);
    const declared = Number(res.headers.get('content-length') ?? '0');
    if (declared > maxBytes) throw new FetchError(`${url}: document larger than ${maxBytes} bytes`);
    const chunks: Uint8Array[] = [];
    let size = 0;
    if (body !== null) {
      const reader = body.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        size += value.byteLength;
        if (size > maxBytes) throw new FetchError(`${url}: document larger than ${maxBytes} bytes`);
        chunks.push(value);
      }
    }
    let json: unknown;
    try {
      json = JSON.parse(Buffer.concat(chunks, size).toString('utf8'));
    } catch {
      throw new FetchError(`${url}: response is not JSON`);
    }
    return { json, maxAgeSec: maxAgeOf(res.headers.get('cache-control')) };
  } catch (err) {
    // Never leave a body half-read: undici keeps the socket busy until it is consumed.
    await body?.cancel().catch(() => undefined);
    if (err instanceof FetchError) throw err;
    throw new FetchError(`${url}: ${describe(err)}`, { cause: err });
  }
}

function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  if (err.name === 'TimeoutError') return 'timed out';
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? err.message;
}
