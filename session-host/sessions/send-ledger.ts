/**
 * At most once per Idempotency-Key, on the host itself. The functions answer a repeated key from their stored
 * response; but a host can die after a message left and before its answer was stored, and then the caller's retry
 * would send it again. So before sending, the host marks the key `started` in Redis, and after, it records the
 * message. A retry that finds `started` without a message is refused (the outcome is unknown), never re-sent.
 */
import { messageSchema, type Message } from '../../contract/api.js';
import { ServiceError, type ErrorCode } from '../../contract/errors.js';
import type { RedisKeys } from '../../contract/redis-keys.js';
import type { Redis } from '../../lib/redis.js';

const started = 'started';
/** Refusals that come before anything is sent: the key is free again after them. */
const refusals = new Set<ErrorCode>(['VALIDATION_FAILED', 'RECIPIENT_NOT_ON_WHATSAPP', 'MESSAGE_NOT_FOUND', 'NOT_SUPPORTED_BY_ENGINE']);

export class SendLedger {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly ttlSeconds: number,
  ) {}

  async once(sessionId: string, idempotencyKey: string, send: () => Promise<Message>): Promise<Message> {
    const key = this.keys.sendLedger(sessionId, idempotencyKey);
    if ((await this.redis.set(key, started, 'EX', this.ttlSeconds, 'NX')) !== 'OK') {
      const recorded = await this.redis.get(key);
      if (recorded !== null && recorded !== started) return messageSchema.parse(JSON.parse(recorded));
      throw new ServiceError(
        'IDEMPOTENCY_IN_PROGRESS',
        'A send with this Idempotency-Key was started and has no recorded outcome yet; it is not sent again.',
        { details: { idempotencyKey } },
      );
    }
    let message: Message;
    try {
      message = await send();
    } catch (error) {
      // Only a refusal of the request itself (no such chat, a number not on WhatsApp) is sure to have sent nothing:
      // the key is free again. A timeout, a page that died or an unknown outcome may have come after the message
      // left, so the mark stays: at most once.
      if (error instanceof ServiceError && refusals.has(error.code)) await this.redis.del(key);
      throw error;
    }
    await this.redis.set(key, JSON.stringify(message), 'EX', this.ttlSeconds);
    return message;
  }
}
