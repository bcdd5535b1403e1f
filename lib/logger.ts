/**
 * Structured JSON logs. Every line of a session carries `sessionId`, every line of a request `requestId`:
 * take a child logger (`logger.child({ sessionId })`) instead of formatting ids into messages.
 */
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(service: string, level = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino({
    level,
    base: { service },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
    // Keys must never reach a log line, wherever a caller put them.
    redact: {
      paths: ['apiKey', '*.apiKey', 'headers["x-api-key"]', '*.headers["x-api-key"]', 'API_KEYS', '*.API_KEYS'],
      censor: '[redacted]',
    },
  });
}
