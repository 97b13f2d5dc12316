import { pino, type Logger } from 'pino';

/**
 * pino, JSON to stdout by default. Secrets never reach it: callers log ids and names,
 * never credentials, and the redaction list below is a second line of defence.
 */
export function createLogger(level: string, bindings: Record<string, unknown> = {}): Logger {
  return pino({
    level,
    base: { pid: process.pid, ...bindings },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: {
      paths: [
        'headers.authorization',
        'headers["proxy-authorization"]',
        'headers.cookie',
        'headers.apikey',
        'headers["x-api-key"]',
        'settings.adminToken',
      ],
      censor: '[redacted]',
    },
  });
}

export type { Logger };
