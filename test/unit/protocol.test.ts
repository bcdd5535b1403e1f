/** The Redis protocol's schemas: what a host or a caller accepts from the other side, and what it refuses. */
import { describe, expect, it } from 'vitest';
import {
  commandEnvelopeSchema,
  commandReplySchema,
  commandResultSchemas,
  protocolVersion,
  publicSession,
  sessionRecordSchema,
} from '../../contract/commands.js';
import { clientActionSchema, eventBodySchema } from '../../contract/events.js';
import { redisKeys } from '../../contract/redis-keys.js';

const envelope = {
  v: protocolVersion,
  requestId: 'r1',
  sessionId: 'alice',
  deadline: Date.now() + 1_000,
  replyTo: 'wa:replies:x',
  command: { type: 'send', chatId: '1@c.us', content: { kind: 'text', text: 'hi' } },
};

describe('command envelopes', () => {
  it('accepts every command of the protocol', () => {
    for (const command of [
      { type: 'create' },
      { type: 'delete' },
      { type: 'restart' },
      { type: 'send', chatId: '1@c.us', content: { kind: 'text', text: 'hi' }, idempotencyKey: 'k' },
      {
        type: 'send',
        chatId: '1@c.us',
        content: { kind: 'media', blobKey: 'uploads/a/1', mimetype: 'image/png', filename: null, caption: 'c', asVoice: false },
        replyTo: 'false_1@c.us_AB',
        mentions: ['2@c.us'],
      },
      { type: 'send', chatId: '1@c.us', content: { kind: 'location', location: { latitude: 1, longitude: 2, name: null, address: null } } },
      { type: 'chats' },
      { type: 'messages', chatId: '1@c.us', limit: 500 },
      { type: 'messages', chatId: '1@c.us', limit: 50, before: 'true_1@c.us_AB' },
      { type: 'media.download', messageId: 'true_1@c.us_AB' },
      { type: 'message.react', messageId: 'true_1@c.us_AB', emoji: '' },
      { type: 'message.edit', messageId: 'true_1@c.us_AB', text: 'x' },
      { type: 'message.delete', messageId: 'true_1@c.us_AB', everyone: true },
      { type: 'chat.read', chatId: '1@c.us' },
      { type: 'contacts' },
      { type: 'engine.control', action: 'scan', input: {} },
      { type: 'engine.control', action: 'incoming', input: { from: '1@c.us', text: 'x' } },
      { type: 'engine.control', action: 'drain', input: {} },
      { type: 'ws.resume', connectionId: 'c=', after: '1-0' },
    ]) {
      expect(commandEnvelopeSchema.safeParse({ ...envelope, command }).success, command.type).toBe(true);
    }
  });

  it('refuses another protocol version, an unknown command, a bad session id or a missing deadline', () => {
    expect(commandEnvelopeSchema.safeParse({ ...envelope, v: 2 }).success).toBe(false);
    expect(commandEnvelopeSchema.safeParse({ ...envelope, command: { type: 'format-disk' } }).success).toBe(false);
    expect(commandEnvelopeSchema.safeParse({ ...envelope, sessionId: '../x' }).success).toBe(false);
    const { deadline: _deadline, ...noDeadline } = envelope;
    expect(commandEnvelopeSchema.safeParse(noDeadline).success).toBe(false);
    expect(commandEnvelopeSchema.safeParse({ ...envelope, command: { type: 'messages', chatId: '1@c.us', limit: 501 } }).success).toBe(false);
  });
});

describe('replies', () => {
  it('carries a result or a contract error, nothing else', () => {
    expect(commandReplySchema.safeParse({ requestId: 'r', ok: true, result: { chats: [] } }).success).toBe(true);
    expect(commandReplySchema.safeParse({ requestId: 'r', ok: false, error: { code: 'TIMEOUT', message: 'x' } }).success).toBe(true);
    expect(commandReplySchema.safeParse({ requestId: 'r', ok: false, error: { code: 'WHATEVER', message: 'x' } }).success).toBe(false);
    expect(commandReplySchema.safeParse({ requestId: 'r', ok: 'yes' }).success).toBe(false);
  });

  it('has a result schema for every command, which refuses a wrong shape', () => {
    expect(commandResultSchemas.chats.safeParse({ chats: [{ id: 'x' }] }).success).toBe(false);
    expect(commandResultSchemas['ws.resume'].safeParse({ replayed: 3, expired: false }).success).toBe(true);
  });
});

describe('session records', () => {
  it('keep the QR out of the public session', () => {
    const at = new Date().toISOString();
    const record = sessionRecordSchema.parse({ id: 'a', status: 'qr', engine: 'webjs', me: null, createdAt: at, updatedAt: at, lastError: null, qr: '2@x' });
    expect(publicSession(record)).not.toHaveProperty('qr');
  });
});

describe('events and client actions', () => {
  it('validates each event kind', () => {
    const at = new Date().toISOString();
    expect(eventBodySchema.safeParse({ event: 'message_ack', sessionId: 'a', timestamp: at, data: { messageId: 'm', chatId: 'c', ack: 'read' } }).success).toBe(true);
    expect(eventBodySchema.safeParse({ event: 'message_ack', sessionId: 'a', timestamp: at, data: { messageId: 'm', chatId: 'c', ack: 'seen' } }).success).toBe(false);
  });

  it('takes only the actions of the contract, with no extra fields', () => {
    expect(clientActionSchema.safeParse({ action: 'resume', sessionId: 'a', after: '1732000000000-3' }).success).toBe(true);
    expect(clientActionSchema.safeParse({ action: 'resume', sessionId: 'a', after: '$' }).success).toBe(false);
    expect(clientActionSchema.safeParse({ action: 'resume', sessionId: 'a', after: '99999999999999999999-0' }).success).toBe(false);
    expect(clientActionSchema.safeParse({ action: 'ping', extra: 1 }).success).toBe(false);
  });
});

describe('Redis keys', () => {
  it('put every key under the prefix, and one session’s keys in one cluster slot', () => {
    const keys = redisKeys('p');
    for (const key of [keys.sessions, keys.session('a'), keys.hostInbox('h'), keys.events('a'), keys.wsAdminUnfiltered, keys.wsFollowers('a'), keys.sessionTenant('a'), keys.apiKeys, keys.keySessions('k'), keys.idempotency('s', 'k')]) {
      expect(key.startsWith('p:')).toBe(true);
    }
    for (const key of [keys.session('a'), keys.sessionOwner('a'), keys.events('a'), keys.sendRate('a'), keys.sendLedger('a', 'k'), keys.sessionTenant('a')]) {
      expect(key).toContain('{s:a}');
    }
  });
});
