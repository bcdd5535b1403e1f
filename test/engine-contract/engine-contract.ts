/**
 * The contract of the engine port (session-host/engines/engine.ts), as one suite that every engine runs: what
 * the session host relies on, whichever engine is behind it. Each engine supplies a harness that plays the
 * phone (scan, a message from someone) for it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { chatSchema, contactSchema, mediaUrlOf, meSchema, messageSchema, type Message } from '../../contract/api.js';
import type { EngineSession, OutgoingContent } from '../../session-host/engines/engine.js';
import type { RecordingListener } from '../webjs/helpers.js';

/**
 * Another WhatsApp account, on its own phone, that writes to the session and acts on messages. Message ids are the
 * session's ids of them (the harness finds the peer's own copy where its engine needs it).
 */
export interface EnginePeer {
  /** Writes to the session, optionally as a reply quoting a message of their chat. */
  sendText(body: string, options?: { replyTo?: string }): Promise<void>;
  /** Sends the session a file (bytes, as WhatsApp's media servers keep them). */
  sendMedia(media: { data: Buffer; mimetype: string; filename?: string; caption?: string }): Promise<void>;
  /** Reacts to a message of their chat; `""` takes the reaction back. */
  react(messageId: string, emoji: string): Promise<void>;
  /** Edits, or deletes for everyone, a text message the peer sent. */
  edit(messageId: string, body: string): Promise<void>;
  revoke(messageId: string): Promise<void>;
  /** Resolves once the peer's side has the read receipt of a message it sent. */
  waitForRead(messageId: string): Promise<void>;
}

export interface EngineHarness {
  listener: RecordingListener;
  session: EngineSession;
  /** The id the session was opened with (media URLs name it). */
  sessionId: string;
  /** The other person of the chats of messaging beyond text; the session must be connected. */
  peer(): Promise<EnginePeer>;
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

/** An optional capability of the port that every engine of this suite must have. */
function capability<K extends 'downloadMedia' | 'react' | 'edit' | 'revoke' | 'markRead'>(session: EngineSession, name: K): NonNullable<EngineSession[K]> {
  const operation = session[name];
  if (operation === undefined) throw new Error(`this engine cannot ${name}`);
  return operation.bind(session) as NonNullable<EngineSession[K]>;
}

/** Media content to send. */
function mediaContent(data: Buffer, mimetype: string, extra: { filename?: string; caption?: string; asVoice?: boolean } = {}): OutgoingContent {
  return { kind: 'media', media: { data, mimetype, filename: extra.filename ?? null, caption: extra.caption ?? null, asVoice: extra.asVoice ?? false } };
}

const text = (body: string): OutgoingContent => ({ kind: 'text', text: body });

/** Bytes that are no text: a PNG signature and every byte value. */
const imageBytes = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.from(Array.from({ length: 300 }, (_, i) => i % 256))]);
const pdfBytes = Buffer.from('%PDF-1.4\n% contract document\n%%EOF\n');
const oggBytes = Buffer.from([0x4f, 0x67, 0x67, 0x53, 0x00, 0x02, ...Array.from({ length: 40 }, (_, i) => (i * 11) % 256)]);
const unknownId = 'true_4930123456@c.us_3EB0C0FFEE0000NOSUCH';

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

    describe('messaging beyond text', () => {
      /** A connected session, its peer, and a first message from the peer (whose chat is where they talk). */
      async function talking(): Promise<{ harness: EngineHarness; peer: EnginePeer; first: Message }> {
        const harness = await connected();
        const peer = await harness.peer();
        await peer.sendText('hello from the peer');
        const first = messageSchema.parse(await harness.listener.waitForMessage((message) => message.body === 'hello from the peer', 15_000));
        return { harness, peer, first };
      }

      it('sends an image by data with a caption: type image, media metadata, and the bytes download back', async () => {
        const harness = await connected();
        const sent = messageSchema.parse(
          await harness.session.send({ chatId: '4930123456@c.us', content: mediaContent(imageBytes, 'image/png', { filename: 'dot.png', caption: 'a picture' }) }),
        );
        expect(sent).toMatchObject({ fromMe: true, chatId: '4930123456@c.us', type: 'image', body: 'a picture', location: null, quotedMessageId: null });
        expect(sent.media).toMatchObject({ mimetype: 'image/png', size: imageBytes.length, url: mediaUrlOf(harness.sessionId, sent.id) });
        const downloaded = await capability(harness.session, 'downloadMedia')({ messageId: sent.id });
        expect(Buffer.compare(downloaded.data, imageBytes)).toBe(0);
        expect(downloaded.mimetype).toBe('image/png');
        const listed = await harness.session.listMessages({ chatId: '4930123456@c.us', limit: 5 });
        expect(listed.at(-1)).toMatchObject({ id: sent.id, type: 'image', media: { mimetype: 'image/png', size: imageBytes.length } });
      });

      it('sends a document (with its file name), a voice note (`ptt`) and plain audio', async () => {
        const harness = await connected();
        const chatId = '4930123456@c.us';
        const document = messageSchema.parse(await harness.session.send({ chatId, content: mediaContent(pdfBytes, 'application/pdf', { filename: 'report.pdf' }) }));
        expect(document).toMatchObject({ type: 'document', body: '', media: { mimetype: 'application/pdf', filename: 'report.pdf', size: pdfBytes.length } });
        const voice = messageSchema.parse(await harness.session.send({ chatId, content: mediaContent(oggBytes, 'audio/ogg; codecs=opus', { asVoice: true }) }));
        expect(voice).toMatchObject({ type: 'ptt', media: { mimetype: 'audio/ogg; codecs=opus', size: oggBytes.length } });
        const audio = messageSchema.parse(await harness.session.send({ chatId, content: mediaContent(oggBytes, 'audio/ogg') }));
        expect(audio.type).toBe('audio');
        expect(await capability(harness.session, 'downloadMedia')({ messageId: document.id })).toEqual({
          data: pdfBytes,
          mimetype: 'application/pdf',
          filename: 'report.pdf',
        });
      });

      it('sends a location', async () => {
        const harness = await connected();
        const location = { latitude: 52.52, longitude: 13.405, name: 'Berlin', address: 'Pariser Platz 1' };
        const sent = messageSchema.parse(await harness.session.send({ chatId: '4930123456@c.us', content: { kind: 'location', location } }));
        expect(sent).toMatchObject({ type: 'location', media: null, location });
      });

      it('replies with quotedMessageId both ways; a reply to an unknown message is refused and sends nothing', async () => {
        const { harness, peer, first } = await talking();
        const reply = messageSchema.parse(await harness.session.send({ chatId: first.chatId, content: text('a reply'), replyTo: first.id }));
        expect(reply).toMatchObject({ chatId: first.chatId, body: 'a reply', quotedMessageId: first.id });
        await peer.sendText('a reply back', { replyTo: reply.id });
        const back = messageSchema.parse(await harness.listener.waitForMessage((message) => message.body === 'a reply back', 15_000));
        expect(back.quotedMessageId).toBe(reply.id);
        const before = (await harness.session.listMessages({ chatId: first.chatId, limit: 50 })).length;
        await expect(harness.session.send({ chatId: first.chatId, content: text('to nothing'), replyTo: unknownId })).rejects.toMatchObject({
          code: 'MESSAGE_NOT_FOUND',
        });
        expect(await harness.session.listMessages({ chatId: first.chatId, limit: 50 })).toHaveLength(before);
      });

      it('receives media with metadata and downloads it byte-identical; a text message has no media', async () => {
        const { harness, peer, first } = await talking();
        await peer.sendMedia({ data: imageBytes, mimetype: 'image/png', caption: 'look at this' });
        const received = messageSchema.parse(await harness.listener.waitForMessage((message) => message.body === 'look at this', 15_000));
        // The same person (WhatsApp may tell their phone by now: they became a contact).
        expect(received).toMatchObject({ fromMe: false, type: 'image', chatId: first.chatId, sender: { id: first.sender.id, lid: first.sender.lid } });
        expect(received.media).toMatchObject({ mimetype: 'image/png', size: imageBytes.length, url: mediaUrlOf(harness.sessionId, received.id) });
        const downloaded = await capability(harness.session, 'downloadMedia')({ messageId: received.id });
        expect(Buffer.compare(downloaded.data, imageBytes)).toBe(0);
        expect(downloaded.mimetype).toBe('image/png');
        await peer.sendMedia({ data: pdfBytes, mimetype: 'application/pdf', filename: 'theirs.pdf' });
        const document = await harness.listener.waitForMessage((message) => message.type === 'document', 15_000);
        expect(document.media).toMatchObject({ mimetype: 'application/pdf', filename: 'theirs.pdf', size: pdfBytes.length });
        expect((await capability(harness.session, 'downloadMedia')({ messageId: document.id })).data).toEqual(pdfBytes);
        await expect(capability(harness.session, 'downloadMedia')({ messageId: first.id })).rejects.toMatchObject({ code: 'MEDIA_NOT_FOUND' });
      });

      it('reacts and takes it back; the peer’s reactions (and their removal) are events, the session’s own are not', async () => {
        const { harness, peer, first } = await talking();
        const react = capability(harness.session, 'react');
        await react({ messageId: first.id, emoji: '👍' });
        await react({ messageId: first.id, emoji: '' });
        const mine = messageSchema.parse(await harness.session.send({ chatId: first.chatId, content: text('react to this') }));
        await peer.react(mine.id, '❤️');
        const reaction = await harness.listener.waitForReaction((r) => r.emoji === '❤️', 15_000);
        expect(reaction).toMatchObject({ messageId: mine.id, chatId: first.chatId, emoji: '❤️', sender: { id: first.sender.id, lid: first.sender.lid } });
        await peer.react(mine.id, '');
        await harness.listener.waitForReaction((r) => r.emoji === '' && r.messageId === mine.id, 15_000);
        await new Promise((resolve) => setTimeout(resolve, 300));
        expect(harness.listener.reactions.map((r) => [r.messageId, r.emoji])).toEqual([
          [mine.id, '❤️'],
          [mine.id, ''],
        ]);
      });

      it('edits its own text message (history shows the edit); a received one is not editable; the peer’s edits are events', async () => {
        const { harness, peer, first } = await talking();
        const edit = capability(harness.session, 'edit');
        const sent = messageSchema.parse(await harness.session.send({ chatId: first.chatId, content: text('typo') }));
        const edited = messageSchema.parse(await edit({ messageId: sent.id, text: 'fixed' }));
        expect(edited).toMatchObject({ id: sent.id, body: 'fixed', fromMe: true, chatId: first.chatId });
        expect((await harness.session.listMessages({ chatId: first.chatId, limit: 10 })).find((m) => m.id === sent.id)?.body).toBe('fixed');
        await expect(edit({ messageId: first.id, text: 'not mine' })).rejects.toMatchObject({ code: 'MESSAGE_NOT_EDITABLE' });
        await peer.edit(first.id, 'hello from the peer (edited)');
        expect(await harness.listener.waitForEdit((e) => e.messageId === first.id, 15_000)).toEqual({
          messageId: first.id,
          chatId: first.chatId,
          body: 'hello from the peer (edited)',
        });
        expect(harness.listener.edits.map((e) => e.messageId)).toEqual([first.id]);
      });

      it('deletes its own message for everyone; the peer’s deletes are events', async () => {
        const { harness, peer, first } = await talking();
        const sent = messageSchema.parse(await harness.session.send({ chatId: first.chatId, content: text('regret') }));
        await capability(harness.session, 'revoke')({ messageId: sent.id, everyone: true });
        const after = (await harness.session.listMessages({ chatId: first.chatId, limit: 10 })).find((m) => m.id === sent.id);
        // Gone from the history, or there as WhatsApp shows it: a deleted message with nothing left of it.
        if (after !== undefined) expect(after).toMatchObject({ type: 'revoked', body: '' });
        await peer.revoke(first.id);
        expect(await harness.listener.waitForRevoke((r) => r.messageId === first.id, 15_000)).toEqual({ messageId: first.id, chatId: first.chatId });
        expect(harness.listener.revokes.map((r) => r.messageId)).toEqual([first.id]);
      });

      it('marks a chat read: no unread left, and the peer gets the read receipt', async () => {
        const { harness, peer, first } = await talking();
        await peer.sendText('are you there?');
        await harness.listener.waitForMessage((message) => message.body === 'are you there?', 15_000);
        expect((await harness.session.listChats()).find((chat) => chat.id === first.chatId)?.unreadCount).toBe(2);
        await capability(harness.session, 'markRead')({ chatId: first.chatId });
        expect((await harness.session.listChats()).find((chat) => chat.id === first.chatId)?.unreadCount).toBe(0);
        await peer.waitForRead(first.id);
      });

      it('pages history back with `before`: each page the newest older ones, oldest first, none twice, none missing', async () => {
        const harness = await connected();
        const chatId = '4930000077@c.us';
        const sent: string[] = [];
        for (let n = 1; n <= 7; n += 1) sent.push((await harness.session.send({ chatId, content: text(`p${n}`) })).id);
        const bodies = async (before?: string) =>
          (await harness.session.listMessages({ chatId, limit: 3, ...(before === undefined ? {} : { before }) })).map((m) => m.body);
        expect(await bodies()).toEqual(['p5', 'p6', 'p7']);
        expect(await bodies(sent[4])).toEqual(['p2', 'p3', 'p4']);
        expect(await bodies(sent[1])).toEqual(['p1']);
        expect(await bodies(sent[0])).toEqual([]);
        await expect(harness.session.listMessages({ chatId, limit: 3, before: unknownId })).rejects.toMatchObject({ code: 'MESSAGE_NOT_FOUND' });
      });

      it('answers MESSAGE_NOT_FOUND for an unknown message id in every message operation', async () => {
        const harness = await connected();
        const { session } = harness;
        await expect(capability(session, 'downloadMedia')({ messageId: unknownId })).rejects.toMatchObject({ code: 'MESSAGE_NOT_FOUND' });
        await expect(capability(session, 'react')({ messageId: unknownId, emoji: '👍' })).rejects.toMatchObject({ code: 'MESSAGE_NOT_FOUND' });
        await expect(capability(session, 'edit')({ messageId: unknownId, text: 'x' })).rejects.toMatchObject({ code: 'MESSAGE_NOT_FOUND' });
        await expect(capability(session, 'revoke')({ messageId: unknownId, everyone: true })).rejects.toMatchObject({ code: 'MESSAGE_NOT_FOUND' });
      });
    });

    it('refuses to send before it is connected', async () => {
      const harness = await open();
      await harness.session.start();
      await harness.listener.waitForStatus((update) => update.status === 'qr', 20_000);
      await expect(harness.session.send({ chatId: '4930123456@c.us', content: { kind: 'text', text: 'too early' } })).rejects.toMatchObject({ code: 'SESSION_NOT_CONNECTED' });
    });
  });
}
