/**
 * The engine port: what the session host needs from a WhatsApp engine. `webjs` (whatsapp-web.js, the real one)
 * and `simulator` implement it; one contract suite (test/engine-contract.ts) runs against both.
 *
 * An engine session reports what happens through `EngineListener`; the session host turns that into session state
 * in Redis and into events. Engines never touch Redis session state or events themselves.
 */
import type { Ack, Chat, Contact, EngineName, LastError, Me, Message } from '../../contract/api.js';

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

export interface EngineListener {
  onStatus(update: EngineStatusUpdate): void;
  /** An incoming message (never the session's own sends), reported once. */
  onMessage(message: Message): void;
  /** The ack of a message this session sent moved on. */
  onAck(ack: EngineAck): void;
  /**
   * Resolves once everything reported so far is stored (state saved, events in the log): an engine that takes
   * messages from a durable queue removes them only after this, so a host that dies meanwhile loses none.
   */
  flushed?(): Promise<void>;
}

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
  sendText(chatId: string, text: string): Promise<Message>;
  listChats(): Promise<Chat[]>;
  listMessages(chatId: string, limit: number): Promise<Message[]>;
  listContacts(): Promise<Contact[]>;
  /** One person or group by phone id or LID, with both identities as far as WhatsApp tells; null when unknown. */
  getContact(contactId: string): Promise<Contact | null>;
  /**
   * While the session shows a QR: asks WhatsApp for a pairing code for `phone` (digits only) and answers it as
   * `ABCD-EFGH`. Typing it on that phone links the session as a scan would.
   */
  requestPairingCode(phone: string): Promise<string>;
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
