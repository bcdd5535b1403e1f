/** The engine port contract, run against the simulator, on an in-memory simulated network (a fake of our own port). */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { SimulatedWireMessage } from '../../contract/commands.js';
import type { Ack } from '../../contract/api.js';
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
  private find(match: (account: SimulatedAccount) => boolean) {
    for (const [sessionId, account] of this.accounts) if (match(account)) return { ...account, sessionId };
    return null;
  }
  async deliver(_sessionId: string, _message: SimulatedWireMessage) {
    return false;
  }
  async sendAck(_sessionId: string, _ack: { messageId: string; chatId: string; ack: Ack }) {}
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
