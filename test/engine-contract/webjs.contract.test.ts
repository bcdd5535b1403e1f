/**
 * The engine port contract, run against the webjs engine: the real whatsapp-web.js, Puppeteer and Debian
 * Chromium, with the WhatsApp Web stand-in playing WhatsApp and the phone. One browser at a time.
 * Once per build shape of WhatsApp Web: before July 2026 (message keys with `_serialized`) and after (the key's
 * serialized form in a minified field, which the engine's id shim finds by value).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll } from 'vitest';
import { createWebjsEngine } from '../../session-host/engines/webjs/webjs-engine.js';
import { BUILD_SHAPES, StandinControl, writeStandinWebCache } from '../fixtures/whatsapp-web-standin/standin.js';
import { chromiumOn, RecordingListener, testLogger, waitFor } from '../webjs/helpers.js';
import { describeEngineContract, type EngineHarness } from './engine-contract.js';

const cacheDir = mkdtempSync(path.join(tmpdir(), 'webjs-contract-cache-'));
afterAll(() => rmSync(cacheDir, { recursive: true, force: true }));

for (const buildShape of BUILD_SHAPES) {
  const standin = writeStandinWebCache(cacheDir, { buildShape });

  describeEngineContract(`webjs, WhatsApp Web ${buildShape}`, async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'webjs-contract-'));
    const harnessOn = (): EngineHarness => {
      const engine = createWebjsEngine({ dataDir, initTimeoutMs: 20_000, ...standin, logger: testLogger });
      const listener = new RecordingListener();
      const session = engine.openSession({ sessionId: 'contract', listener });
      const control = () => {
        const page = session.currentPage();
        if (page === null || page === undefined) throw new Error('the engine has no page open');
        return new StandinControl(page);
      };
      return {
        listener,
        session,
        scan: async () => {
          await control().scan({ me: '15550009999@c.us', pushName: 'Contract' });
        },
        incoming: async (from, body) => {
          await control().incoming({ from, body });
        },
        incomingFromLid: async (lid, body) => {
          await control().incoming({ from: lid, body });
        },
        enterPairingCode: async (code) => {
          await control().enterPairingCode(code, { pushName: 'Contract' });
        },
        unregisteredNumber: '15559990001',
        sessionId: 'contract',
        // The peer: someone WhatsApp knows by LID only; the stand-in plays their phone.
        peer: async () => {
          const from = '104857600054321@lid';
          return {
            sendText: async (body, options = {}) => {
              await control().incoming({ from, body, ...(options.replyTo === undefined ? {} : { quotedMessageId: options.replyTo }) });
            },
            sendMedia: async ({ data, mimetype, filename, caption }) => {
              await control().incoming({
                from,
                media: { data: data.toString('base64'), mimetype, ...(filename === undefined ? {} : { filename }), ...(caption === undefined ? {} : { caption }) },
              });
            },
            react: (messageId, emoji) => control().react({ from, messageId, emoji }),
            edit: (messageId, body) => control().edit({ messageId, body }),
            revoke: (messageId) => control().revoke({ messageId }),
            // WhatsApp Web's sendSeen sends the read receipts of what was unread in the chat.
            waitForRead: async (messageId) => {
              const chatId = messageId.split('_')[1];
              await waitFor('the read receipt', async () => (await control().status()).seen.some((seen) => seen.chat === chatId));
            },
          };
        },
        reopen: harnessOn,
        cleanup: async () => {
          await session.stop();
          await engine.close();
          if (chromiumOn(session.profileDir).length > 0) throw new Error(`Chromium left on ${session.profileDir}`);
        },
      };
    };
    const first = harnessOn();
    return {
      ...first,
      cleanup: async () => {
        await first.cleanup();
        rmSync(dataDir, { recursive: true, force: true });
      },
    };
  });
}
