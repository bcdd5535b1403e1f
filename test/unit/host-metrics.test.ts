/** The session host's metrics without a host: command timing by outcome, the registry's series, browser memory. */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { CommandEnvelope } from '../../contract/commands.js';
import { ServiceError } from '../../contract/errors.js';
import { TimeoutError } from '../../lib/async.js';
import { browserMemoryBySession, createHostMetrics, withCommandMetrics } from '../../session-host/metrics.js';

const started: ChildProcess[] = [];
const directories: string[] = [];

afterEach(async () => {
  for (const child of started.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
  }
  for (const directory of directories.splice(0)) rmSync(directory, { recursive: true, force: true });
});

function envelope(type: string): CommandEnvelope {
  return { command: { type }, sessionId: 's1' } as unknown as CommandEnvelope;
}

describe('host metrics', () => {
  it('times and counts commands by type and outcome, and reads session counts at scrape time', async () => {
    let connected = ['a', 'b'];
    const host = createHostMetrics({
      hostId: 'h1',
      engine: 'simulator',
      sessionsWithStatus: (statuses) => (statuses.includes('connected') ? connected : []),
      processMetrics: false,
    });
    const context = { deadline: Date.now() + 1_000, signal: new AbortController().signal };
    const outcomes: Array<() => Promise<unknown>> = [
      async () => ({ ok: true }),
      async () => {
        throw new ServiceError('SESSION_NOT_CONNECTED', 'no');
      },
      async () => {
        throw new TimeoutError('late');
      },
      async () => {
        throw new Error('bug');
      },
    ];
    for (const run of outcomes) {
      await withCommandMetrics(() => run(), host.metrics)(envelope('send'), context).catch(() => undefined);
    }
    host.metrics.eventAppended('message');
    host.metrics.eventPosted('gone');
    host.metrics.webhookDelivery('dead');
    connected = ['a'];
    const text = await host.render();
    for (const outcome of ['ok', 'SESSION_NOT_CONNECTED', 'TIMEOUT', 'INTERNAL']) {
      expect(text).toContain(`wa_commands_total{type="send",outcome="${outcome}",host_id="h1"} 1`);
      expect(text).toContain(`wa_command_duration_seconds_count{host_id="h1",type="send",outcome="${outcome}"} 1`);
    }
    expect(text).toContain('wa_sessions{engine="simulator",status="connected",host_id="h1"} 1');
    expect(text).toContain('wa_sessions{engine="simulator",status="failed",host_id="h1"} 0');
    expect(text).toContain('wa_events_appended_total{event="message",host_id="h1"} 1');
    expect(text).toContain('wa_events_posted_total{outcome="gone",host_id="h1"} 1');
    expect(text).toContain('wa_events_posted_total{outcome="sent",host_id="h1"} 0');
    expect(text).toContain('wa_webhook_deliveries_total{outcome="dead",host_id="h1"} 1');
    expect(host.contentType).toMatch(/^text\/plain/);
  });

  it("sums the PSS of each session's browser process tree, found by its profile flag", async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'wa-metrics-'));
    directories.push(dataDir);
    // A stand-in "browser": a process with the profile flag that starts a helper without it (as Chromium's are).
    const script = "const {spawn}=require('node:child_process');const c=spawn(process.execPath,['-e','setInterval(()=>{},1000)'],{stdio:'ignore'});console.log(c.pid);setInterval(()=>{},1000);";
    const browser = spawn(process.execPath, ['-e', script, '--', `--user-data-dir=${path.join(dataDir, 'session-alice')}`], { stdio: ['ignore', 'pipe', 'ignore'] });
    started.push(browser);
    const [chunk] = (await once(browser.stdout!, 'data')) as [Buffer];
    const helperPid = Number(chunk.toString().trim());
    try {
      const memory = await browserMemoryBySession(dataDir);
      expect([...memory.keys()]).toEqual(['alice']);
      expect(memory.get('alice')).toBeGreaterThan(5 * 1024 * 1024); // two Node processes
      // Nothing under another data directory.
      expect((await browserMemoryBySession(path.join(dataDir, 'other'))).size).toBe(0);
      const host = createHostMetrics({ hostId: 'h1', engine: 'webjs', sessionsWithStatus: () => [], dataDir, processMetrics: false });
      expect(await host.render()).toMatch(/wa_browser_memory_bytes\{session_id="alice",host_id="h1"\} \d{7,}/);
    } finally {
      process.kill(helperPid, 'SIGKILL');
    }
  });
});
