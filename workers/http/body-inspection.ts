/**
 * Request body inspection while it streams (json/xml threat protection and the like).
 *
 * A plugin registers a BodyInspector in its access handler with ctx.inspectRequestBody().
 * Every chunk of the request body then passes through the inspectors, in order, before it
 * goes anywhere else: to a plugin reading the whole body (ctx.readBody) or to the upstream.
 * The first verdict stops the body: nothing more is forwarded, the upstream request (if
 * any) is aborted, and the client gets the inspector's reply on a connection that is then
 * closed (the rest of its body is never read).
 *
 * One chunk is always held back until the next one has been inspected, and the last one
 * until the inspectors' end() checks passed, so an upstream never receives a complete body
 * that failed inspection (a truncated document, an unclosed container): at worst it sees
 * a request cut short, which it must discard.
 */
import type { RequestBodySink } from './downstream.js';
import type { LocalReply, Verdict } from '../pipeline/types.js';

export interface BodyInspector {
  /** Sees each body chunk in order, before anyone else. A verdict stops the body. Never throw. */
  chunk(data: Buffer): Verdict;
  /** The body is complete (called once, also for an empty body). A verdict stops the body. */
  end(): Verdict;
}

/** The body failed an inspector: the runloop answers with `reply` and closes the connection. */
export class BodyRejectedError extends Error {
  readonly code = 'PORTCULLIS_BODY_REJECTED';
  constructor(readonly reply: LocalReply) {
    super(`request body rejected (${reply.status})`);
    this.name = 'BodyRejectedError';
  }
}

/** Runs inspectors over a body that is already in memory; returns the first verdict. */
export function inspectWhole(inspectors: readonly BodyInspector[], body: Buffer): Verdict {
  for (let i = 0; i < inspectors.length; i++) {
    const ins = inspectors[i]!;
    if (body.length > 0) {
      const v = ins.chunk(body);
      if (v !== undefined) return v;
    }
    const v = ins.end();
    if (v !== undefined) return v;
  }
  return undefined;
}

/** A sink that inspects each chunk before handing it on, holding one chunk back. */
export class InspectingSink implements RequestBodySink {
  private held: Buffer | null = null;
  private stopped = false;

  constructor(
    private readonly inspectors: readonly BodyInspector[],
    private readonly next: RequestBodySink,
  ) {}

  onBodyChunk(chunk: Buffer): void {
    if (this.stopped) return;
    const ins = this.inspectors;
    for (let i = 0; i < ins.length; i++) {
      const v = ins[i]!.chunk(chunk);
      if (v !== undefined) return this.reject(v);
    }
    const held = this.held;
    this.held = chunk;
    if (held !== null) this.next.onBodyChunk(held);
  }

  onBodyEnd(): void {
    if (this.stopped) return;
    const ins = this.inspectors;
    for (let i = 0; i < ins.length; i++) {
      const v = ins[i]!.end();
      if (v !== undefined) return this.reject(v);
    }
    this.stopped = true;
    const held = this.held;
    this.held = null;
    if (held !== null) this.next.onBodyChunk(held);
    this.next.onBodyEnd();
  }

  onBodyError(err: Error): void {
    if (this.stopped) return;
    this.stopped = true;
    this.held = null;
    this.next.onBodyError(err);
  }

  private reject(reply: LocalReply): void {
    this.stopped = true;
    this.held = null;
    this.next.onBodyError(new BodyRejectedError(reply));
  }
}

/** A resumable scanner of a body format: write() chunks, then end(); false once `violation` is set. */
export interface StreamScanner<V> {
  readonly violation: V | null;
  write(chunk: Buffer): boolean;
  end(): boolean;
}

/** What a plugin does with a scanner's violation: a reply (block) or undefined (log only). */
export interface ViolationPolicy<V> {
  violated(violation: V, requestId: string): Verdict;
}

/**
 * The BodyInspector of a streaming scanner (json/xml threat protection): reports the first
 * violation once (in log-only mode the rest of the body is not scanned), and fails closed
 * if the scanner throws, since an inspector must never throw.
 */
export class ScannerInspector<V> implements BodyInspector {
  private reported = false;

  constructor(
    private readonly scanner: StreamScanner<V>,
    private readonly policy: ViolationPolicy<V>,
    private readonly requestId: string,
    /** The violation to report when the scanner itself failed. */
    private readonly internalError: (detail: string) => V,
  ) {}

  chunk(data: Buffer): Verdict {
    try {
      if (this.reported || this.scanner.write(data)) return undefined;
    } catch (err) {
      return this.crashed(err);
    }
    return this.report();
  }

  end(): Verdict {
    try {
      if (this.reported || this.scanner.end()) return undefined;
    } catch (err) {
      return this.crashed(err);
    }
    return this.report();
  }

  private crashed(err: unknown): Verdict {
    if (this.reported) return undefined;
    this.reported = true;
    return this.policy.violated(this.internalError(err instanceof Error ? err.message.slice(0, 200) : 'scanner error'), this.requestId);
  }

  private report(): Verdict {
    this.reported = true;
    return this.policy.violated(this.scanner.violation!, this.requestId);
  }
}
