/**
 * The engine port contract, run against the simulator, on an in-memory simulated network (a fake of our own port).
 * The peer of messaging beyond text is a second simulated session on the same network (its own phone), with media
 * on the simulated servers (a LocalBlobStore); what it does reaches the session through the network, as events.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Message } from '../../contract/api.js';
import type { SimulatedMailItem } from '../../contract/commands.js';
import { LocalBlobStore } from '../../lib/blob-store-local.js';
import type { EngineSession } from '../../session-host/engines/engine.js';
import type { SimulatedAccount, SimulatedNetwork } from '../../session-host/engines/simulator/simulated-network.js';
import { createSimulatorEngine, isSimulatorSession } from '../../session-host/engines/simulator/simulator-engine.js';
import { silentLogger } from '../support/redis.js';
import { RecordingListener, waitFor } from '../webjs/helpers.js';
import { describeEngineContract, type EngineHarness, type EnginePeer } from './engine-contract.js';

/** The wire id in a message id of a one-to-one chat (`<fromMe>_<chat>_<wire id>`): both sides' ids end with it. */
const wireIdOf = (messageId: string) => messageId.slice(messageId.lastIndexOf('_') + 1);

/** The peer's own copy of a message the session knows by `messageId` (the two sides' ids differ but the wire id). */
async function peerCopyOf(peer: EngineSession, messageId: string): Promise<Message> {
  const wire = wireIdOf(messageId);
  return waitFor(`the peer's copy of ${messageId}`, async () => {
    for (const chat of await peer.listChats()) {
      const found = (await peer.listMessages({ chatId: chat.id, limit: 500 })).find((message) => message.id.endsWith(`_${wire}`));
      if (found !== undefined) return found;
    }
    return undefined;
  }, 10_000);
}

class InMemoryNetwork implements SimulatedNetwork {
  readonly phones = new Map<string, string>();
  async claimPhone(phone: string, sessionId: string) {
    const owner = this.phones.get(phone);
    if (owner !== undefined && owner !== sessionId) return false;
    this.phones.set(phone, sessionId);
    return true;
  }
  async releasePhone(phone: string, sessionId: string) {
    if (this.phones.get(phone) === sessionId) this.phones.delete(phone);
  }
  async sessionOfPhone(phone: string) {
    return this.phones.get(phone) ?? null;
  }
  readonly accounts = new Map<string, SimulatedAccount>();
  readonly contacts = new Set<string>();
  async publishAccount(sessionId: string, account: SimulatedAccount | null) {
    if (account === null) this.accounts.delete(sessionId);
    else this.accounts.set(sessionId, account);
  }
  async accountOfPhone(phone: string) {
    return this.find((account) => account.phone === phone);
  }
  async accountOfLid(lid: string) {
    return this.find((account) => account.lid === lid);
  }
  async areContacts(a: string, b: string) {
    return this.contacts.has([a, b].sort().join(':'));
  }
  async connect(a: string, b: string) {
    this.contacts.add([a, b].sort().join(':'));
  }
  async accountOfSession(sessionId: string | null) {
    const account = sessionId === null ? undefined : this.accounts.get(sessionId);
    return account === undefined || sessionId === null ? null : { ...account, sessionId };
  }
  private find(match: (account: SimulatedAccount) => boolean) {
    for (const [sessionId, account] of this.accounts) if (match(account)) return { ...account, sessionId };
    return null;
  }
  /** Mailboxes, as Redis would keep them: what a session is sent waits until it drains. */
  readonly mailboxes = new Map<string, SimulatedMailItem[]>();
  readonly delivered = new Set<string>();
  async post(sessionId: string, item: SimulatedMailItem) {
    this.mailboxes.set(sessionId, [...(this.mailboxes.get(sessionId) ?? []), item]);
  }
  async peek(sessionId: string, count: number) {
    return (this.mailboxes.get(sessionId) ?? []).slice(0, count);
  }
  async done(sessionId: string, items: readonly SimulatedMailItem[], keys: string[]) {
    for (const key of keys) this.delivered.add(`${sessionId}|${key}`);
    const mailbox = [...(this.mailboxes.get(sessionId) ?? [])];
    for (const item of items) {
      if (mailbox[0] !== item) break;
      mailbox.shift();
    }
    this.mailboxes.set(sessionId, mailbox);
  }
  async wereDelivered(sessionId: string, keys: string[]) {
    return keys.map((key) => this.delivered.has(`${sessionId}|${key}`));
  }
  async pendingSessions() {
    return [...this.mailboxes].filter(([, items]) => items.length > 0).map(([sessionId]) => sessionId);
  }
  async takeAll(sessionId: string) {
    const items = this.mailboxes.get(sessionId) ?? [];
    this.mailboxes.delete(sessionId);
    return items;
  }
}

describeEngineContract('simulator', async () => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'sim-contract-'));
  const network = new InMemoryNetwork();
  const harnessOn = (): EngineHarness => {
    // readAfterMs 0: chats are read only when marked read (the mark-read case counts on unread messages staying so).
    const engine = createSimulatorEngine({
      network,
      dataDir,
      autoScanMs: 0,
      qrRotateMs: 60_000,
      readAfterMs: 0,
      mailboxSweepMs: 50,
      blobs: new LocalBlobStore(path.join(dataDir, 'media')),
      logger: silentLogger(),
    });
    const listener = new RecordingListener();
    const session = engine.openSession({ sessionId: 'contract', listener });
    if (!isSimulatorSession(session)) throw new Error('not a simulator session');
    const others: Array<() => Promise<void>> = [];
    const peer = async (): Promise<EnginePeer> => {
      const me = listener.statuses.findLast((update) => update.status === 'connected')?.me;
      if (me === undefined || me === null) throw new Error('the session is not connected');
      const peerListener = new RecordingListener();
      const peerSession = engine.openSession({ sessionId: 'contract-peer', listener: peerListener });
      if (!isSimulatorSession(peerSession)) throw new Error('not a simulator session');
      others.push(async () => {
        await peerSession.stop();
      });
      await peerSession.start();
      await peerListener.waitForStatus((update) => update.status === 'qr', 10_000);
      await peerSession.scan('4930555000');
      await peerListener.waitForStatus((update) => update.status === 'connected', 10_000);
      /** Where the peer writes: the chat it has with the session (by its number or LID), else the session's number. */
      const peerChat = async () => {
        const chats = (await peerSession.listChats()).map((chat) => chat.id);
        return chats.find((id) => id === me.id || id === me.lid) ?? me.id;
      };
      return {
        sendText: async (body, options = {}) => {
          const quoted = options.replyTo === undefined ? null : await peerCopyOf(peerSession, options.replyTo);
          await peerSession.send({
            chatId: quoted?.chatId ?? (await peerChat()),
            content: { kind: 'text', text: body },
            ...(quoted === null ? {} : { replyTo: quoted.id }),
          });
        },
        sendMedia: async ({ data, mimetype, filename, caption }) => {
          await peerSession.send({
            chatId: await peerChat(),
            content: { kind: 'media', media: { data, mimetype, filename: filename ?? null, caption: caption ?? null, asVoice: false } },
          });
        },
        react: async (messageId, emoji) => {
          await peerSession.react?.({ messageId: (await peerCopyOf(peerSession, messageId)).id, emoji });
        },
        edit: async (messageId, body) => {
          await peerSession.edit?.({ messageId: (await peerCopyOf(peerSession, messageId)).id, text: body });
        },
        revoke: async (messageId) => {
          await peerSession.revoke?.({ messageId: (await peerCopyOf(peerSession, messageId)).id, everyone: true });
        },
        waitForRead: async (messageId) => {
          const copy = await peerCopyOf(peerSession, messageId);
          await peerListener.waitForAck((ack) => ack.messageId === copy.id && ack.ack === 'read', 10_000);
        },
      };
    };
    return {
      listener,
      session,
      scan: () => session.scan(),
      incoming: async (from, body) => {
        await session.injectIncoming(from, body);
      },
      incomingFromLid: async (lid, body) => {
        await session.injectIncoming(lid, body);
      },
      enterPairingCode: (code) => session.pair(code),
      unregisteredNumber: '15559990001',
      sessionId: 'contract',
      peer,
      reopen: harnessOn,
      cleanup: async () => {
        for (const stop of others.splice(0)) await stop();
        await session.stop();
        await engine.close();
      },
    };
  };
  const first = harnessOn();
  const cleanup = first.cleanup;
  return { ...first, cleanup: async () => {
    await cleanup();
    rmSync(dataDir, { recursive: true, force: true });
  } };
});
