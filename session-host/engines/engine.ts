/**
 * The engine port: what the session host needs from a WhatsApp engine. `webjs` (whatsapp-web.js, the real one)
 * and `simulator` implement it; one contract suite (test/engine-contract.ts) runs against both.
 *
 * An engine session reports what happens through `EngineListener`; the session host turns that into session state
 * in Redis and into events. Engines never touch Redis session state or events themselves.
 */
import type { Ack, Chat, Contact, EngineName, Identity, LastError, Me, Message, MessageLocation, Session } from '../../contract/api.js';
import { ServiceError } from '../../contract/errors.js';

/** The statuses an engine can report; `starting` belongs to the session host (it sets it before `start`). */
export type EngineStatus = 'qr' | 'authenticated' | 'connected' | 'disconnected' | 'failed';

export interface EngineStatusUpdate {
  status: EngineStatus;
  /** With `qr`: the raw QR string (each rotation reports again). */
  qr?: string;
  /** With `connected`: who the session is logged in as. */
  me?: Me;
  /** With `failed` or `disconnected`: why. */
  lastError?: LastError;
  /**
   * With `qr` after a logout from the phone: the login is gone, so is the data; with `failed`: whether the
   * session host may still retry on its own.
   */
  loggedOut?: boolean;
}

export interface EngineAck {
  messageId: string;
  chatId: string;
  ack: Ack;
}

/**
 * What an engine session reports, as one union: each kind maps onto one event of the contract
 * (status → `connection_update`, message → `message`, ack → `message_ack`), so a new kind of event is one member
 * here, and the session manager's exhaustive switch names what is not handled yet.
 */
export type EngineEvent =
  | ({ type: 'status' } & EngineStatusUpdate)
  /** An incoming message (never the session's own sends), reported once. */
  | { type: 'message'; message: Message }
  /** The ack of a message this session sent moved on. */
  | ({ type: 'ack' } & EngineAck)
  /** Someone (not the session itself) reacted to a message of a chat; `emoji` `""` when taken back. */
  | { type: 'reaction'; messageId: string; chatId: string; sender: Identity; emoji: string }
  /** The other side edited a message it had sent. */
  | { type: 'edited'; messageId: string; chatId: string; body: string }
  /** The other side deleted a message for everyone. */
  | { type: 'revoked'; messageId: string; chatId: string };

export interface EngineListener {
  emit(event: EngineEvent): void;
  /**
   * Resolves once everything reported so far is stored (state saved, events in the log): an engine that takes
   * messages from a durable queue removes them only after this, so a host that dies meanwhile loses none.
   */
  flushed?(): Promise<void>;
}

/**
 * What every call into an engine carries: the caller's deadline, as a signal that aborts when it passes. An engine
 * gives up the call then (clearing its own timers) instead of holding the session's command queue.
 */
export interface CallOptions {
  signal?: AbortSignal | undefined;
}

/** Media to send: the bytes themselves (the session host took them from the blob store). */
export interface OutgoingMedia {
  data: Buffer;
  mimetype: string;
  filename: string | null;
  caption: string | null;
  /** Audio sent as a voice note (`ptt`). */
  asVoice: boolean;
}

export type OutgoingContent =
  | { kind: 'text'; text: string }
  | { kind: 'media'; media: OutgoingMedia }
  | { kind: 'location'; location: MessageLocation };

export interface SendOptions extends CallOptions {
  chatId: string;
  content: OutgoingContent;
  /** Quote this message of the same chat (MESSAGE_NOT_FOUND when the session does not know it). */
  replyTo?: string | undefined;
  /** Chat ids to @-mention. */
  mentions?: readonly string[] | undefined;
}

export interface ListMessagesOptions extends CallOptions {
  chatId: string;
  limit: number;
  /** Only messages older than this one (MESSAGE_NOT_FOUND when the chat has no such message). */
  before?: string | undefined;
}

export interface MessageOptions extends CallOptions {
  messageId: string;
}

export interface ReactOptions extends MessageOptions {
  /** One emoji; `""` takes the session's reaction back. */
  emoji: string;
}

export interface EditOptions extends MessageOptions {
  text: string;
}

export interface RevokeOptions extends MessageOptions {
  /** For everyone where WhatsApp allows it (own messages, recent enough); else, or when false, for this session only. */
  everyone: boolean;
}

export interface ChatOptions extends CallOptions {
  chatId: string;
}

/** A message's media as downloaded from WhatsApp. */
export interface DownloadedMedia {
  data: Buffer;
  mimetype: string;
  filename: string | null;
}

export interface GetContactOptions extends CallOptions {
  contactId: string;
}

export interface PairingCodeOptions extends CallOptions {
  /** Digits only. */
  phone: string;
}

/**
 * An engine's own controls, beyond the port (the simulator's scan, pair, incoming...): by name, each takes an input
 * it validates itself and answers a result the caller validates against the engine's declared schemas.
 */
export interface EngineControlContext extends CallOptions {
  /** The session as the session host has it now (after whatever the control changed synchronously). */
  session(): Session;
}
export type EngineControls = Readonly<Record<string, (input: unknown, context: EngineControlContext) => Promise<unknown>>>;

/**
 * One WhatsApp session of an engine. The first methods are what every engine does; the optional ones are
 * capabilities: an engine without one answers NOT_SUPPORTED_BY_ENGINE (422) for that operation (`capabilityOf`).
 */
export interface EngineSession {
  /** Begins connecting; resolves once under way. Progress comes through the listener. */
  start(): Promise<void>;
  /** Stops the client and frees its resources; keeps the login data so the next start needs no scan. */
  stop(): Promise<void>;
  /** Logs out where possible, stops the client and removes the login data. */
  logout(): Promise<void>;
  /**
   * Sends a text. A phone id with no chat yet is resolved first: a number not on WhatsApp throws
   * RecipientNotOnWhatsAppError and sends nothing. A failure after WhatsApp took the message is never a
   * validation error: it is SEND_OUTCOME_UNKNOWN (the message may have left).
   */
  send(options: SendOptions): Promise<Message>;
  listChats(options?: CallOptions): Promise<Chat[]>;
  /** The newest `limit` messages of the chat (older than `before` when given), oldest first. */
  listMessages(options: ListMessagesOptions): Promise<Message[]>;
  listContacts(options?: CallOptions): Promise<Contact[]>;
  /** One person or group by phone id or LID, with both identities as far as WhatsApp tells; null when unknown. */
  getContact?(options: GetContactOptions): Promise<Contact | null>;
  /**
   * While the session shows a QR: asks WhatsApp for a pairing code for `phone` and answers it as `ABCD-EFGH`.
   * Typing it on that phone links the session as a scan would.
   */
  requestPairingCode?(options: PairingCodeOptions): Promise<string>;
  /**
   * The bytes of a message's media. MESSAGE_NOT_FOUND for an unknown message; MediaNotFoundError when it has no
   * media or WhatsApp no longer has it.
   */
  downloadMedia?(options: MessageOptions): Promise<DownloadedMedia>;
  /** Reacts to a message (or takes the reaction back); the other side gets a `message_reaction`. */
  react?(options: ReactOptions): Promise<void>;
  /** Edits one of the session's own text messages (MESSAGE_NOT_EDITABLE otherwise); answers it as it is now. */
  edit?(options: EditOptions): Promise<Message>;
  /** Deletes a message: for everyone where WhatsApp allows it, else for this session only. */
  revoke?(options: RevokeOptions): Promise<void>;
  /** Marks the chat read: read receipts (blue ticks) to the senders of what was unread. */
  markRead?(options: ChatOptions): Promise<void>;
  /** The engine's own controls (see EngineControls); none for an engine that has none. */
  readonly controls?: EngineControls;
}

/** The optional operations of the port, with what a user reads when an engine lacks one. */
export const capabilities = {
  getContact: 'look up a contact',
  requestPairingCode: 'link a device by pairing code',
  downloadMedia: 'download media',
  react: 'react to messages',
  edit: 'edit messages',
  revoke: 'delete messages',
  markRead: 'mark chats read',
} as const satisfies { [K in keyof EngineSession]?: string };
export type Capability = keyof typeof capabilities;

/**
 * The engine's implementation of an optional operation, bound to its session; NOT_SUPPORTED_BY_ENGINE (422) when
 * the engine has none.
 */
export function capabilityOf<C extends Capability>(
  session: EngineSession,
  capability: C,
  engine: EngineName,
): NonNullable<EngineSession[C]> {
  const method = session[capability];
  if (method === undefined) {
    throw new ServiceError('NOT_SUPPORTED_BY_ENGINE', `The ${engine} engine cannot ${capabilities[capability]}.`, {
      details: { engine, operation: capability },
    });
  }
  return method.bind(session) as NonNullable<EngineSession[C]>;
}

export interface EngineSessionOptions {
  sessionId: string;
  listener: EngineListener;
}

export interface Engine {
  readonly name: EngineName;
  openSession(options: EngineSessionOptions): EngineSession;
  /** Frees what the engine holds beyond its sessions (timers, network links). Sessions are stopped first. */
  close(): Promise<void>;
}
