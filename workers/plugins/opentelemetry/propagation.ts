/**
 * W3C Trace Context (https://www.w3.org/TR/trace-context/): parsing an incoming
 * `traceparent`, and trace / span ids.
 *
 * Ids come from a pool of random bytes refilled with one randomFillSync call per 512 ids,
 * instead of one crypto call per id.
 */
import { randomFillSync } from 'node:crypto';

export interface TraceParent {
  /** 32 lowercase hex characters. */
  traceId: string;
  /** 16 lowercase hex characters: the caller's span, our server span's parent. */
  spanId: string;
  /** The caller sampled this trace (trace-flags bit 0). */
  sampled: boolean;
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
const ZERO_TRACE = '00000000000000000000000000000000';
const ZERO_SPAN = '0000000000000000';

/**
 * The parent carried by a `traceparent` header, or null when it is absent or invalid
 * (the spec: an invalid header is ignored and a new trace starts). Version ff is invalid;
 * version 00 has exactly four fields; later versions may append fields, which are ignored.
 */
export function parseTraceParent(value: string | undefined): TraceParent | null {
  if (value === undefined || value.length < 55) return null;
  const m = TRACEPARENT.exec(value.trim());
  if (m === null) return null;
  const version = m[1]!;
  if (version === 'ff') return null;
  if (version === '00' && m[5] !== undefined) return null;
  const traceId = m[2]!;
  const spanId = m[3]!;
  if (traceId === ZERO_TRACE || spanId === ZERO_SPAN) return null;
  return { traceId, spanId, sampled: (parseInt(m[4]!, 16) & 1) === 1 };
}

export function formatTraceParent(traceId: string, spanId: string, sampled: boolean): string {
  return `00-${traceId}-${spanId}-${sampled ? '01' : '00'}`;
}

const POOL = Buffer.allocUnsafe(8 * 512);
let poolOffset = POOL.length;

function randomHex(bytes: number): string {
  for (;;) {
    if (poolOffset + bytes > POOL.length) {
      randomFillSync(POOL);
      poolOffset = 0;
    }
    const hex = POOL.toString('hex', poolOffset, poolOffset + bytes);
    poolOffset += bytes;
    // All-zero ids are invalid; astronomically unlikely, but never emit one.
    if (hex !== ZERO_SPAN && hex !== ZERO_TRACE) return hex;
  }
}

export function newTraceId(): string {
  return randomHex(16);
}

export function newSpanId(): string {
  return randomHex(8);
}
