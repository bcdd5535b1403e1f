/** Incoming messages once each, acks only forward (inbound-dedup.ts). Pure: no browser. */
import { describe, expect, it } from 'vitest';
import type { Ack } from '../../contract/api.js';
import { InboundDedup } from '../../session-host/engines/webjs/inbound-dedup.js';

/** The acks of a sequence that would be reported. */
function reported(dedup: InboundDedup, id: string, acks: Ack[]): Ack[] {
  return acks.filter((ack) => dedup.ackMovesForward(id, ack));
}

describe('incoming messages', () => {
  it('are reported once per id', () => {
    const dedup = new InboundDedup();
    expect(['a', 'b', 'a', 'c', 'b', 'a'].map((id) => dedup.isFirstSighting(id))).toEqual([true, true, false, true, false, false]);
  });

  it('are remembered up to a bound, the oldest forgotten first', () => {
    const dedup = new InboundDedup(3);
    for (const id of ['a', 'b', 'c', 'd']) expect(dedup.isFirstSighting(id)).toBe(true);
    expect(dedup.isFirstSighting('d')).toBe(false);
    expect(dedup.isFirstSighting('a')).toBe(true);
  });
});

describe('acks of own messages', () => {
  it('are reported only when they move past sent, each step once', () => {
    const dedup = new InboundDedup();
    expect(reported(dedup, 'm1', ['pending', 'sent', 'delivered', 'delivered', 'read', 'delivered', 'played', 'read'])).toEqual([
      'delivered',
      'read',
      'played',
    ]);
  });

  it('may skip steps, never go back', () => {
    const dedup = new InboundDedup();
    expect(reported(dedup, 'm1', ['read', 'delivered', 'read'])).toEqual(['read']);
  });

  it('end with failed: nothing after it', () => {
    const dedup = new InboundDedup();
    expect(reported(dedup, 'm1', ['delivered', 'failed', 'read', 'played', 'failed'])).toEqual(['delivered', 'failed']);
  });

  it('are kept apart per message, and need an id', () => {
    const dedup = new InboundDedup();
    expect(reported(dedup, 'm1', ['delivered'])).toEqual(['delivered']);
    expect(reported(dedup, 'm2', ['delivered'])).toEqual(['delivered']);
    expect(reported(dedup, '', ['delivered', 'read'])).toEqual([]);
  });

  it('start from what a send answered', () => {
    const dedup = new InboundDedup();
    dedup.sentWithAck('m1', 'delivered');
    dedup.sentWithAck('m2', 'sent');
    expect(reported(dedup, 'm1', ['delivered', 'read'])).toEqual(['read']);
    expect(reported(dedup, 'm2', ['delivered'])).toEqual(['delivered']);
  });

  it('are remembered up to a bound, a message still moving kept longest', () => {
    const dedup = new InboundDedup(2);
    expect(reported(dedup, 'm1', ['delivered'])).toEqual(['delivered']);
    expect(reported(dedup, 'm2', ['delivered'])).toEqual(['delivered']);
    expect(reported(dedup, 'm1', ['read'])).toEqual(['read']);
    expect(reported(dedup, 'm3', ['delivered'])).toEqual(['delivered']);
    // m2 moved least recently: forgotten, so its repeat counts again; m1 is still known.
    expect(reported(dedup, 'm1', ['read'])).toEqual([]);
    expect(reported(dedup, 'm2', ['delivered'])).toEqual(['delivered']);
  });
});
