/**
 * What the webjs engine reports once only. whatsapp-web.js fires `message` again for the same message (on a
 * resync, after a re-inject) and `message_ack` with stale or repeated values; users must see each incoming message
 * once and an ack only when it moves on. Bounded: the oldest ids are forgotten first, so a long-lived session does
 * not grow without end (a message that old is not re-fired any more).
 */
import type { Ack } from '../../../contract/api.js';
import { ackRank } from './convert.js';

/** How many message ids each memory keeps. */
export const DEFAULT_MEMORY = 5_000;

/** Drops the oldest entries (insertion order) of a Set or Map until at most `limit` are left. */
export function dropOldest(collection: Set<string> | Map<string, unknown>, limit: number): void {
  while (collection.size > limit) {
    const oldest = collection.keys().next().value;
    if (oldest === undefined) break;
    collection.delete(oldest);
  }
}

export class InboundDedup {
  private readonly seenIncoming = new Set<string>();
  private readonly reportedAcks = new Map<string, number>();

  constructor(private readonly limit = DEFAULT_MEMORY) {}

  /** True the first time an incoming message id is seen, false after. */
  isFirstSighting(messageId: string): boolean {
    if (this.seenIncoming.has(messageId)) return false;
    this.seenIncoming.add(messageId);
    dropOldest(this.seenIncoming, this.limit);
    return true;
  }

  /**
   * Whether an ack of one of the account's own messages is news, and if so remembers it. The answer to a send
   * already says `sent`, so only what moves past it counts, each step once; `failed` ranks last, so nothing
   * follows it.
   */
  ackMovesForward(messageId: string, ack: Ack): boolean {
    const rank = ackRank(ack);
    if (rank <= ackRank('sent')) return false;
    if (messageId === '') return false;
    const previous = this.reportedAcks.get(messageId) ?? ackRank('sent');
    if (rank <= previous) return false;
    // Re-inserted so the map's order is by last move: a message still moving is not the one forgotten.
    this.reportedAcks.delete(messageId);
    this.reportedAcks.set(messageId, rank);
    dropOldest(this.reportedAcks, this.limit);
    return true;
  }

  /** A send that came back already past `sent` (its answer carries that ack): later events must move past it. */
  sentWithAck(messageId: string, ack: Ack): void {
    if (ack !== 'sent') this.reportedAcks.set(messageId, ackRank(ack));
  }
}
