/**
 * Messaging beyond text on the webjs engine: the REAL whatsapp-web.js 1.34.7, Puppeteer and Debian's Chromium, with
 * the WhatsApp Web stand-in (test/fixtures/whatsapp-web-standin) playing WhatsApp, its media servers and the other
 * people. Once per build shape: before July 2026 (message keys with `_serialized`) and after (a minified field; here
 * `$5`, not the `$1` seen so far, so nothing may depend on the name). One browser per shape: the operations run in
 * sequence on one connected session.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { chatSchema, mediaUrlOf, messageSchema } from '../../contract/api.js';
import { createWebjsEngine, type WebjsSession } from '../../session-host/engines/webjs/webjs-engine.js';
import { BUILD_SHAPES, StandinControl, writeStandinWebCache, type BuildShape } from '../fixtures/whatsapp-web-standin/standin.js';
import { chromiumOn, RecordingListener, testLogger, waitFor } from './helpers.js';

const cacheDir = mkdtempSync(path.join(tmpdir(), 'webjs-messaging-cache-'));
const standinOf: Record<BuildShape, { webCacheDir: string; webVersion: string }> = {
  'pre-2026-07': writeStandinWebCache(cacheDir),
  '2026-07': writeStandinWebCache(cacheDir, { buildShape: '2026-07', msgKeyField: '$5' }),
};
afterAll(() => rmSync(cacheDir, { recursive: true, force: true }));

const SESSION = 'media-1';
const ME = '15550009999@c.us';
const ME_LID = '100000000000999@lid';
const ALICE = '15550100001@c.us';
const BOB = '15550100002@c.us';
const CAROL_LID = '201000000000003@lid';
const GROUP = '120363000000000001@g.us';

/** Bytes that are no valid text: every value 0..255, twice, and a tail. */
const png = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.from(Array.from({ length: 512 }, (_, i) => i % 256))]);
const pdf = Buffer.from('%PDF-1.4\n% a stand-in document\n%%EOF\n');
const ogg = Buffer.from([0x4f, 0x67, 0x67, 0x53, 0x00, 0x02, ...Array.from({ length: 64 }, (_, i) => (i * 7) % 256)]);

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

async function connectedSession(shape: BuildShape): Promise<{ session: WebjsSession; listener: RecordingListener; page: StandinControl }> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'webjs-messaging-'));
  const listener = new RecordingListener();
  const engine = createWebjsEngine({ dataDir, initTimeoutMs: 20_000, ...standinOf[shape], logger: testLogger });
  const session = engine.openSession({ sessionId: SESSION, listener });
  cleanups.push(async () => {
    await session.stop();
    await engine.close();
    expect(chromiumOn(session.profileDir)).toEqual([]);
    rmSync(dataDir, { recursive: true, force: true });
  });
  await session.start();
  await listener.waitForStatus((u) => u.status === 'qr');
  const current = session.currentPage();
  if (!current) throw new Error('no page');
  const page = new StandinControl(current);
  await page.scan({ me: ME, pushName: 'Tester', lid: ME_LID });
  await listener.waitForStatus((u) => u.status === 'connected');
  return { session, listener, page };
}

const media = (data: Buffer, mimetype: string, extra: { filename?: string; caption?: string; asVoice?: boolean } = {}) => ({
  kind: 'media' as const,
  media: { data, mimetype, filename: extra.filename ?? null, caption: extra.caption ?? null, asVoice: extra.asVoice ?? false },
});

describe.each(BUILD_SHAPES)('webjs engine on WhatsApp Web %s: messaging beyond text', (shape) => {
  it('sends media, locations, replies and mentions; downloads; reacts, edits, deletes, marks read; pages history; hears others do it', async () => {
    const { session, listener, page } = await connectedSession(shape);
    expect((await page.status()).buildShape).toBe(shape);

    // ---- Media out: an image with a caption, a document, a voice note and plain audio.
    const image = messageSchema.parse(await session.send({ chatId: ALICE, content: media(png, 'image/png', { filename: 'dot.png', caption: 'a picture' }) }));
    expect(image).toMatchObject({ chatId: ALICE, fromMe: true, type: 'image', body: 'a picture', ack: 'sent', quotedMessageId: null, location: null });
    expect(image.media).toEqual({ mimetype: 'image/png', filename: null, size: png.length, url: mediaUrlOf(SESSION, image.id) });
    const document = messageSchema.parse(await session.send({ chatId: ALICE, content: media(pdf, 'application/pdf', { filename: 'report.pdf' }) }));
    expect(document).toMatchObject({ type: 'document', body: '', media: { mimetype: 'application/pdf', filename: 'report.pdf', size: pdf.length } });
    const voice = messageSchema.parse(await session.send({ chatId: ALICE, content: media(ogg, 'audio/ogg; codecs=opus', { asVoice: true }) }));
    expect(voice).toMatchObject({ type: 'ptt', media: { mimetype: 'audio/ogg; codecs=opus', size: ogg.length } });
    const audio = messageSchema.parse(await session.send({ chatId: ALICE, content: media(ogg, 'audio/ogg') }));
    expect(audio.type).toBe('audio');
    // What left, as WhatsApp's side saw it.
    await waitFor('four media sends on the wire', async () => (await page.status()).sent.length >= 4);
    expect((await page.status()).sent.map((m) => [m.type, m.body])).toEqual([
      ['image', 'a picture'],
      ['document', ''],
      ['ptt', ''],
      ['audio', ''],
    ]);
    // Own media downloads byte for byte.
    const ownDownload = await session.downloadMedia({ messageId: document.id });
    expect(ownDownload).toEqual({ data: pdf, mimetype: 'application/pdf', filename: 'report.pdf' });
    expect(Buffer.compare((await session.downloadMedia({ messageId: image.id })).data, png)).toBe(0);

    // ---- A location.
    const place = messageSchema.parse(
      await session.send({ chatId: ALICE, content: { kind: 'location', location: { latitude: 52.52, longitude: 13.405, name: 'Berlin', address: 'Pariser Platz' } } }),
    );
    expect(place).toMatchObject({ type: 'location', body: '', media: null, location: { latitude: 52.52, longitude: 13.405, name: 'Berlin', address: 'Pariser Platz' } });
    await waitFor('the location on the wire', async () => (await page.status()).sent.some((m) => m.type === 'location'));
    expect((await page.status()).sent.find((m) => m.type === 'location')).toMatchObject({ lat: 52.52, lng: 13.405, loc: 'Berlin\nPariser Platz' });

    // ---- Someone known by LID only writes; a reply quotes it; a reply to an unknown message sends nothing.
    const carolSays = await page.incoming({ from: CAROL_LID, body: 'hi, carol here', pushName: 'carol' });
    const fromCarol = await listener.waitForMessage((m) => m.id === carolSays);
    expect(fromCarol).toMatchObject({ chatId: CAROL_LID, quotedMessageId: null, media: null, sender: { id: CAROL_LID, lid: CAROL_LID } });
    const reply = messageSchema.parse(await session.send({ chatId: CAROL_LID, content: { kind: 'text', text: 'hello carol' }, replyTo: carolSays }));
    expect(reply).toMatchObject({ chatId: CAROL_LID, body: 'hello carol', quotedMessageId: carolSays });
    const replyToOwn = messageSchema.parse(await session.send({ chatId: ALICE, content: { kind: 'text', text: 'about that picture' }, replyTo: image.id }));
    expect(replyToOwn.quotedMessageId).toBe(image.id);
    await waitFor('both replies on the wire', async () => (await page.status()).sent.length >= 7);
    const sentBefore = (await page.status()).sent.length;
    expect((await page.status()).sent.find((m) => m.body === 'hello carol')?.quotedStanzaID).toBe(carolSays.split('_').at(-1));
    await expect(session.send({ chatId: ALICE, content: { kind: 'text', text: 'to nothing' }, replyTo: `false_${ALICE}_3ANOSUCHMESSAGE` })).rejects.toMatchObject({
      code: 'MESSAGE_NOT_FOUND',
    });
    // Refused before the engine asked the page to send: nothing is on the wire (a send would have resolved instead).
    expect((await page.status()).sent).toHaveLength(sentBefore);
    // History shows what a reply quotes too.
    const carolHistory = await session.listMessages({ chatId: CAROL_LID, limit: 10 });
    expect(carolHistory.find((m) => m.id === reply.id)?.quotedMessageId).toBe(carolSays);

    // ---- Mentions in a group.
    await session.send({ chatId: GROUP, content: { kind: 'text', text: '@15550100001 look' }, mentions: [ALICE] });
    await waitFor('the mention on the wire', async () => (await page.status()).sent.some((m) => m.to === GROUP));
    expect((await page.status()).sent.find((m) => m.to === GROUP)?.mentions).toEqual([ALICE]);

    // ---- Media in, from a LID: metadata in the event, bytes through download (until WhatsApp forgets them).
    const photoId = await page.incoming({ from: CAROL_LID, media: { data: png.toString('base64'), mimetype: 'image/png', caption: 'from carol' } });
    const photo = messageSchema.parse(await listener.waitForMessage((m) => m.id === photoId));
    expect(photo).toMatchObject({ type: 'image', body: 'from carol', fromMe: false, sender: { id: CAROL_LID, lid: CAROL_LID, phone: null } });
    expect(photo.media).toEqual({ mimetype: 'image/png', filename: null, size: png.length, url: mediaUrlOf(SESSION, photoId) });
    const downloaded = await session.downloadMedia({ messageId: photoId });
    expect(Buffer.compare(downloaded.data, png)).toBe(0);
    expect(downloaded.mimetype).toBe('image/png');
    const docId = await page.incoming({ from: CAROL_LID, media: { data: pdf.toString('base64'), mimetype: 'application/pdf', filename: 'carol.pdf' } });
    const doc = await listener.waitForMessage((m) => m.id === docId);
    expect(doc.media).toMatchObject({ filename: 'carol.pdf', size: pdf.length });
    expect(await session.downloadMedia({ messageId: docId })).toEqual({ data: pdf, mimetype: 'application/pdf', filename: 'carol.pdf' });
    await page.expireMedia(docId);
    await expect(session.downloadMedia({ messageId: docId })).rejects.toMatchObject({ code: 'MEDIA_NOT_FOUND', details: { reason: 'gone' } });
    await expect(session.downloadMedia({ messageId: carolSays })).rejects.toMatchObject({ code: 'MEDIA_NOT_FOUND', details: { reason: 'none' } });
    await expect(session.downloadMedia({ messageId: `false_${ALICE}_3ANOSUCHMESSAGE` })).rejects.toMatchObject({ code: 'MESSAGE_NOT_FOUND' });
    // A location and a reply from them.
    const theirPlaceId = await page.incoming({ from: CAROL_LID, location: { latitude: -33.86, longitude: 151.21, name: 'Sydney' } });
    expect(await listener.waitForMessage((m) => m.id === theirPlaceId)).toMatchObject({
      type: 'location',
      body: '',
      location: { latitude: -33.86, longitude: 151.21, name: 'Sydney', address: null },
    });
    const theirReplyId = await page.incoming({ from: CAROL_LID, body: 'got it', quotedMessageId: reply.id });
    expect((await listener.waitForMessage((m) => m.id === theirReplyId)).quotedMessageId).toBe(reply.id);

    // ---- Reactions: the session's own go out (and are not reported back); theirs are events, removal too.
    await session.react({ messageId: carolSays, emoji: '👍' });
    await session.react({ messageId: carolSays, emoji: '' });
    expect((await page.status()).reactions).toEqual([
      { id: carolSays, emoji: '👍' },
      { id: carolSays, emoji: '' },
    ]);
    await page.react({ from: CAROL_LID, messageId: reply.id, emoji: '❤️' });
    expect(await listener.waitForReaction((r) => r.emoji === '❤️')).toEqual({
      messageId: reply.id,
      chatId: CAROL_LID,
      sender: { id: CAROL_LID, lid: CAROL_LID, phone: null },
      emoji: '❤️',
    });
    await page.react({ from: CAROL_LID, messageId: reply.id, emoji: '' });
    await listener.waitForReaction((r) => r.emoji === '' && r.messageId === reply.id);
    expect(listener.reactions.map((r) => r.emoji)).toEqual(['❤️', '']);
    await expect(session.react({ messageId: `true_${ALICE}_3EB0NOSUCHMESSAGE`, emoji: '👍' })).rejects.toMatchObject({ code: 'MESSAGE_NOT_FOUND' });

    // ---- Edits: own text messages only; theirs are events.
    const edited = messageSchema.parse(await session.edit({ messageId: reply.id, text: 'hello again, carol' }));
    expect(edited).toMatchObject({ id: reply.id, body: 'hello again, carol', fromMe: true, chatId: CAROL_LID });
    expect((await page.status()).edits).toEqual([{ id: reply.id, body: 'hello again, carol' }]);
    expect((await session.listMessages({ chatId: CAROL_LID, limit: 20 })).find((m) => m.id === reply.id)?.body).toBe('hello again, carol');
    await expect(session.edit({ messageId: carolSays, text: 'not mine' })).rejects.toMatchObject({ code: 'MESSAGE_NOT_EDITABLE' });
    await expect(session.edit({ messageId: image.id, text: 'a caption is no text message' })).rejects.toMatchObject({ code: 'MESSAGE_NOT_EDITABLE' });
    await expect(session.edit({ messageId: `true_${ALICE}_3EB0NOSUCHMESSAGE`, text: 'x' })).rejects.toMatchObject({ code: 'MESSAGE_NOT_FOUND' });
    await page.edit({ messageId: carolSays, body: 'hi, carol here (edited)' });
    expect(await listener.waitForEdit((e) => e.messageId === carolSays)).toEqual({ messageId: carolSays, chatId: CAROL_LID, body: 'hi, carol here (edited)' });

    // ---- Deletes: own for everyone; theirs for everyone is not allowed, so for this session only; theirs are events.
    await session.revoke({ messageId: replyToOwn.id, everyone: true });
    expect((await page.status()).revoked).toEqual([replyToOwn.id]);
    expect((await session.listMessages({ chatId: ALICE, limit: 50 })).map((m) => m.id)).not.toContain(replyToOwn.id);
    await expect(session.revoke({ messageId: replyToOwn.id, everyone: true })).rejects.toMatchObject({ code: 'MESSAGE_NOT_FOUND' });
    await session.revoke({ messageId: theirReplyId, everyone: true });
    expect((await page.status()).deleted).toEqual([theirReplyId]);
    await page.revoke({ messageId: photoId });
    expect(await listener.waitForRevoke((r) => r.messageId === photoId)).toEqual({ messageId: photoId, chatId: CAROL_LID });
    await new Promise((resolve) => setTimeout(resolve, 300));
    // Only what the other side did is an event: no edit, reaction or revoke of the session's own came back.
    expect(listener.edits.map((e) => e.messageId)).toEqual([carolSays]);
    expect(listener.revokes.map((r) => r.messageId)).toEqual([photoId]);
    expect(listener.reactions).toHaveLength(2);

    // ---- Mark read: unread goes to 0, read receipts go to what was unread.
    await page.incoming({ from: BOB, body: 'unread one' });
    await page.incoming({ from: BOB, body: 'unread two' });
    await listener.waitForMessage((m) => m.body === 'unread two');
    const unread = (await session.listChats()).map((c) => chatSchema.parse(c)).find((c) => c.id === BOB);
    expect(unread?.unreadCount).toBe(2);
    await session.markRead({ chatId: BOB });
    expect((await session.listChats()).find((c) => c.id === BOB)?.unreadCount).toBe(0);
    expect((await page.status()).seen).toEqual([{ chat: BOB, unread: 2 }]);

    // ---- Paging: 120 older messages on the phone, loaded 50 at a time; pages of 50 walk back, none twice or missing.
    const older = await page.seedHistory({ with: BOB, count: 120 });
    const walked: string[] = [];
    let before: string | undefined;
    for (let pages = 0; pages < 10; pages += 1) {
      const pageOf = await session.listMessages({ chatId: BOB, limit: 50, ...(before === undefined ? {} : { before }) });
      if (pageOf.length === 0) break;
      walked.unshift(...pageOf.map((m) => m.id));
      const times = pageOf.map((m) => m.timestamp);
      expect([...times].sort()).toEqual(times);
      if (pageOf.length < 50) break;
      before = pageOf[0]?.id;
    }
    expect(walked).toHaveLength(122);
    expect(new Set(walked).size).toBe(122);
    expect(walked.slice(0, 120)).toEqual(older);
    const lastTwo = await session.listMessages({ chatId: BOB, limit: 2 });
    expect(lastTwo.map((m) => m.body)).toEqual(['unread one', 'unread two']);
    expect((await session.listMessages({ chatId: BOB, limit: 3, before: older[10] })).map((m) => m.body)).toEqual(['history 8', 'history 9', 'history 10']);
    await expect(session.listMessages({ chatId: BOB, limit: 5, before: `false_${BOB}_3ANOSUCHMESSAGE` })).rejects.toMatchObject({ code: 'MESSAGE_NOT_FOUND' });

    // The library asked the stand-in for nothing it does not model, and nothing failed in the page.
    const status = await page.status();
    expect(status.unknownRequires).toEqual([]);
    expect(status.errors).toEqual([]);
  }, 120_000);
});
