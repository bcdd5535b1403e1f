/**
 * The contract of the engine port (session-host/engines/engine.ts), as one suite that every engine runs: what
 * the session host relies on, whichever engine is behind it. Each engine supplies a harness that plays the
 * phone (scan, a message from someone) for it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { chatSchema, contactSchema, messageSchema } from '../../contract/api.js';
import type { EngineSession } from '../../session-host/engines/engine.js';
import { RecordingListener } from '../webjs/helpers.js';

export interface EngineHarness {
  listener: RecordingListener;
  session: EngineSession;
  /** The phone scans the QR shown now; resolves once scanned. */
  scan(): Promise<void>;
  /** Someone (`from`, a chat id) writes to the session. */
  incoming(from: string, body: string): Promise<void>;
  /** Someone known to WhatsApp by LID only (`<digits>@lid`, no phone known) writes to the session. */
  incomingFromLid(lid: string, body: string): Promise<void>;
  /** The phone types a pairing code that `session.requestPairingCode(phone)` gave; links the session as a scan. */
  enterPairingCode(code: string): Promise<void>;
  /** A phone number (digits) that is not on WhatsApp in this engine's world: sending to it must send nothing. */
  unregisteredNumber: string;
  /** A second session object on the same login data (what a restarted host opens). */
  reopen(): EngineHarness;
  cleanup(): Promise<void>;
}

export function describeEngineContract(engineName: string, openHarness: () => Promise<EngineHarness>): void {
  describe(`engine port contract: ${engineName}`, () => {
    const harnesses: EngineHarness[] = [];
    const open = async () => {
      const harness = await openHarness();
      harnesses.push(harness);
      return harness;
    };
    afterEach(async () => {
      while (harnesses.length > 0) await harnesses.pop()?.cleanup();
    });

    async function connected(): Promise<EngineHarness> {
      const harness = await open();
      await harness.session.start();
      await harness.listener.waitForStatus((update) => update.status === 'qr', 20_000);
      await harness.scan();
      await harness.listener.waitForStatus((update) => update.status === 'connected', 20_000);
      return harness;
    }

    it('shows a QR, and after the scan reports authenticated then connected with who it is', async () => {
      const harness = await connected();
      const statuses = harness.listener.statuses.map((update) => update.status);
      expect(statuses.indexOf('qr')).toBeLessThan(statuses.indexOf('authenticated'));
      expect(statuses.indexOf('authenticated')).toBeLessThan(statuses.indexOf('connected'));
      const qr = harness.listener.statuses.find((update) => update.status === 'qr');
      expect(qr?.qr?.length).toBeGreaterThan(10);
      const me = harness.listener.statuses.find((update) => update.status === 'connected')?.me;
      expect(me?.id).toMatch(/^\d+@c\.us$/);
    });

    it('reports an incoming message once, in the contract shape', async () => {
      const harness = await connected();
      await harness.incoming('4930123456@c.us', 'hello engine');
      await harness.listener.waitForMessage((message) => message.body === 'hello engine', 10_000);
      await new Promise((resolve) => setTimeout(resolve, 300));
      const received = harness.listener.messages.filter((message) => message.body === 'hello engine');
      expect(received).toHaveLength(1);
      expect(messageSchema.parse(received[0])).toMatchObject({ fromMe: false, chatId: '4930123456@c.us', from: '4930123456@c.us' });
    });

    it('sends a text as `sent` and reports its ack moving on', async () => {
      const harness = await connected();
      const message = messageSchema.parse(await harness.session.sendText('4930123456@c.us', 'hello out there'));
      expect(message).toMatchObject({ fromMe: true, chatId: '4930123456@c.us', body: 'hello out there', type: 'chat' });
      expect(['pending', 'sent']).toContain(message.ack);
      const ack = await harness.listener.waitForAck((update) => update.messageId === message.id && update.ack === 'delivered', 10_000);
      expect(ack.chatId).toBe('4930123456@c.us');
    });

    it('lists chats newest first, history oldest first within the limit, and contacts, in the contract shapes', async () => {
      const harness = await connected();
      await harness.session.sendText('4930000001@c.us', 'first');
      await harness.incoming('4930000002@c.us', 'second');
      await harness.listener.waitForMessage((message) => message.body === 'second', 10_000);
      for (const text of ['a', 'b', 'c']) await harness.session.sendText('4930000001@c.us', text);
      const chats = (await harness.session.listChats()).map((chat) => chatSchema.parse(chat));
      expect(chats[0]?.id).toBe('4930000001@c.us');
      expect(chats.map((chat) => chat.id)).toContain('4930000002@c.us');
      const history = (await harness.session.listMessages('4930000001@c.us', 2)).map((message) => messageSchema.parse(message));
      expect(history.map((message) => message.body)).toEqual(['b', 'c']);
      const contacts = (await harness.session.listContacts()).map((contact) => contactSchema.parse(contact));
      expect(contacts.map((contact) => contact.id)).toContain('4930000002@c.us');
    });

    it('keeps the login across stop and a new session object: connected again without a QR', async () => {
      const harness = await connected();
      await harness.session.stop();
      const reopened = harness.reopen();
      harnesses.push(reopened);
      await reopened.session.start();
      await reopened.listener.waitForStatus((update) => update.status === 'connected', 20_000);
      expect(reopened.listener.statuses.map((update) => update.status)).not.toContain('qr');
    });

    it('forgets the login on logout: the next start shows a QR', async () => {
      const harness = await connected();
      await harness.session.logout();
      const reopened = harness.reopen();
      harnesses.push(reopened);
      await reopened.session.start();
      await reopened.listener.waitForStatus((update) => update.status === 'qr', 20_000);
      expect(reopened.listener.statuses.map((update) => update.status)).not.toContain('connected');
    });

    it('refuses to send before it is connected', async () => {
      const harness = await open();
      await harness.session.start();
      await harness.listener.waitForStatus((update) => update.status === 'qr', 20_000);
      await expect(harness.session.sendText('4930123456@c.us', 'too early')).rejects.toMatchObject({ code: 'SESSION_NOT_CONNECTED' });
    });
  });
}
