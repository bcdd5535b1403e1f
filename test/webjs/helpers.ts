/** Helpers for the webjs engine tests: a recording listener, bounded waits, /proc checks. */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { pino } from 'pino';
import { waitFor as waitUntil } from '../../scripts/support/processes.js';
import type { EngineAck, EngineEvent, EngineListener, EngineStatusUpdate } from '../../session-host/engines/engine.js';
import type { Message } from '../../contract/api.js';

type EventOf<T extends EngineEvent['type']> = Omit<Extract<EngineEvent, { type: T }>, 'type'>;
export type ReactionEvent = EventOf<'reaction'>;
export type EditedEvent = EventOf<'edited'>;
export type RevokedEvent = EventOf<'revoked'>;

export const testLogger = pino({ level: process.env.LOG_LEVEL ?? 'silent' });

/** Polls `check` until it returns a value other than undefined/false, or throws after `timeoutMs`. */
export function waitFor<T>(
  what: string,
  check: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 15_000,
  everyMs = 50,
): Promise<T> {
  return waitUntil(
    what,
    async () => {
      const value = await check();
      return value === false ? undefined : value;
    },
    timeoutMs,
    everyMs,
  );
}

export class RecordingListener implements EngineListener {
  readonly statuses: EngineStatusUpdate[] = [];
  readonly messages: Message[] = [];
  readonly acks: EngineAck[] = [];
  /** What other people did: reactions, edits, deletes for everyone. */
  readonly reactions: ReactionEvent[] = [];
  readonly edits: EditedEvent[] = [];
  readonly revokes: RevokedEvent[] = [];

  emit(event: EngineEvent): void {
    switch (event.type) {
      case 'status': {
        const { type: _type, ...update } = event;
        this.statuses.push(update);
        return;
      }
      case 'message':
        this.messages.push(event.message);
        return;
      case 'ack': {
        const { type: _type, ...ack } = event;
        this.acks.push(ack);
        return;
      }
      case 'reaction': {
        const { type: _type, ...reaction } = event;
        this.reactions.push(reaction);
        return;
      }
      case 'edited': {
        const { type: _type, ...edit } = event;
        this.edits.push(edit);
        return;
      }
      case 'revoked': {
        const { type: _type, ...revoke } = event;
        this.revokes.push(revoke);
        return;
      }
    }
  }

  get last(): EngineStatusUpdate | undefined {
    return this.statuses[this.statuses.length - 1];
  }

  waitForMessage(match: (message: Message) => boolean, timeoutMs = 15_000): Promise<Message> {
    return waitFor('a matching incoming message', () => this.messages.find(match), timeoutMs);
  }

  waitForAck(match: (ack: EngineAck) => boolean, timeoutMs = 15_000): Promise<EngineAck> {
    return waitFor(`a matching ack (seen: ${JSON.stringify(this.acks)})`, () => this.acks.find(match), timeoutMs);
  }

  waitForReaction(match: (reaction: ReactionEvent) => boolean, timeoutMs = 15_000): Promise<ReactionEvent> {
    return waitFor(`a matching reaction (seen: ${JSON.stringify(this.reactions)})`, () => this.reactions.find(match), timeoutMs);
  }

  waitForEdit(match: (edit: EditedEvent) => boolean, timeoutMs = 15_000): Promise<EditedEvent> {
    return waitFor(`a matching edit (seen: ${JSON.stringify(this.edits)})`, () => this.edits.find(match), timeoutMs);
  }

  waitForRevoke(match: (revoke: RevokedEvent) => boolean, timeoutMs = 15_000): Promise<RevokedEvent> {
    return waitFor(`a matching revoke (seen: ${JSON.stringify(this.revokes)})`, () => this.revokes.find(match), timeoutMs);
  }

  /** The first update at or after index `from` that matches. */
  waitForStatus(
    match: (update: EngineStatusUpdate) => boolean,
    timeoutMs = 15_000,
    from = 0,
  ): Promise<EngineStatusUpdate> {
    return waitFor(
      `a status update matching ${match.toString()} (seen: ${this.describe()})`,
      () => this.statuses.slice(from).find(match),
      timeoutMs,
    );
  }

  describe(): string {
    return this.statuses.map((s) => s.status + (s.lastError ? `(${s.lastError.code})` : '')).join(' → ');
  }
}

/** Pids of live processes whose command line contains `needle` (here: a session's profile directory). */
export function processesMentioning(needle: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (!cmdline.includes(needle)) continue;
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
      if (state !== 'Z' && state !== 'X') pids.push(Number(entry));
    } catch {
      // gone
    }
  }
  return pids;
}

/** Chromium processes (main and children) that run on `profileDir`, as "pid state cmdline" lines. */
export function chromiumOn(profileDir: string): string[] {
  return processesMentioning(path.resolve(profileDir))
    .filter((pid) => pid !== process.pid)
    .map((pid) => {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
        return `${pid} ${stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3)} ${cmdline.slice(0, 200)}`;
      } catch {
        return `${pid} (gone)`;
      }
    });
}
