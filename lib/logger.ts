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
    // An ioredis error carries the failed command and its arguments (`command: {name, args}`): a message text, a
    // phone number, an idempotency record. Only its name and message are logged.
    serializers: { err: serializeError, error: serializeError },
    // Keys must never reach a log line, wherever a caller put them.
    redact: {
      paths: ['apiKey', '*.apiKey', 'headers["x-api-key"]', '*.headers["x-api-key"]', 'API_KEYS', '*.API_KEYS'],
      censor: '[redacted]',
    },
  });
}

/** Fields of an error that repeat what was sent to Redis (ioredis `ReplyError.command`, `args`): never logged. */
const commandFields = new Set(['command', 'args', 'previousErrors', 'lastNodeError']);

/** pino's error serializer, without the command arguments ioredis attaches, also on the errors of `cause`. */
export function serializeError(value: unknown, depth = 0): unknown {
  if (!(value instanceof Error)) return value;
  const serialized: Record<string, unknown> = { ...pino.stdSerializers.err(value) };
  for (const field of commandFields) delete serialized[field];
  const command = (value as Error & { command?: { name?: unknown } }).command;
  if (typeof command === 'object' && command !== null && typeof command.name === 'string') serialized.redisCommand = command.name;
  if (value.cause !== undefined) serialized.cause = depth < 3 ? serializeError(value.cause, depth + 1) : '[cause]';
  return serialized;
}
