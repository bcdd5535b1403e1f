/**
 * The simulated network's mailboxes in real Redis: what two hosts that read the same items (a session moving from
 * one to the other) each mark done never drops an item that came after, unseen.
 */
import { describe, expect, it } from 'vitest';
import type { SimulatedMailItem } from '../../contract/commands.js';
import type { CommandBus } from '../../lib/command-bus.js';
import type { SessionDirectory } from '../../lib/session-directory.js';
import { RedisSimulatedNetwork } from '../../session-host/engines/simulator/simulated-network.js';
import { useRedisServer } from '../support/redis.js';

const redis = useRedisServer();

/** Mail with no nudges: the directory and the bus are never reached. */
const noNudges = { nudge: false };
const unusedDirectory = {} as SessionDirectory;
const unusedBus = {} as CommandBus;

const ack = (n: number): SimulatedMailItem => ({ kind: 'ack', messageId: `true_1@c.us_M${n}`, chatId: '1@c.us', ack: 'delivered' });

describe('simulated mailboxes', () => {
  it('drops only the items a host read, each only while still at the head', async () => {
    const keys = redis.keys();
    const hostA = new RedisSimulatedNetwork(redis.client(), keys, unusedDirectory, unusedBus);
    const hostB = new RedisSimulatedNetwork(redis.client(), keys, unusedDirectory, unusedBus);
    for (const n of [1, 2, 3]) await hostA.post('s', ack(n), noNudges);
    const readByA = await hostA.peek('s', 10);
    const readByB = await hostB.peek('s', 10);
    await hostA.done('s', readByA, []);
    for (const n of [4, 5, 6]) await hostA.post('s', ack(n), noNudges);
    // B read the same three items A had already delivered: its done must not take 4, 5 and 6 with them.
    await hostB.done('s', readByB, []);
    expect((await hostA.peek('s', 10)).map((item) => (item.kind === 'ack' ? item.messageId : ''))).toEqual([
      'true_1@c.us_M4',
      'true_1@c.us_M5',
      'true_1@c.us_M6',
    ]);
    expect(await hostA.pendingSessions()).toEqual(['s']);
    const rest = await hostB.peek('s', 10);
    await hostB.done('s', rest, []);
    expect(await hostA.peek('s', 10)).toEqual([]);
    expect(await hostA.pendingSessions()).toEqual([]);
  });
});

describe('simulated contacts', () => {
  it('forgets the contacts of an account that logs out (its LID is never used again)', async () => {
    const client = redis.client();
    const keys = redis.keys();
    const network = new RedisSimulatedNetwork(client, keys, unusedDirectory, unusedBus);
    await network.publishAccount('a', { phone: '15550100001', lid: '211111111111111', pushName: 'A' });
    await network.connect('211111111111111', '222222222222222');
    await network.connect('233333333333333', '211111111111111');
    await network.connect('222222222222222', '233333333333333');
    await network.publishAccount('a', null);
    expect(await network.areContacts('211111111111111', '222222222222222')).toBe(false);
    expect(await network.areContacts('233333333333333', '211111111111111')).toBe(false);
    expect(await network.areContacts('222222222222222', '233333333333333')).toBe(true);
    expect(await client.scard(keys.simulatorContacts)).toBe(1);
  });
});
