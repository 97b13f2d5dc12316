/**
 * Large bodies for streaming tests, generated and checked chunk by chunk so a test never
 * holds more than one chunk of a 200 MB body in memory.
 *
 * Each chunk is a fixed random block with its index stamped at several offsets: reordered,
 * repeated or dropped chunks change the digest, which a repeated constant block would not show.
 */
import { createHash, randomBytes, type Hash } from 'node:crypto';
import { Readable } from 'node:stream';

export const MB = 1024 * 1024;
const CHUNK = 64 * 1024;
const BLOCK = randomBytes(CHUNK);

function chunkAt(index: number, size: number): Buffer {
  const buf = Buffer.allocUnsafe(size);
  BLOCK.copy(buf, 0, 0, size);
  for (let off = 0; off + 4 <= size; off += 8 * 1024) buf.writeUInt32LE(index >>> 0, off);
  return buf;
}

/** Counts and hashes bytes as they pass. */
export class Digest {
  bytes = 0;
  private readonly hash: Hash = createHash('sha256');
  private result: string | null = null;

  update(chunk: Buffer): void {
    this.bytes += chunk.length;
    this.hash.update(chunk);
  }

  hex(): string {
    this.result ??= this.hash.digest('hex');
    return this.result;
  }
}

export interface PatternStream extends Readable {
  /** Digest of what has been produced so far (complete once the stream ended). */
  readonly digest: Digest;
  /** Bytes handed to the consumer so far. */
  readonly produced: number;
}

/**
 * A Readable of `total` bytes that makes each chunk only when the consumer asks for it
 * (so it honours backpressure: a stalled consumer stops production).
 */
export function patternStream(total: number, chunkSize = CHUNK): PatternStream {
  const digest = new Digest();
  let produced = 0;
  let index = 0;
  const stream = new Readable({
    highWaterMark: chunkSize,
    read() {
      if (produced >= total) {
        this.push(null);
        return;
      }
      const size = Math.min(chunkSize, total - produced);
      const chunk = chunkAt(index++, size);
      produced += size;
      digest.update(chunk);
      this.push(chunk);
    },
  }) as PatternStream;
  Object.defineProperty(stream, 'digest', { get: () => digest });
  Object.defineProperty(stream, 'produced', { get: () => produced });
  return stream;
}
