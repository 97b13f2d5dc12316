/**
 * uWS's native methods (res.cork, res.end, req.getHeader…) do not show up as frames in a V8 CPU
 * profile: the time spent inside them (corking, the send() at uncork, header parsing) is counted
 * as self time of the JavaScript function that called them. V8 does record the source line of
 * each self tick (`positionTicks`), so a tick on a line that calls a uWS method is that method's
 * time. This module finds such lines, so the profile model can give them a frame of their own.
 *
 * It is a textual match on our built JavaScript: a call of a uWS method name on a receiver
 * named like our uWS objects (`res`, `req`, `app`, `this.res`, `uws`). Other work on the same
 * line (evaluating arguments) is counted to uWS too; on these one-call lines that is small.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const RESPONSE_METHODS = [
  'cork',
  'end',
  'endWithoutBody',
  'tryEnd',
  'write',
  'writeStatus',
  'writeHeader',
  'close',
  'pause',
  'resume',
  'getWriteOffset',
  'onWritable',
  'onAborted',
  'onData',
  'getRemoteAddress',
  'getRemoteAddressAsText',
  'getProxiedRemoteAddress',
  'getProxiedRemoteAddressAsText',
  'collect',
  'upgrade',
];
const REQUEST_METHODS = ['getHeader', 'getUrl', 'getMethod', 'getCaseSensitiveMethod', 'getQuery', 'getParameter', 'forEach', 'setYield'];
const APP_METHODS = ['listen', 'any', 'get', 'post', 'close', 'addServerName', 'publish'];

const CALL = new RegExp(
  `\\b(?:this\\.)?(?:(res)\\.(${RESPONSE_METHODS.join('|')})|(req)\\.(${REQUEST_METHODS.join('|')})|(app)\\.(${APP_METHODS.join('|')})|(uws)\\.(us_[a-z_]+))\\s*\\(`,
);

/** The uWS call on this line of JavaScript ("res.cork"), or null. */
export function uwsCallOnLine(text: string): string | null {
  const m = CALL.exec(text);
  if (m === null) return null;
  for (let i = 1; i < m.length; i += 2) if (m[i] !== undefined) return `${m[i]}.${m[i + 1]}`;
  return null;
}

/** Finds the uWS call on a 1-based line of a script, by URL. */
export type NativeCallFinder = (url: string, line: number) => string | null;

/** Reads (and caches) file:// scripts to answer `NativeCallFinder` questions. */
export function uwsCallFinder(): NativeCallFinder {
  const lines = new Map<string, string[] | null>();
  return (url, line) => {
    let text = lines.get(url);
    if (text === undefined) {
      try {
        text = url.startsWith('file://') ? readFileSync(fileURLToPath(url), 'utf8').split('\n') : null;
      } catch {
        text = null;
      }
      lines.set(url, text);
    }
    const l = text?.[line - 1];
    return l === undefined ? null : uwsCallOnLine(l);
  };
}
