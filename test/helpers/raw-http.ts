/**
 * Sends bytes exactly as given over a TCP socket and collects the answer, for requests
 * no HTTP client library would send (duplicate framing headers, bad hosts, huge heads).
 */
import { connect } from 'node:net';

export interface RawResult {
  /** Everything received until the server closed or the timeout hit. */
  text: string;
  status: number | null;
  /** True when the server closed the connection. */
  closed: boolean;
}

export function rawRequest(port: number, payload: string | Buffer, timeoutMs = 2000): Promise<RawResult> {
  return new Promise((resolve) => {
    const sock = connect(port, '127.0.0.1');
    let buf = '';
    let closed = false;
    const finish = () => {
      const m = /^HTTP\/1\.1 (\d{3})/.exec(buf);
      resolve({ text: buf, status: m ? Number(m[1]) : null, closed });
    };
    const timer = setTimeout(() => {
      sock.destroy();
      finish();
    }, timeoutMs);
    sock.on('data', (d) => (buf += d.toString('latin1')));
    sock.on('error', () => undefined);
    sock.on('close', () => {
      closed = true;
      clearTimeout(timer);
      finish();
    });
    sock.write(payload);
  });
}
