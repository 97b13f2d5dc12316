/**
 * A chunked upload with backpressure, reading the answer while it sends: what the body
 * inspection tests need to show that a refusal comes while the client is still sending.
 */
import { connect } from 'node:net';

export interface Upload {
  status: number | null;
  text: string;
  /** Body bytes the client had written when the first answer byte arrived. */
  sentAtAnswer: number | null;
  sent: number;
  finishedSending: boolean;
  closed: boolean;
}

/** POSTs `body` chunked to `port`, 64 KiB every `intervalMs` while the socket takes it. */
export function chunkedUpload(port: number, path: string, body: Buffer, contentType: string, intervalMs = 5): Promise<Upload> {

  return new Promise((resolve) => {
    const sock = connect(port, '127.0.0.1');
    let text = '';
    let sent = 0;
    let sentAtAnswer: number | null = null;
    let closed = false;
    let timer: NodeJS.Timeout | null = null;
    const finish = () => {
      if (timer !== null) clearInterval(timer);
      clearTimeout(deadline);
      sock.destroy();
      const m = /^HTTP\/1\.1 (\d{3})/.exec(text);
      resolve({ status: m ? Number(m[1]) : null, text, sentAtAnswer, sent, finishedSending: sent >= body.length, closed });
    };
    const deadline = setTimeout(finish, 30_000);
    sock.on('data', (d: Buffer) => {
      sentAtAnswer ??= sent;
      text += d.toString('latin1');
      const head = text.indexOf('\r\n\r\n');
      const cl = /\r\ncontent-length: *(\d+)/i.exec(text);
      // A complete answer to a body that was fully sent: done (keep-alive would hold on).
      if (sent >= body.length && head >= 0 && cl !== null && text.length >= head + 4 + Number(cl[1])) finish();
    });
    sock.on('error', () => undefined);
    sock.on('close', () => {
      closed = true;
      finish();
    });
    sock.on('connect', () => {
      sock.write(`POST ${path} HTTP/1.1\r\nHost: gateway.test\r\nContent-Type: ${contentType}\r\nTransfer-Encoding: chunked\r\n\r\n`);
      timer = setInterval(() => {
        // Backpressure: `sent` stays close to what the gateway has taken in.
        if (sock.destroyed || closed || sock.writableNeedDrain) return;
        if (sent >= body.length) {
          clearInterval(timer!);
          timer = null;
          sock.write('0\r\n\r\n');
          return;
        }
        const piece = body.subarray(sent, Math.min(body.length, sent + 64 * 1024));
        sent += piece.length;
        sock.write(Buffer.concat([Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from('\r\n')]));
      }, intervalMs);
    });
  });
}
