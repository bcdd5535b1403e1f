/**
 * The contract of the engine port (session-host/engines/engine.ts), as one suite that every engine runs: what
 * the session host relies on, whichever engine is behind it. Each engine supplies a harness that plays the
 * phone (scan, a message from someone) for it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { chatSchema, contactSchema, meSchema, messageSchema } from '../../contract/api.js';
import type { EngineSession } from '../../session-host/engines/engine.js';
import type { RecordingListener } from '../webjs/helpers.js';

export interface EngineHarness {
  listener: RecordingListener;
  session: EngineSession;
  /** The phone scans the QR shown now; resolves once scanned. */
  scan(): Promise<void>;
  /** Someone (`from`, a chat id) writes to the session. */
  incoming(from: string, body: string): Promise<void>;
  /** Someone known to WhatsApp by LID only (`<digits>@lid`, no phone known) writes to the session. */
  incomingFromLid(lid: string, body: string): Promise<void>;
  /** The phone types a pairing code that `session.requestPairingCode({ phone })` gave; links the session as a scan. */
  enterPairingCode(code: string): Promise<void>;
  /** A phone number (digits) that is not on WhatsApp in this engine's world: sending to it must send nothing. */
  unregisteredNumber: string;
  /** A second session object on the same login data (what a restarted host opens). */
  reopen(): EngineHarness;
  cleanup(): Promise<void>;
}

/** The engine's contact lookup (a capability: every engine of this suite must have it). */
function contactOf(session: EngineSession, contactId: string) {
  if (session.getContact === undefined) throw new Error('this engine cannot look up contacts');
  return session.getContact({ contactId });
}

function pairingCodeOf(session: EngineSession, phone: string) {
  if (session.requestPairingCode === undefined) throw new Error('this engine cannot give pairing codes');
  return session.requestPairingCode({ phone });
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
      const me = meSchema.parse(harness.listener.statuses.find((update) => update.status === 'connected')?.me);
      expect(me.id).toMatch(/^\d+@c\.us$/);
      expect(me.lid === null || /^\d+@lid$/.test(me.lid)).toBe(true);
    });

    it('reports an incoming message once, in the contract shape', async () => {
      const harness = await connected();
      await harness.incoming('4930123456@c.us', 'hello engine');
      await harness.listener.waitForMessage((message) => message.body === 'hello engine', 10_000);
      await new Promise((resolve) => setTimeout(resolve, 300));
      const received = harness.listener.messages.filter((message) => message.body === 'hello engine');
      expect(received).toHaveLength(1);
      const message = messageSchema.parse(received[0]);
      expect(message).toMatchObject({ fromMe: false, chatId: '4930123456@c.us', from: '4930123456@c.us' });
      expect(message.sender).toMatchObject({ id: '4930123456@c.us', phone: '4930123456' });
      expect(message.id).not.toBe('');
    });

    it('reports each of several incoming messages once, each with its own id', async () => {
      const harness = await connected();
      const bodies = ['one', 'two', 'three'];
      for (const body of bodies) await harness.incoming('4930123457@c.us', `burst ${body}`);
      await harness.listener.waitForMessage((message) => message.body === 'burst three', 10_000);
      for (const body of bodies) await harness.listener.waitForMessage((message) => message.body === `burst ${body}`, 10_000);
      await new Promise((resolve) => setTimeout(resolve, 300));
      const received = harness.listener.messages.filter((message) => message.body.startsWith('burst '));
      expect(received.map((message) => message.body).sort()).toEqual(bodies.map((body) => `burst ${body}`).sort());
      const ids = received.map((message) => message.id);
      expect(new Set(ids).size).toBe(ids.length);
      for (const id of ids) expect(id).toMatch(/^false_4930123457@c\.us_\S+$/);
    });

    it('sends a text as `sent` and reports its ack moving on', async () => {
      const harness = await connected();
      const message = messageSchema.parse(await harness.session.send({ chatId: '4930123456@c.us', content: { kind: 'text', text: 'hello out there' } }));
      expect(message).toMatchObject({ fromMe: true, chatId: '4930123456@c.us', body: 'hello out there', type: 'chat' });
      expect(['pending', 'sent']).toContain(message.ack);
      expect(message.id).toMatch(/^true_4930123456@c\.us_\S+$/);
      const connectedMe = harness.listener.statuses.find((update) => update.status === 'connected')?.me;
      expect(message.sender).toMatchObject({ id: connectedMe?.id, lid: connectedMe?.lid ?? null });
      const ack = await harness.listener.waitForAck((update) => update.messageId === message.id && update.ack === 'delivered', 10_000);
      expect(ack.chatId).toBe('4930123456@c.us');
    });

    it('lists chats newest first, history oldest first within the limit, and contacts, in the contract shapes', async () => {
      const harness = await connected();
      await harness.session.send({ chatId: '4930000001@c.us', content: { kind: 'text', text: 'first' } });
      await harness.incoming('4930000002@c.us', 'second');
      await harness.listener.waitForMessage((message) => message.body === 'second', 10_000);
      for (const text of ['a', 'b', 'c']) await harness.session.send({ chatId: '4930000001@c.us', content: { kind: 'text', text } });
      const chats = (await harness.session.listChats()).map((chat) => chatSchema.parse(chat));
      expect(chats[0]?.id).toBe('4930000001@c.us');
      expect(chats.map((chat) => chat.id)).toContain('4930000002@c.us');
      const history = (await harness.session.listMessages({ chatId: '4930000001@c.us', limit: 2 })).map((message) => messageSchema.parse(message));
      expect(history.map((message) => message.body)).toEqual(['b', 'c']);
      const contacts = (await harness.session.listContacts()).map((contact) => contactSchema.parse(contact));
      expect(contacts.map((contact) => contact.id)).toContain('4930000002@c.us');
      expect(chats.find((chat) => chat.id === '4930000002@c.us')?.phone).toBe('4930000002');
      expect(contacts.find((contact) => contact.id === '4930000002@c.us')?.phone).toBe('4930000002');
      // Ids survive a round trip: the last message of a chat is the one history ends with.
      const lastOfChat = chats.find((chat) => chat.id === '4930000001@c.us')?.lastMessage;
      expect(lastOfChat?.body).toBe('c');
      expect(lastOfChat?.id).toBe(history.at(-1)?.id);
    });

    it('a sender known by LID only: the message comes from the LID, a reply to the LID goes out, the contact is found', async () => {
      const harness = await connected();
      const lid = '104857600012345@lid';
      await harness.incomingFromLid(lid, 'hello from a lid');
      const received = messageSchema.parse(await harness.listener.waitForMessage((message) => message.body === 'hello from a lid', 10_000));
      expect(received).toMatchObject({ fromMe: false, from: lid, chatId: lid, sender: { id: lid, lid, phone: null } });

      const reply = messageSchema.parse(await harness.session.send({ chatId: lid, content: { kind: 'text', text: 'hello back' } }));
      expect(reply).toMatchObject({ fromMe: true, chatId: lid, body: 'hello back' });
      expect(reply.id).not.toBe('');

      const contact = contactSchema.parse(await contactOf(harness.session, lid));
      expect(contact).toMatchObject({ id: lid, lid, phone: null, isGroup: false });
    });

    it('looks a contact up by phone; knows nothing of a number that is not on WhatsApp', async () => {
      const harness = await connected();
      await harness.incoming('4930123458@c.us', 'find me');
      await harness.listener.waitForMessage((message) => message.body === 'find me', 10_000);
      const contact = contactSchema.parse(await contactOf(harness.session, '4930123458@c.us'));
      expect(contact).toMatchObject({ id: '4930123458@c.us', phone: '4930123458', isGroup: false });
      expect(contact.lid === null || /^\d+@lid$/.test(contact.lid)).toBe(true);
      expect(await contactOf(harness.session, `${harness.unregisteredNumber}@c.us`)).toBeNull();
    });

    it('refuses to send to a number that is not on WhatsApp, and sends nothing', async () => {
      const harness = await connected();
      const chatId = `${harness.unregisteredNumber}@c.us`;
      await expect(harness.session.send({ chatId: chatId, content: { kind: 'text', text: 'anyone there?' } })).rejects.toMatchObject({ code: 'RECIPIENT_NOT_ON_WHATSAPP' });
      expect((await harness.session.listChats()).map((chat) => chat.id)).not.toContain(chatId);
      expect(await harness.session.listMessages({ chatId: chatId, limit: 10 })).toEqual([]);
      expect(harness.listener.acks.filter((ack) => ack.chatId === chatId)).toEqual([]);
    });

    it('links by pairing code while a QR shows: a wrong code does nothing, the right one connects as that phone', async () => {
      const harness = await open();
      await harness.session.start();
      await harness.listener.waitForStatus((update) => update.status === 'qr', 20_000);
      const phone = '15550007777';
      const code = await pairingCodeOf(harness.session, phone);
      expect(code).toMatch(/^[A-Z0-9]{4}-[A-Z0-9]{4}$/);
      await expect(harness.enterPairingCode(code === 'AAAA-AAAA' ? 'BBBB-BBBB' : 'AAAA-AAAA')).rejects.toThrow();
      expect(harness.listener.statuses.map((update) => update.status)).not.toContain('authenticated');
      await harness.enterPairingCode(code);
      const connectedUpdate = await harness.listener.waitForStatus((update) => update.status === 'connected', 20_000);
      expect(connectedUpdate.me?.id).toBe(`${phone}@c.us`);
      const statuses = harness.listener.statuses.map((update) => update.status);
      expect(statuses.indexOf('authenticated')).toBeLessThan(statuses.indexOf('connected'));
    });

    it('refuses a pairing code when no QR shows', async () => {
      const harness = await connected();
      await expect(pairingCodeOf(harness.session, '15550007777')).rejects.toMatchObject({
        code: 'QR_NOT_AVAILABLE',
        details: { status: 'connected' },
      });
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
      await expect(harness.session.send({ chatId: '4930123456@c.us', content: { kind: 'text', text: 'too early' } })).rejects.toMatchObject({ code: 'SESSION_NOT_CONNECTED' });
    });
  });
}
