/**
 * Memory of `webjs` sessions: whatsapp-web.js 1.34.7 with Debian's Chromium against the WhatsApp Web stand-in
 * (test/fixtures/whatsapp-web-standin, served through the library's local web cache), logged in by the stand-in's
 * scan. Measured as PSS summed over each browser's process tree (shared pages are divided among the processes that
 * share them, so N browsers are not counted N times for one copy of Chromium).
 *
 * The clients are built as the engine builds them (session-host/engines/webjs/webjs-engine.ts, createClient), with
 * one difference: the Chromium flags. "default" is what Chromium needs to run here and nothing else (puppeteer's own
 * defaults dropped too: `--headless --no-sandbox`); "ours" is the engine's, puppeteer's defaults plus chromiumArgs().
 */
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import wwebjs from 'whatsapp-web.js';
import type { Page } from 'puppeteer';
import { chromiumArgs, resolveChromePath } from '../../session-host/engines/webjs/chromium.js';
import { temporaryDirectory } from '../../scripts/support/processes.js';
import { memoryOfAll, processesMentioning, processTree, type Memory } from '../support/proc.js';
import type { PartContext } from '../support/report.js';
import { sleep } from '../support/stats.js';

const { Client, LocalAuth } = wwebjs;

export type FlagSet = 'default' | 'ours';

export interface WebjsMeasurement {
  flags: FlagSet;
  sessions: number;
  total: Memory;
  perSession: Memory;
  processes: number;
  /** Launch until `ready` (all sessions of the step launched together), ms. */
  readyMs: number;
}

/** The engine's default V8 heap cap for the page (WebjsEngineOptions.maxOldSpaceMb). */
const engineMaxOldSpaceMb = 1_024;

interface Running {
  client: InstanceType<typeof Client>;
  pid: number | undefined;
}

function killGroup(pid: number): void {
  for (const target of [-pid, pid]) {
    try {
      process.kill(target, 'SIGKILL');
    } catch {
      // gone
    }
  }
}

async function launch(options: {
  sessionId: string;
  dataDir: string;
  chromePath: string;
  flags: FlagSet;
  web: { webCacheDir: string; webVersion: string };
  scan: (page: Page, me: string) => Promise<unknown>;
  me: string;
  timeoutMs: number;
}): Promise<Running> {
  const puppeteer =
    options.flags === 'default'
      ? { ignoreDefaultArgs: true, args: ['--headless', '--no-sandbox'] }
      : { args: chromiumArgs({ maxOldSpaceMb: engineMaxOldSpaceMb }) };
  const client = new Client({
    authStrategy: new LocalAuth({ clientId: options.sessionId, dataPath: options.dataDir }),
    puppeteer: {
      executablePath: options.chromePath,
      headless: true,
      pipe: true,
      handleSIGINT: false,
      handleSIGTERM: false,
      handleSIGHUP: false,
      timeout: 30_000,
      ...puppeteer,
    },
    webVersionCache: { type: 'local', path: options.web.webCacheDir, strict: true },
    webVersion: options.web.webVersion,
    authTimeoutMs: options.timeoutMs,
    qrMaxRetries: 0,
    takeoverOnConflict: false,
  });
  const running: Running = { client, pid: undefined };
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${options.sessionId} not ready within ${options.timeoutMs} ms`)), options.timeoutMs);
    client.once('ready', () => {
      clearTimeout(timer);
      resolve();
    });
    client.once('qr', () => {
      const page = client.pupPage;
      if (page === undefined || page === null) return;
      options.scan(page, options.me).catch((error: unknown) => {
        clearTimeout(timer);
        reject(error instanceof Error ? error : new Error(String(error)));
      });
    });
    client.once('auth_failure', (message: string) => {
      clearTimeout(timer);
      reject(new Error(`auth failure: ${message}`));
    });
  });
  await client.initialize();
  running.pid = client.pupBrowser?.process()?.pid ?? undefined;
  await ready;
  return running;
}

async function stop(running: Running): Promise<void> {
  await Promise.race([running.client.destroy().catch(() => undefined), sleep(5_000)]);
  if (running.pid !== undefined) killGroup(running.pid);
}

/**
 * Runs each flag set with 1 session, then with `maxSessions` together, and measures. Returns a reason instead when the
 * measurement cannot run here (no Chromium, no stand-in).
 */
export async function measureWebjsMemory(
  context: PartContext,
  options: { counts: number[]; settleMs: number },
): Promise<{ measurements: WebjsMeasurement[] } | { skipped: string }> {
  let chromePath: string;
  try {
    chromePath = resolveChromePath(process.env.CHROME_PATH);
  } catch (error) {
    return { skipped: error instanceof Error ? error.message : String(error) };
  }
  const standinModule = path.resolve(import.meta.dirname, '../../test/fixtures/whatsapp-web-standin/standin.ts');
  if (!existsSync(standinModule)) return { skipped: 'the WhatsApp Web stand-in (test/fixtures/whatsapp-web-standin) is not there' };
  const standin = await import('../../test/fixtures/whatsapp-web-standin/standin.js');

  const work = temporaryDirectory('wa-bench-webjs');
  // Chromium is started detached by Puppeteer: every process that names this directory is killed, on every path.
  const sweep = () => {
    for (const pid of processesMentioning(work.path)) killGroup(pid);
  };
  context.onCleanup(() => {
    sweep();
    work.remove();
  });
  const web = standin.writeStandinWebCache(path.join(work.path, 'web-cache'));
  const measurements: WebjsMeasurement[] = [];
  for (const flags of ['default', 'ours'] as const) {
    const running: Running[] = [];
    try {
      let launched = 0;
      for (const count of options.counts) {
        const dataDir = path.join(work.path, `data-${flags}`);
        mkdirSync(dataDir, { recursive: true });
        context.log(`webjs: ${count} session(s) with ${flags} flags`);
        const started = performance.now();
        const batch = Array.from({ length: count - launched }, (_, index) => launched + index + 1);
        const results = await Promise.allSettled(
          batch.map((number) =>
            launch({
              sessionId: `bench-${flags}-${number}`,
              dataDir,
              chromePath,
              flags,
              web,
              me: `1555030${String(number).padStart(4, '0')}@c.us`,
              scan: (page, me) => new standin.StandinControl(page).scan({ me, pushName: `Bench ${number}` }),
              timeoutMs: 90_000,
            }),
          ),
        );
        for (const result of results) if (result.status === 'fulfilled') running.push(result.value);
        const failed = results.find((result): result is PromiseRejectedResult => result.status === 'rejected');
        if (failed !== undefined) throw failed.reason instanceof Error ? failed.reason : new Error(String(failed.reason));
        const readyMs = performance.now() - started;
        launched = count;
        await sleep(options.settleMs);
        const pids = running.flatMap((session) => (session.pid === undefined ? [] : processTree(session.pid)));
        const total = memoryOfAll(pids);
        measurements.push({
          flags,
          sessions: count,
          total,
          perSession: { rss: total.rss / count, pss: total.pss / count, uss: total.uss / count },
          processes: pids.length,
          readyMs,
        });
      }
    } finally {
      await Promise.all(running.map((session) => stop(session)));
      sweep();
    }
  }
  return { measurements };
}
