/**
 * HTTP dates as nginx's ngx_parse_http_time reads them (what Kong's ngx.parse_http_time
 * uses for Date / X-Date), returning seconds since the epoch, or NaN:
 *
 *   RFC 1123  `Sun, 06 Nov 1994 08:49:37 GMT`
 *   RFC 850   `Sunday, 06-Nov-94 08:49:37 GMT`   (two-digit year: < 70 is 20xx)
 *   asctime   `Sun Nov  6 08:49:37 1994`
 *
 * Like nginx: the weekday is not checked, month names are case-sensitive, anything after
 * the time (or the asctime year) is ignored and the time is taken as GMT. Unlike
 * Date.parse, nothing else (ISO 8601, other zones) is accepted.
 */

const RFC1123 = /^[^, ]*, *(\d\d) ([A-Z][a-z][a-z]) (\d{4}) (\d\d):(\d\d):(\d\d)/;
const RFC850 = /^[^, ]*, *(\d\d)-([A-Z][a-z][a-z])-(\d\d) (\d\d):(\d\d):(\d\d)/;
const ASCTIME = /^[^, ]* +([A-Z][a-z][a-z]) {1,2}(\d\d?) (\d\d):(\d\d):(\d\d) (\d{4})/;

const MONTHS: Readonly<Record<string, number>> = {
  Jan: 0, Feb: 1, Mar: 2, Apr: 3, May: 4, Jun: 5, Jul: 6, Aug: 7, Sep: 8, Oct: 9, Nov: 10, Dec: 11,
};
const DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

function toSeconds(year: number, month: string, day: number, hour: number, min: number, sec: number): number {
  const m = MONTHS[month];
  if (m === undefined || hour > 23 || min > 59 || sec > 59 || day < 1 || day > DAYS_IN_MONTH[m]!) return NaN;
  if (m === 1 && day === 29 && (year % 4 !== 0 || (year % 100 === 0 && year % 400 !== 0))) return NaN;
  return Date.UTC(year, m, day, hour, min, sec) / 1000;
}

// Clients send the same Date for every request within a second: remember the last one.
let lastText = '';
let lastValue = NaN;

export function parseHttpDate(text: string): number {
  if (text === lastText) return lastValue;
  let v = NaN;
  let m = RFC1123.exec(text);
  if (m !== null) {
    v = toSeconds(Number(m[3]), m[2]!, Number(m[1]), Number(m[4]), Number(m[5]), Number(m[6]));
  } else if ((m = RFC850.exec(text)) !== null) {
    const yy = Number(m[3]);
    v = toSeconds(yy < 70 ? 2000 + yy : 1900 + yy, m[2]!, Number(m[1]), Number(m[4]), Number(m[5]), Number(m[6]));
  } else if ((m = ASCTIME.exec(text)) !== null) {
    v = toSeconds(Number(m[6]), m[1]!, Number(m[2]), Number(m[3]), Number(m[4]), Number(m[5]));
  }
  lastText = text;
  lastValue = v;
  return v;
}
