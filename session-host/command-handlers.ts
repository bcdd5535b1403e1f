/** What each command of the protocol does on the session host. */
import type { CommandEnvelope } from '../contract/commands.js';
import type { CommandHandler } from './command-worker.js';
import type { SessionManager } from './sessions/session-manager.js';

export interface ResumeHandler {
  /** Starts a replay on the connection's own queue; the replay answers the client itself (`resumed` or `error`). */
  startResume(connectionId: string, sessionId: string, after: string): void;
}

export function createCommandHandler(sessions: SessionManager, resumer: ResumeHandler): CommandHandler {
  return async ({ sessionId, command }: CommandEnvelope): Promise<unknown> => {
    switch (command.type) {
      case 'create':
        return { session: await sessions.create(sessionId) };
      case 'delete':
        return { session: await sessions.delete(sessionId) };
      case 'restart':
        return { session: await sessions.restart(sessionId) };
      case 'send':
        return { message: await sessions.send(sessionId, command.chatId, command.text, command.idempotencyKey) };
      case 'chats':
        return { chats: await sessions.chats(sessionId) };
      case 'messages':
        return { messages: await sessions.messages(sessionId, command.chatId, command.limit) };
      case 'contacts':
        return { contacts: await sessions.contacts(sessionId) };
      case 'contact':
        return { contact: await sessions.contact(sessionId, command.contactId) };
      case 'pairing-code':
        return { code: await sessions.pairingCode(sessionId, command.phone) };
      case 'sim.pair':
        return { session: await sessions.simulatorPair(sessionId, command.code) };
      case 'sim.scan':
        return { session: await sessions.simulatorScan(sessionId, command.phone) };
      case 'sim.incoming':
        return { message: await sessions.simulatorIncoming(sessionId, command.from, command.text) };
      case 'sim.drain':
        sessions.simulatorDrain(sessionId);
        return {};
      case 'ws.resume':
        // Only queued here: a replay (thousands of events, or a client that leaves halfway) must never hold the
        // command that started it, nor the session's commands behind it. The pusher posts `resumed` when done.
        resumer.startResume(command.connectionId, sessionId, command.after);
        return { queued: true };
    }
  };
}
