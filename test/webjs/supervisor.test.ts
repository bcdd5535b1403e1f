/**
 * The browser supervisor's restart policy and launch handling (supervisor.ts), with a fake driver: no Chromium, a
 * temporary profile directory, small real delays and a fixed jitter so the schedule is exact.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { EngineStatusUpdate } from '../../session-host/engines/engine.js';
import { BrowserSupervisor, restartDelayMs, type BrowserDriver, type SupervisorOptions } from '../../session-host/engines/webjs/supervisor.js';
import { waitFor } from './helpers.js';

describe('the restart schedule', () => {
  const policy = { restartBaseDelayMs: 1_000, restartMaxDelayMs: 60_000 };

  it('doubles from the base delay up to the cap', () => {
    const upper = [0, 1, 2, 3, 4, 5, 6, 7, 8].map((attempt) => restartDelayMs(attempt, policy, () => 1));
    expect(upper).toEqual([1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000, 60_000]);
  });

  it('jitters each delay within its upper half', () => {
    expect([0, 3, 10].map((attempt) => restartDelayMs(attempt, policy, () => 0))).toEqual([500, 4_000, 30_000]);
    expect(restartDelayMs(2, policy, () => 0.5)).toBe(3_000);
    for (let attempt = 0; attempt < 12; attempt += 1) {
      const delay = restartDelayMs(attempt, policy);
      const cap = Math.min(60_000, 1_000 * 2 ** attempt);
      expect(delay).toBeGreaterThanOrEqual(cap / 2);
      expect(delay).toBeLessThanOrEqual(cap);
    }
  });
});

interface FakeClient {
  id: number;
  destroyed: boolean;
}

/** An initialize() that hangs until destroy(), as a library's does when its page never loads. */
function hangingUntilDestroyed(): Pick<BrowserDriver<FakeClient>, 'initialize' | 'destroy'> {
  const hanging = new Map<FakeClient, (error: Error) => void>();
  return {
    initialize: (client) => new Promise<void>((_resolve, reject) => hanging.set(client, reject)),
    destroy: async (client) => {
      client.destroyed = true;
      hanging.get(client)?.(new Error('Target closed'));
    },
  };
}

/** A driver whose clients start at once and whose page answers as `pageAnswers` says. */
function fakeDriver(overrides: Partial<BrowserDriver<FakeClient>> = {}) {
  const clients: FakeClient[] = [];
  const state = { pageAnswers: false };
  const driver: BrowserDriver<FakeClient> = {
    create: (launch) => {
      const client = { id: clients.length + 1, destroyed: false };
      clients.push(client);
      launch.browserStarted(undefined, pino({ level: 'silent' }));
      return client;
    },
    initialize: async () => undefined,
    destroy: async (client) => {
      client.destroyed = true;
    },
    probe: async () => {
      if (!state.pageAnswers) throw new Error('Target closed');
    },
    classifyLaunchError: (error) => ({ code: 'ENGINE_ERROR', message: String(error) }),
    launchTimeoutError: (timeoutMs) => ({ code: 'WHATSAPP_UNREACHABLE', message: `nothing within ${timeoutMs} ms` }),
    ...overrides,
  };
  return { driver, clients, state };
}

describe('the browser supervisor', () => {
  let dataDir: string;
  let statuses: EngineStatusUpdate[];
  let logs: Array<Record<string, unknown>>;
  let supervisor: BrowserSupervisor<FakeClient> | undefined;

  beforeEach(() => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'supervisor-test-'));
    statuses = [];
    logs = [];
    supervisor = undefined;
  });

  afterEach(async () => {
    await supervisor?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  function supervise(driver: BrowserDriver<FakeClient>, options: Partial<SupervisorOptions<FakeClient>> = {}) {
    supervisor = new BrowserSupervisor<FakeClient>({
      driver,
      profileDir: path.join(dataDir, 'session-test'),
      dataDir,
      // Any file that exists: the fake driver starts no browser.
      chromePath: process.execPath,
      initTimeoutMs: 5_000,
      livenessIntervalMs: 20,
      livenessTimeoutMs: 200,
      maxRestarts: 3,
      restartBaseDelayMs: 10,
      restartMaxDelayMs: 15,
      stableAfterMs: 60_000,
      names: { client: 'fake client', app: 'Fake App' },
      logger: pino({ level: 'info' }, { write: (line: string) => logs.push(JSON.parse(line) as Record<string, unknown>) }),
      report: (update) => statuses.push(update),
      random: () => 0,
      ...options,
    });
    return supervisor;
  }

  it('restarts a client whose page stops answering on the backoff schedule, then gives up as failed', async () => {
    const { driver, clients } = fakeDriver();
    supervise(driver).start();

    const failed = await waitFor('failed', () => statuses.find((update) => update.status === 'failed'), 10_000);
    expect(failed.lastError).toEqual({
      code: 'BROWSER_CRASHED',
      message: "Fake App's page stopped answering: Target closed Gave up after 3 restarts.",
    });
    expect(failed.loggedOut).toBe(false);
    // The first launch and three restarts, each torn down.
    expect(statuses.map((update) => update.status)).toEqual(['disconnected', 'disconnected', 'disconnected', 'disconnected', 'failed']);
    expect(clients.map((client) => client.destroyed)).toEqual([true, true, true, true]);
    const delays = logs.filter((line) => line.msg === 'restarting fake client').map((line) => line.delayMs);
    // base 10 ms doubling, capped at 15, jitter at its lowest (half): 5, 8 (7.5 rounded), 8.
    expect(delays).toEqual([5, 8, 8]);
    expect(supervisor?.isRunning).toBe(false);
  });

  it('starts the count over once a connection has lasted', async () => {
    const { driver, clients, state } = fakeDriver();
    state.pageAnswers = true;
    const running = supervise(driver, { maxRestarts: 1, stableAfterMs: 30 });
    running.start();
    await waitFor('the first client', () => clients.length === 1 && running.launch?.initialized);
    const lose = async (count: number) => {
      running.connected();
      await new Promise((resolve) => setTimeout(resolve, 60));
      running.launch?.lost('gone');
      await waitFor(`client ${count}`, () => clients.length === count && running.launch?.initialized);
    };
    // With maxRestarts 1, a second loss in a row would be fatal; a lasting connection in between resets the count.
    await lose(2);
    await lose(3);
    expect(statuses.map((update) => update.status)).toEqual(['disconnected', 'disconnected']);
    expect(running.isRunning).toBe(true);
  });

  it('reports a failed first launch as failed, without restarting', async () => {
    const { driver, clients } = fakeDriver({ initialize: () => Promise.reject(new Error('no page')) });
    supervise(driver).start();
    const failed = await waitFor('failed', () => statuses.find((update) => update.status === 'failed'));
    expect(failed).toEqual({ status: 'failed', lastError: { code: 'ENGINE_ERROR', message: 'Error: no page' }, loggedOut: false });
    expect(clients).toHaveLength(1);
    expect(clients[0]?.destroyed).toBe(true);
  });

  it('fails a launch that is never answered within initTimeoutMs', async () => {
    const { driver, clients } = fakeDriver(hangingUntilDestroyed());
    supervise(driver, { initTimeoutMs: 50 }).start();
    const failed = await waitFor('failed', () => statuses.find((update) => update.status === 'failed'));
    expect(failed.lastError).toEqual({ code: 'WHATSAPP_UNREACHABLE', message: 'nothing within 50 ms' });
    expect(clients[0]?.destroyed).toBe(true);
  });

  it('does not fail a launch that was answered in time', async () => {
    const { driver } = fakeDriver({
      create: (launch) => {
        launch.browserStarted(undefined, pino({ level: 'silent' }));
        launch.answered();
        return { id: 1, destroyed: false };
      },
      ...hangingUntilDestroyed(),
    });
    const running = supervise(driver, { initTimeoutMs: 30 });
    running.start();
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(statuses).toEqual([]);
    expect(running.launch?.isCurrent()).toBe(true);
  });

  it('a relogin begun before a stop and a new start neither wipes the new run’s profile nor launches beside it', async () => {
    let releaseFirst: () => void = () => undefined;
    const { driver, clients } = fakeDriver({
      destroy: async (client) => {
        client.destroyed = true;
        // The first client's teardown (the logged-out one) takes a while: long enough for a stop and a start.
        if (client.id === 1) await new Promise<void>((resolve) => (releaseFirst = resolve));
      },
    });
    const running = supervise(driver, { livenessIntervalMs: 60_000 });
    running.start();
    await waitFor('the first client', () => (clients.length === 1 ? true : undefined));
    const first = running.launch;
    if (first === null) throw new Error('no launch');
    let wiped = 0;
    running.retire(first);
    running.relaunchOnFreshProfile(first, () => {
      wiped += 1;
    });
    await running.stop();
    running.start();
    await waitFor('the new run’s client', () => (clients.length === 2 ? true : undefined));
    const marker = path.join(dataDir, 'session-test', 'login-of-the-new-run');
    mkdirSync(path.dirname(marker), { recursive: true });
    writeFileSync(marker, 'logged in');
    releaseFirst();
    await waitFor('the relogin to stand down', () => logs.some((line) => String(line.msg).startsWith('the session stopped before its relogin')) || undefined);
    expect(existsSync(marker)).toBe(true);
    expect(wiped).toBe(0);
    expect(clients).toHaveLength(2);
  });

  it('stop() cancels a pending restart: no client after it', async () => {
    const { driver, clients } = fakeDriver();
    const running = supervise(driver, { restartBaseDelayMs: 200, restartMaxDelayMs: 200 });
    running.start();
    await waitFor('a restart scheduled', () => logs.some((line) => line.msg === 'restarting fake client'));
    await running.stop();
    const launched = clients.length;
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(clients).toHaveLength(launched);
    expect(running.launch).toBeNull();
  });
});
