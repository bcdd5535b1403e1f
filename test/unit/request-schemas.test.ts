import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import {
  base64DecodedLength,
  createSessionBodySchema,
  describeIssues,
  maxMediaDataBytes,
  messageIdSchema,
  reactionBodySchema,
  messagesQuerySchema,
  parseOrThrow,
  sendMessageBodySchema,
  sessionIdSchema,
  simulatorScanBodySchema,
} from '../../contract/api.js';
import { ValidationError } from '../../contract/errors.js';

describe('sessionId', () => {
  it.each(['alice', 'A_b-9', 'x', 'a'.repeat(64), '123'])('accepts %s', (id) => {
    expect(sessionIdSchema.safeParse(id).success).toBe(true);
  });

  // The id names a folder under data/sessions: nothing that could leave it may pass.
  it.each(['', 'a'.repeat(65), '..', '../etc', 'a/b', 'a\\b', '.hidden', 'a.b', 'a b', '%2e%2e', 'é', 'a\u0000b', '~root', 'a\nb'])(
    'refuses %j',
    (id) => {
      expect(sessionIdSchema.safeParse(id).success).toBe(false);
    },
  );
});

describe('bodies', () => {
  it('normalises the chat id of a send and keeps the text as it is', () => {
    expect(parseOrThrow(sendMessageBodySchema, { chatId: '+1 555-123-4567', text: ' hi ' })).toEqual({
      chatId: '15551234567@c.us',
      text: ' hi ',
    });
  });

  it('bounds the text: 1 to 65,536 characters', () => {
    expect(sendMessageBodySchema.safeParse({ chatId: '15551234567', text: 'x'.repeat(65_536) }).success).toBe(true);
    expect(sendMessageBodySchema.safeParse({ chatId: '15551234567', text: 'x'.repeat(65_537) }).success).toBe(false);
    expect(sendMessageBodySchema.safeParse({ chatId: '15551234567', text: '' }).success).toBe(false);
  });

  it('refuses text with a lone surrogate', () => {
    expect(sendMessageBodySchema.safeParse({ chatId: '15551234567', text: '\ud800' }).success).toBe(false);
    expect(sendMessageBodySchema.safeParse({ chatId: '15551234567', text: '😀' }).success).toBe(true);
  });

  it('lists every wrong field, unknown ones included, in the error details', () => {
    const error = (() => {
      try {
        parseOrThrow(sendMessageBodySchema, { chatId: 5, text: '', mood: 'happy', extra: null });
      } catch (caught) {
        return caught;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(ValidationError);
    const fields = (error as ValidationError).details?.fields as Array<{ path: string; message: string }>;
    expect(fields.map((field) => field.path).sort()).toEqual(['chatId', 'extra', 'mood', 'text']);
    for (const field of fields) expect(field.message.length).toBeGreaterThan(3);
  });

  it('takes an optional sessionId on create, and nothing else', () => {
    expect(createSessionBodySchema.safeParse({}).success).toBe(true);
    expect(createSessionBodySchema.safeParse({ sessionId: 'bob' }).success).toBe(true);
    expect(createSessionBodySchema.safeParse({ sessionId: 'bob', engine: 'x' }).success).toBe(false);
    expect(createSessionBodySchema.safeParse({ sessionId: 42 }).success).toBe(false);
  });

  it('takes digits only as a simulator phone', () => {
    expect(simulatorScanBodySchema.safeParse({ phone: '15550100001' }).success).toBe(true);
    expect(simulatorScanBodySchema.safeParse({ phone: '+15550100001' }).success).toBe(false);
  });
});

describe('limit', () => {
  it.each([
    ['1', 1],
    ['50', 50],
    ['500', 500],
  ])('accepts %s', (raw, value) => {
    expect(parseOrThrow(messagesQuerySchema, { limit: raw })).toEqual({ limit: value });
  });

  it.each(['0', '501', '-1', '1.5', 'abc', '', '1e2', ' 5', '0500'])('refuses %j', (raw) => {
    expect(messagesQuerySchema.safeParse({ limit: raw }).success).toBe(false);
  });

  it('is optional, and no other query field is taken', () => {
    expect(parseOrThrow(messagesQuerySchema, {})).toEqual({});
    expect(messagesQuerySchema.safeParse({ limit: '5', offset: '2' }).success).toBe(false);
  });
});

describe('messaging beyond text: bodies', () => {
  const png = Buffer.from('png bytes').toString('base64');
  it.each([
    { chatId: '1555 123 4567', text: 'hi' },
    { chatId: '15551234567', media: { data: png, mimetype: 'image/png', caption: 'c' } },
    { chatId: '15551234567', media: { url: 'https://example.com/a.pdf', mimetype: 'application/pdf', filename: 'a.pdf' } },
    { chatId: '15551234567', media: { data: png, mimetype: 'audio/ogg; codecs=opus', asVoice: true } },
    { chatId: '15551234567', location: { latitude: -33.9, longitude: 151.2, name: 'Sydney' } },
    { chatId: '15551234567', text: 'yes', replyTo: 'false_15551234567@c.us_3EB0AB', mentions: ['15557654321'] },
  ])('accepts %j', (body) => {
    expect(sendMessageBodySchema.safeParse(body).success).toBe(true);
  });

  it.each([
    [{ chatId: '15551234567' }, '(root)'],
    [{ chatId: '15551234567', text: 'a', location: { latitude: 0, longitude: 0 } }, '(root)'],
    [{ chatId: '15551234567', media: { mimetype: 'image/png' } }, 'media'],
    [{ chatId: '15551234567', media: { data: png, url: 'https://example.com/a', mimetype: 'image/png' } }, 'media'],
    [{ chatId: '15551234567', media: { data: 'not base64!', mimetype: 'image/png' } }, 'media.data'],
    [{ chatId: '15551234567', media: { data: 'AAA', mimetype: 'image/png' } }, 'media.data'],
    [{ chatId: '15551234567', media: { data: png, mimetype: 'png' } }, 'media.mimetype'],
    [{ chatId: '15551234567', media: { url: 'ftp://example.com/a', mimetype: 'image/png' } }, 'media.url'],
    [{ chatId: '15551234567', media: { data: png, mimetype: 'image/png', asVoice: true } }, 'media.asVoice'],
    [{ chatId: '15551234567', location: { latitude: 91, longitude: 0 } }, 'location.latitude'],
    [{ chatId: '15551234567', text: 'a', replyTo: '../x' }, 'replyTo'],
    [{ chatId: '15551234567', text: 'a', mentions: ['nobody'] }, 'mentions.0'],
  ])('refuses %j at %s', (body, path) => {
    const parsed = sendMessageBodySchema.safeParse(body);
    expect(parsed.success).toBe(false);
    expect(describeIssues(parsed.error as z.ZodError).map((issue) => issue.path)).toContain(path);
  });

  it('refuses media data over 4 MB decoded', () => {
    const data = Buffer.alloc(maxMediaDataBytes + 3).toString('base64');
    expect(sendMessageBodySchema.safeParse({ chatId: '15551234567', media: { data, mimetype: 'image/png' } }).success).toBe(false);
    expect(base64DecodedLength(Buffer.alloc(maxMediaDataBytes).toString('base64'))).toBe(maxMediaDataBytes);
  });

  it.each(['👍', '❤️', '👍🏽', '🇩🇪', '👨‍👩‍👧', '1️⃣', ''])('takes the reaction %j', (emoji) => {
    expect(reactionBodySchema.safeParse({ emoji }).success).toBe(true);
  });

  it.each(['a', '👍👍', ':+1:', ' ', '👍 ', '\u200d'])('refuses the reaction %j', (emoji) => {
    expect(reactionBodySchema.safeParse({ emoji }).success).toBe(false);
  });

  it('takes WhatsApp message ids, percent-decoded, and nothing that could change a path', () => {
    for (const id of ['true_15551234567@c.us_3EB0C0FFEE', 'false_120363041234567890@g.us_ABCD_15551234567@c.us', 'false_123456789012345@lid_AB']) {
      expect(messageIdSchema.safeParse(id).success, id).toBe(true);
    }
    for (const id of ['15551234567@c.us_3EB0', 'true_a/b_c', 'true_a%2Fb', 'true_', `true_${'a'.repeat(260)}`]) {
      expect(messageIdSchema.safeParse(id).success, id).toBe(false);
    }
  });
});
