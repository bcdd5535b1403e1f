/** The engine port contract, run against the simulator, on an in-memory simulated network (a fake of our own port). */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { SimulatedMailItem } from '../../contract/commands.js';
import type { SimulatedAccount, SimulatedNetwork } from '../../session-host/engines/simulator/simulated-network.js';
import { createSimulatorEngine, isSimulatorSession } from '../../session-host/engines/simulator/simulator-engine.js';
import { silentLogger } from '../support/redis.js';
import { RecordingListener } from '../webjs/helpers.js';
import { describeEngineContract, type EngineHarness } from './engine-contract.js';

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
  async done(sessionId: string, count: number, keys: string[]) {
    for (const key of keys) this.delivered.add(`${sessionId}|${key}`);
    this.mailboxes.set(sessionId, (this.mailboxes.get(sessionId) ?? []).slice(count));
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
    const engine = createSimulatorEngine({ network, dataDir, autoScanMs: 0, qrRotateMs: 60_000, readAfterMs: 50, logger: silentLogger() });
    const listener = new RecordingListener();
    const session = engine.openSession({ sessionId: 'contract', listener });
    if (!isSimulatorSession(session)) throw new Error('not a simulator session');
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
      reopen: harnessOn,
      cleanup: async () => {
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
