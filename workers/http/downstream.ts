/**
 * The client side of one request, as the runloop and the proxy see it. A listener adapter
 * (uWS today; node:tls / node:http2 later) implements it, so the data path never touches
 * a listener's own objects.
 *
 * Body flow control is explicit in both directions: the request body is pulled through
 * a RequestBodySink that can pause the client, and the response body is pushed with
 * write() returning false when the client is not keeping up (then onDrain fires).
 */

export interface RequestBodySink {
  /** A chunk of request body (already copied: the sink may keep it). */
  onBodyChunk(chunk: Buffer): void;
  /** The body is complete. */
  onBodyEnd(): void;
  /** The body cannot be completed (its size limit was crossed); no more chunks follow. */
  onBodyError(err: Error): void;
}

/** A request body grew past the limit set with Downstream.limitBody (answered 413). */
export class RequestBodyLimitError extends Error {
  readonly code = 'PORTCULLIS_BODY_LIMIT';
  constructor(readonly limit: number) {
    super(`request body larger than ${limit} bytes`);
    this.name = 'RequestBodyLimitError';
  }
}

/** A header value as the listener can write it: text, or raw bytes straight from upstream. */
export type HeaderValue = string | Buffer;

export interface Downstream {
  /** The client went away (or the connection was closed): nothing more may be written. */
  readonly aborted: boolean;
  /** A response has been fully sent (or abandoned). */
  readonly finished: boolean;
  /** Whether the response head has been written. */
  readonly headSent: boolean;
  /** The request announced a body (Content-Length > 0 or chunked). */
  readonly hasBody: boolean;
  /** Content-Length of the request, or -1 when chunked / absent. */
  readonly contentLength: number;
  /** Status of the response head written to the client; 0 while none was. */
  readonly status: number;
  /** Request body bytes received from the client so far (metrics: ingress). */
  readonly bytesReceived: number;
  /** Response body bytes handed to the client connection so far (metrics: egress). */
  readonly bytesSent: number;

  /**
   * Caps the request body at `maxBytes`, counted as it streams (chunked bodies too): the
   * sink gets onBodyError(RequestBodyLimitError) the moment the limit is crossed, and
   * nothing is buffered to find out. The lowest limit set wins.
   */
  limitBody(maxBytes: number): void;
  /** Starts (or resumes) delivering the request body to the sink. */
  attachBody(sink: RequestBodySink): void;
  pauseBody(): void;
  resumeBody(): void;

  /** Sends a complete response in one go (local replies). */
  respond(status: number, headers: ReadonlyArray<HeaderValue>, body: string | Buffer | null, close: boolean): void;

  /**
   * Starts a streamed response. `headers` is a flat [name, value, ...] list; framing
   * headers (Content-Length, Transfer-Encoding, Connection) must not be in it:
   * `contentLength` >= 0 sends that length, -1 streams chunked; `noBody` for HEAD/204/304.
   */
  writeHead(status: number, headers: ReadonlyArray<HeaderValue>, contentLength: number, noBody: boolean): void;
  /** Writes a body chunk; false means back off until onDrain. */
  write(chunk: Buffer): boolean;
  /** Ends the streamed response. */
  end(): void;
  /** Called once when a write() that returned false has been flushed. */
  onDrain: (() => void) | null;
  /** Called once if the client aborts. */
  onAbort: (() => void) | null;
  /** Force-closes the connection (e.g. upstream failed mid-body: the client must not see a clean end). */
  destroy(): void;
  /**
   * Takes back a streamed response whose head is still held and of which no byte has been
   * written: returns true, and the exchange can answer anew (respond). False once anything
   * of it reached the connection.
   */
  retractHead(): boolean;
}
