import { describe, expect, it } from 'vitest';
import {
  createSessionBodySchema,
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
