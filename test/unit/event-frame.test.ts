import { describe, expect, it } from 'vitest';
import type { ServiceEvent } from '../../contract/events.js';
import { frameOf, maxFrameBytes } from '../../session-host/events/event-pusher.js';

function messageEvent(body: string): ServiceEvent {
  const at = new Date().toISOString();
  return {
    id: '1-0',
    event: 'message',
    sessionId: 'alice',
    timestamp: at,
    data: { id: 'm', chatId: '1@c.us', from: '1@c.us', to: '2@c.us', fromMe: false, type: 'chat', body, timestamp: at, ack: 'delivered', sender: { id: '1@c.us', lid: null, phone: '1' }, quotedMessageId: null, media: null, location: null },
  };
}

describe('event frames', () => {
  it('posts an event as it is when it fits', () => {
    const event = messageEvent('hello');
    expect(JSON.parse(frameOf(event))).toEqual(event);
  });

  it('never goes over API Gateway’s 128 KB: a large message is cut and says truncated', () => {
    // 65,536 characters of 4-byte emoji halves and control characters that JSON escapes to 6 bytes each.
    for (const body of ['😀'.repeat(32_768), '\u0001'.repeat(65_536), 'é'.repeat(65_536)]) {
      const frame = frameOf(messageEvent(body));
      expect(Buffer.byteLength(frame)).toBeLessThanOrEqual(maxFrameBytes);
      const parsed = JSON.parse(frame) as ServiceEvent & { truncated?: boolean };
      expect(parsed.truncated).toBe(true);
      expect(parsed.event === 'message' && body.startsWith(parsed.data.body) && parsed.data.body.length > 10_000).toBe(true);
    }
  });
});
