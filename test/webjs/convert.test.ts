/** The webjs engine's pure parts: ack names, launch error classes, Chromium lookup. No browser here. */
import { describe, expect, it } from 'vitest';
import { ChromeNotFoundError, chromiumArgs, resolveChromePath } from '../../session-host/engines/webjs/chromium.js';
import type WAWebJS from 'whatsapp-web.js';
import { ackName, ackRank, quotedMessageIdOf, toChat, toContact, toMessage, type KnownIdentity } from '../../session-host/engines/webjs/convert.js';
import { classifyLaunchError } from '../../session-host/engines/webjs/webjs-engine.js';

describe('webjs engine helpers', () => {
  it('maps whatsapp-web.js MessageAck values to the contract', () => {
    expect([-1, 0, 1, 2, 3, 4].map(ackName)).toEqual(['failed', 'pending', 'sent', 'delivered', 'read', 'played']);
    expect(ackRank('read')).toBeGreaterThan(ackRank('delivered'));
    expect(ackRank('failed')).toBeGreaterThan(ackRank('played'));
  });

  it('classifies launch failures', () => {
    expect(classifyLaunchError(new Error('net::ERR_NAME_NOT_RESOLVED at https://web.whatsapp.com/')).code).toBe(
      'WHATSAPP_UNREACHABLE',
    );
    expect(classifyLaunchError('auth timeout').code).toBe('WHATSAPP_UNREACHABLE');
    expect(classifyLaunchError(new Error('Failed to launch the browser process!')).code).toBe('BROWSER_LAUNCH_FAILED');
    expect(classifyLaunchError(new Error("Couldn't load version x from the cache")).code).toBe('WEB_VERSION_NOT_FOUND');
    expect(classifyLaunchError(new ChromeNotFoundError('set CHROME_PATH')).code).toBe('CHROME_NOT_FOUND');
    expect(classifyLaunchError(new Error('something else')).code).toBe('ENGINE_ERROR');
  });

  it('finds Chromium, or says to set CHROME_PATH', () => {
    expect(() => resolveChromePath('/nonexistent/chrome')).toThrow(/CHROME_PATH/);
    expect(resolveChromePath(undefined)).toMatch(/chrom/);
    expect(chromiumArgs({ maxOldSpaceMb: 512 })).toContain('--js-flags=--max-old-space-size=512');
  });

  it('fills sender, lid and phone as far as known, and reads renamed message keys by value', () => {
    const known = new Map<string, KnownIdentity>([
      ['201000000000001@lid', { lid: '201000000000001@lid', phone: '15550100001' }],
      ['15550100001@c.us', { lid: '201000000000001@lid', phone: '15550100001' }],
    ]);
    const lookup = (id: string) => known.get(id);
    const me = { id: '15550009999@c.us', pushName: 'Me', lid: '100000000000999@lid' };
    const asMessage = (data: object) => data as unknown as WAWebJS.Message;
    // A July-2026 key: the serialized id in a minified field, no `_serialized`.
    const fromLid = toMessage(
      asMessage({ id: { fromMe: false, remote: '201000000000001@lid', id: 'A1', $5: 'false_201000000000001@lid_A1' }, from: '201000000000001@lid', to: me.id, fromMe: false, type: 'chat', body: 'hi', timestamp: 1 }),
      { me, known: lookup },
    );
    expect(fromLid).toMatchObject({ id: 'false_201000000000001@lid_A1', chatId: '201000000000001@lid', sender: { id: '201000000000001@lid', lid: '201000000000001@lid', phone: '15550100001' } });
    const unknownLid = toMessage(asMessage({ id: { fromMe: false, remote: '9@lid', id: 'B', _serialized: 'false_9@lid_B' }, from: '9@lid', fromMe: false, type: 'chat', body: '', timestamp: 1 }), { known: lookup });
    expect(unknownLid.sender).toEqual({ id: '9@lid', lid: '9@lid', phone: null });
    const own = toMessage(asMessage({ id: { fromMe: true, remote: '15550100001@c.us', id: 'C', _serialized: 'true_15550100001@c.us_C' }, from: me.id, to: '15550100001@c.us', fromMe: true, type: 'chat', body: '', timestamp: 1 }), { me, known: lookup });
    expect(own.sender).toEqual({ id: me.id, lid: me.lid, phone: '15550009999' });
    const inGroup = toMessage(asMessage({ id: { fromMe: false, remote: '1203@g.us', id: 'D', participant: '15550100001@c.us', q: 'false_1203@g.us_D_15550100001@c.us' }, from: '1203@g.us', author: '15550100001@c.us', fromMe: false, type: 'chat', body: '', timestamp: 1 }), { known: lookup });
    expect(inGroup).toMatchObject({ id: 'false_1203@g.us_D_15550100001@c.us', chatId: '1203@g.us', sender: { id: '15550100001@c.us', lid: '201000000000001@lid', phone: '15550100001' } });

    const chat = toChat({ id: { _serialized: '201000000000001@lid' }, name: 'Alice', isGroup: false, unreadCount: 0, timestamp: 1 } as unknown as WAWebJS.Chat, { known: lookup });
    expect(chat).toMatchObject({ lid: '201000000000001@lid', phone: '15550100001' });
    const group = toChat({ id: { _serialized: '1203@g.us' }, name: 'G', isGroup: true, unreadCount: 0, timestamp: 1 } as unknown as WAWebJS.Chat, { known: lookup });
    expect(group).toMatchObject({ lid: null, phone: null });
    const lidOnly = toContact({ id: { _serialized: '9@lid' }, number: '9', pushname: 'nine', isGroup: false } as unknown as WAWebJS.Contact, lookup);
    expect(lidOnly).toMatchObject({ id: '9@lid', number: '', lid: '9@lid', phone: null, name: 'nine' });
  });

  it('media, locations and replies: metadata with the download URL, the caption as body, quoted ids rebuilt', () => {
    const me = { id: '15550009999@c.us', pushName: 'Me', lid: '100000000000999@lid' };
    const asMessage = (data: object) => data as unknown as WAWebJS.Message;
    const base = { ack: 2, t: 1_700_000_000, timestamp: 1_700_000_000, from: '201000000000003@lid', to: me.id, fromMe: false };
    const image = toMessage(
      asMessage({
        ...base,
        id: { fromMe: false, remote: '201000000000003@lid', id: '3AIMG', _serialized: 'false_201000000000003@lid_3AIMG' },
        type: 'image',
        body: '/9j/thumbnail',
        _data: { mimetype: 'image/jpeg', size: 1234, caption: 'cat', quotedStanzaID: '3EB0MINE', quotedParticipant: { _serialized: me.lid } },
      }),
      { sessionId: 's-1', me },
    );
    expect(image).toMatchObject({
      type: 'image',
      body: 'cat',
      media: { mimetype: 'image/jpeg', filename: null, size: 1234, url: '/api/messages/s-1/message/false_201000000000003%40lid_3AIMG/media' },
      quotedMessageId: 'true_201000000000003@lid_3EB0MINE',
      location: null,
    });
    const place = toMessage(
      asMessage({
        ...base,
        id: { fromMe: false, remote: '201000000000003@lid', id: '3ALOC', _serialized: 'false_201000000000003@lid_3ALOC' },
        type: 'location',
        body: '/9j/thumbnail',
        location: { latitude: 1.5, longitude: -2.25, name: 'Here', address: undefined },
        _data: {},
      }),
      { sessionId: 's-1', me },
    );
    expect(place).toMatchObject({ body: '', media: null, location: { latitude: 1.5, longitude: -2.25, name: 'Here', address: null } });
    // Quoting someone else's message, in a group (the participant is part of the id), and in another chat.
    expect(quotedMessageIdOf({ quotedStanzaID: 'X1', quotedParticipant: '15550100001@c.us' }, '15550100001@c.us', me)).toBe('false_15550100001@c.us_X1');
    expect(quotedMessageIdOf({ quotedStanzaID: 'X2', quotedParticipant: '15550100001@c.us' }, '120363000000000001@g.us', me)).toBe(
      'false_120363000000000001@g.us_X2_15550100001@c.us',
    );
    expect(quotedMessageIdOf({ quotedStanzaID: 'X3', quotedParticipant: me.id, quotedRemoteJid: '15550100002@c.us' }, '15550100001@c.us', me)).toBe(
      'true_15550100002@c.us_X3',
    );
    expect(quotedMessageIdOf({}, '15550100001@c.us', me)).toBeNull();
  });
});
