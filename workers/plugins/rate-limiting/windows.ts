/**
 * Rate-limit windows: Kong's fixed windows aligned to UTC calendar boundaries
 * (kong/tools/timestamp.lua get_timestamps): a second, a minute, an hour, a day, a calendar
 * month (from the 1st, 00:00 UTC) and a calendar year (from January 1st). All times in
 * whole Unix seconds except where a name says ms.
 *
 * Month and year boundaries are cached per thread and recomputed only when the clock
 * leaves the cached window, so the hot path does integer arithmetic only.
 */

export const PERIODS = ['second', 'minute', 'hour', 'day', 'month', 'year'] as const;
export type Period = (typeof PERIODS)[number];

export const SECOND = 0;
export const MINUTE = 1;
export const HOUR = 2;
export const DAY = 3;
export const MONTH = 4;
export const YEAR = 5;

/** Kong's expiration.lua (used by Kong for RateLimit-Reset): month = 30 days, year = 365 days. */
export const KONG_EXPIRATION: readonly number[] = [1, 60, 3600, 86400, 2592000, 31536000];

/** Capitalised period names used in header names (X-RateLimit-Limit-Minute). */
export const PERIOD_TITLES: readonly string[] = ['Second', 'Minute', 'Hour', 'Day', 'Month', 'Year'];

interface CalendarCache {
  prev: number;
  start: number;
  end: number;
  next: number;
}

const monthCache: CalendarCache = { prev: 0, start: 0, end: -1, next: 0 };
const yearCache: CalendarCache = { prev: 0, start: 0, end: -1, next: 0 };

function refresh(cache: CalendarCache, now: number, year: boolean): CalendarCache {
  if (now >= cache.start && now < cache.end) return cache;
  const d = new Date(now * 1000);
  const y = d.getUTCFullYear();
  const m = year ? 0 : d.getUTCMonth();
  const at = (k: number): number => (year ? Date.UTC(y + k, 0, 1) : Date.UTC(y, m + k, 1)) / 1000;
  cache.prev = at(-1);
  cache.start = at(0);
  cache.end = at(1);
  cache.next = at(2);
  return cache;
}

/** Start of the window of `period` that contains `now`. */
export function windowStart(period: number, now: number): number {
  switch (period) {
    case SECOND:
      return now;
    case MINUTE:
      return now - (now % 60);
    case HOUR:
      return now - (now % 3600);
    case DAY:
      return now - (now % 86400);
    case MONTH:
      return refresh(monthCache, now, false).start;
    default:
      return refresh(yearCache, now, true).start;
  }
}

/**
 * The windows around `now`: out[0] previous start, out[1] start, out[2] end (= next start),
 * out[3] end of the next window.
 */
export function windowsAround(period: number, now: number, out: Float64Array): void {
  if (period >= MONTH) {
    const c = refresh(period === MONTH ? monthCache : yearCache, now, period === YEAR);
    out[0] = c.prev;
    out[1] = c.start;
    out[2] = c.end;
    out[3] = c.next;
    return;
  }
  const len = KONG_EXPIRATION[period]!;
  const start = windowStart(period, now);
  out[0] = start - len;
  out[1] = start;
  out[2] = start + len;
  out[3] = start + 2 * len;
}
