/**
 * Commands left in the inbox of a host that is gone (killed, or stopped with commands still queued). Its callers are
 * waiting for an answer until their deadline; nobody will take these from that inbox any more. Once the gone host's
 * sessions have been adopted, each command goes to the inbox of the session's new owner (at the end that is taken
 * first, so it keeps its place before commands sent since), or, when no live host has the session, is answered 503
 * SESSION_HOST_UNAVAILABLE at once. A command whose deadline passed is dropped: its caller was answered TIMEOUT.
 *
 * Several hosts may hand over the same inbox at once: RPOP gives each command to one of them.
 */
import { commandEnvelopeSchema, type CommandEnvelope, type CommandReply } from '../contract/commands.js';
import type { RedisKeys } from '../contract/redis-keys.js';
import type { Logger } from '../lib/logger.js';
import type { Redis } from '../lib/redis.js';
import type { SessionDirectory } from '../lib/session-directory.js';

export interface InboxHandoverOptions {
  redis: Redis;
  keys: RedisKeys;
  directory: Pick<SessionDirectory, 'get'>;
  logger: Logger;
  now?: () => number;
}

/** Empties `goneHostId`'s inbox; answers how many commands were forwarded, answered 503, or dropped. */
export async function handOverInbox(
  goneHostId: string,
  options: InboxHandoverOptions,
): Promise<{ forwarded: number; refused: number; dropped: number }> {
  const { redis, keys, directory, logger } = options;
  const now = options.now ?? Date.now;
  const inbox = keys.hostInbox(goneHostId);
  const counts = { forwarded: 0, refused: 0, dropped: 0 };
  for (;;) {
    // Newest first, each pushed onto the end the new owner takes first: the oldest ends up taken first, so the gone
    // host's commands keep their order (and go before anything sent to the new owner since).
    const raw = await redis.lpop(inbox);
    if (raw === null) break;
    let envelope: CommandEnvelope;
    try {
      const parsed = commandEnvelopeSchema.safeParse(JSON.parse(raw));
      if (!parsed.success) {
        counts.dropped += 1;
        continue;
      }
      envelope = parsed.data;
    } catch {
      counts.dropped += 1;
      continue;
    }
    if (now() > envelope.deadline) {
      counts.dropped += 1;
      continue;
    }
    const owner = (await directory.get(envelope.sessionId))?.ownerHostId ?? null;
    if (owner !== null && owner !== goneHostId) {
      await redis.rpush(keys.hostInbox(owner), raw);
      counts.forwarded += 1;
      continue;
    }
    counts.refused += 1;
    if (envelope.replyTo === null) continue;
    const reply: CommandReply = {
      requestId: envelope.requestId,
      ok: false,
      error: {
        code: 'SESSION_HOST_UNAVAILABLE',
        message: `The session host that had session '${envelope.sessionId}' is gone and no other has it yet; try again shortly.`,
        details: { sessionId: envelope.sessionId },
      },
    };
    await redis.publish(envelope.replyTo, JSON.stringify(reply));
  }
  if (counts.forwarded + counts.refused + counts.dropped > 0) logger.info({ goneHostId, ...counts }, 'handed over the inbox of a gone host');
  return counts;
}
