/**
 * What each command of the protocol does on the session host: one handler per command, in a map typed over the
 * command table (contract/commands.ts), so a command without a handler, or a handler that answers the wrong shape,
 * does not compile. Each handler gets the caller's deadline as a signal, which the session manager passes to the
 * engine call.
 */
import type { CommandOf, CommandResult, CommandType } from '../contract/commands.js';
import type { CommandContext, CommandHandler } from './command-worker.js';
import type { SessionManager } from './sessions/session-manager.js';

export interface ResumeHandler {
  /** Starts a replay on the connection's own queue; the replay answers the client itself (`resumed` or `error`). */
  startResume(connectionId: string, sessionId: string, after: string): void;
}

export interface HandlerContext extends CommandContext {
  sessionId: string;
}

export type Handler<T extends CommandType> = (command: CommandOf<T>, context: HandlerContext) => Promise<CommandResult<T>>;
export type CommandHandlers = { [T in CommandType]: Handler<T> };

export function commandHandlers(sessions: SessionManager, resumer: ResumeHandler): CommandHandlers {
  return {
    create: async (_command, { sessionId }) => ({ session: await sessions.create(sessionId) }),
    delete: async (_command, { sessionId }) => ({ session: await sessions.delete(sessionId) }),
    restart: async (_command, { sessionId }) => ({ session: await sessions.restart(sessionId) }),
    send: async ({ chatId, content, replyTo, mentions, idempotencyKey }, { sessionId, signal }) => ({
      message: await sessions.send(sessionId, { chatId, content, replyTo, mentions, signal }, idempotencyKey),
    }),
    chats: async (_command, { sessionId, signal }) => ({ chats: await sessions.chats(sessionId, { signal }) }),
    messages: ({ chatId, limit, before }, { sessionId, signal }) => sessions.messages(sessionId, { chatId, limit, before, signal }),
    'media.download': ({ messageId }, { sessionId, signal }) => sessions.downloadMedia(sessionId, { messageId, signal }),
    'message.react': async ({ messageId, emoji }, { sessionId, signal }) => {
      await sessions.react(sessionId, { messageId, emoji, signal });
      return {};
    },
    'message.edit': async ({ messageId, text }, { sessionId, signal }) => ({
      message: await sessions.edit(sessionId, { messageId, text, signal }),
    }),
    'message.delete': async ({ messageId, everyone }, { sessionId, signal }) => {
      await sessions.revoke(sessionId, { messageId, everyone, signal });
      return {};
    },
    'chat.read': async ({ chatId }, { sessionId, signal }) => {
      await sessions.markRead(sessionId, { chatId, signal });
      return {};
    },
    contacts: async (_command, { sessionId, signal }) => ({ contacts: await sessions.contacts(sessionId, { signal }) }),
    contact: async ({ contactId }, { sessionId, signal }) => ({ contact: await sessions.contact(sessionId, { contactId, signal }) }),
    'pairing-code': async ({ phone }, { sessionId, signal }) => ({ code: await sessions.pairingCode(sessionId, { phone, signal }) }),
    'engine.control': ({ action, input }, { sessionId, signal }) => sessions.control(sessionId, action, input, { signal }),
    'ws.resume': async ({ connectionId, after }, { sessionId }) => {
      // Only queued here: a replay (thousands of events, or a client that leaves halfway) must never hold the
      // command that started it, nor the session's commands behind it. The pusher posts `resumed` when done.
      resumer.startResume(connectionId, sessionId, after);
      return { queued: true as const };
    },
  };
}

/** The worker's handler: finds the command's handler in the map and runs it. */
export function createCommandHandler(sessions: SessionManager, resumer: ResumeHandler): CommandHandler {
  const handlers = commandHandlers(sessions, resumer);
  return (envelope, context) => {
    // The map is total over CommandType; TypeScript cannot correlate the union member with its handler here.
    const handler = handlers[envelope.command.type] as (command: unknown, context: HandlerContext) => Promise<unknown>;
    return handler(envelope.command, { ...context, sessionId: envelope.sessionId });
  };
}
