/**
 * Chromium for the webjs engine: where it is, how it is started, and how it is made to go away for sure.
 *
 * Every session runs its own headless Chromium on its own profile (LocalAuth's data/sessions/session-<id>). Chromium
 * leaves a `SingletonLock` (and -Socket, -Cookie) in the profile while it runs; after a crash the stale lock makes the
 * next launch fail, so it is removed before each launch, once no live process uses the profile any more.
 */
import { existsSync } from 'node:fs';
import { lstat, readdir, readFile, readlink, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sleep } from '../../../lib/async.js';
import { createLogger } from '../../../lib/logger.js';

export const chromeCandidates = [
  '/usr/bin/chromium',
  '/usr/lib/chromium/chromium',
  '/usr/bin/chromium-browser',
  '/usr/bin/google-chrome',
] as const;

export class ChromeNotFoundError extends Error {
  override readonly name = 'ChromeNotFoundError';
}

/** The configured Chromium (CHROME_PATH), or the first of the usual paths that exists. */
export function resolveChromePath(configured: string | undefined): string {
  if (configured !== undefined && configured !== '') {
    if (!existsSync(configured)) {
      throw new ChromeNotFoundError(`CHROME_PATH is ${configured}, but there is no file there.`);
    }
    return configured;
  }
  const found = chromeCandidates.find((candidate) => existsSync(candidate));
  if (found === undefined) {
    throw new ChromeNotFoundError(
      `No Chromium found (looked at ${chromeCandidates.join(', ')}); install chromium or set CHROME_PATH.`,
    );
  }
  return found;
}

/** Whether Chromium runs with its sandbox, and why (said once in the log, at the first launch). */
export interface SandboxDecision {
  sandbox: boolean;
  reason: string;
}

/**
 * The sandbox is on unless it cannot work: as root (Chromium refuses it), or when CHROME_NO_SANDBOX=true says the
 * platform gives it nothing to stand on (no user namespaces, no seccomp profile that allows them: ECS on Fargate,
 * where the image sets it; docs/api.md, "Security").
 */
export function sandboxDecision(env: Record<string, string | undefined> = process.env, uid: number = process.getuid?.() ?? -1): SandboxDecision {
  if (env.CHROME_NO_SANDBOX === 'true') {
    return { sandbox: false, reason: 'CHROME_NO_SANDBOX=true: this platform gives Chromium no user namespaces for its sandbox' };
  }
  if (uid === 0) return { sandbox: false, reason: 'running as root: Chromium cannot use its sandbox as root (run as a user)' };
  return { sandbox: true, reason: 'running as a user with CHROME_NO_SANDBOX unset: Chromium uses its sandbox' };
}

let sandboxSaid = false;

function sayOnce(decision: SandboxDecision): void {
  if (sandboxSaid) return;
  sandboxSaid = true;
  const log = createLogger('session-host');
  if (decision.sandbox) log.info({ chromiumSandbox: true }, decision.reason);
  else log.warn({ chromiumSandbox: false }, `Chromium runs WITHOUT its sandbox: ${decision.reason}`);
}

/**
 * Flags for a headless Chromium in a container, on a closed network, using little memory. Each was checked to
 * start and run whatsapp-web.js on Debian's Chromium here. With the sandbox on, the zygote (which sets the sandbox
 * up) stays and so do separate renderer processes: `--no-zygote` and `--single-process` need `--no-sandbox`.
 */
export function chromiumArgs(options: { maxOldSpaceMb: number; sandbox?: SandboxDecision }): string[] {
  const decision = options.sandbox ?? sandboxDecision();
  if (options.sandbox === undefined) sayOnce(decision);
  const args = [
    // /dev/shm is often 64 MB in containers.
    ...(decision.sandbox ? [] : ['--no-sandbox']),
    '--disable-dev-shm-usage',
    '--disable-gpu',
    '--no-first-run',
    '--no-default-browser-check',
    // Nothing but WhatsApp Web may talk to the network (else it keeps trying Google's hosts).
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--disable-quic',
    '--disable-domain-reliability',
    '--disable-client-side-phishing-detection',
    '--metrics-recording-only',
    '--no-pings',
    '--disable-breakpad',
    '--disable-crash-reporter',
    // Memory: browser, renderer and GPU work in one process (there is one browser per session anyway, so a crash
    // takes down no more than it would otherwise: the session restarts it); no extensions, no spare renderer, a
    // bounded JS heap, small caches. Measured here: about 78% of the default PSS for one session, 66% for three.
    ...(decision.sandbox ? [] : ['--single-process', '--no-zygote']),
    '--disable-extensions',
    '--renderer-process-limit=1',
    '--disable-site-isolation-trials',
    '--disable-features=WebUIOmniboxPopup,PreloadTopChromeWebUI,Translate,MediaRouter,OptimizationHints,AutofillServerCommunication,SpareRendererForSitePerProcess,BackForwardCache,IsolateOrigins,site-per-process,InterestFeedContentSuggestions,CalculateNativeWinOcclusion',
    `--js-flags=--max-old-space-size=${options.maxOldSpaceMb}`,
    '--disk-cache-size=33554432',
    '--mute-audio',
    '--hide-scrollbars',
    // A background page must keep its timers (WhatsApp Web's keep-alives, our liveness probe).
    '--disable-background-timer-throttling',
    '--disable-backgrounding-occluded-windows',
    '--disable-renderer-backgrounding',
  ];
  return args;
}

const singletonFiles = ['SingletonLock', 'SingletonSocket', 'SingletonCookie'];

/** Pids of processes whose command line names `--user-data-dir=<profileDir>` (Linux /proc; empty elsewhere). */
export async function profileProcesses(profileDir: string): Promise<number[]> {
  const wanted = `--user-data-dir=${path.resolve(profileDir)}`;
  let entries: string[];
  try {
    entries = await readdir('/proc');
  } catch {
    return [];
  }
  const pids: number[] = [];
  await Promise.all(
    entries
      .filter((entry) => /^\d+$/.test(entry))
      .map(async (entry) => {
        try {
          const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8');
          if (cmdline.split('\0').includes(wanted) && !(await isZombie(Number(entry)))) pids.push(Number(entry));
        } catch {
          // gone meanwhile, or not ours to read
        }
      }),
  );
  return pids;
}

async function isZombie(pid: number): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state === 'Z' || state === 'X';
  } catch {
    return true;
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** SIGKILLs a process and its process group (Puppeteer starts Chromium detached, as a group leader). */
export function killTree(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // not a group leader, or gone
  }
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // gone
  }
}

/** Kills whatever still runs on the profile and waits (bounded) until it is gone. Returns the pids left, if any. */
export async function killProfileProcesses(profileDir: string, waitMs = 5_000): Promise<number[]> {
  const deadline = Date.now() + waitMs;
  let pids = await profileProcesses(profileDir);
  while (pids.length > 0 && Date.now() < deadline) {
    for (const pid of pids) killTree(pid);
    await sleep(100);
    pids = await profileProcesses(profileDir);
  }
  return pids;
}

/** Waits (bounded) until `pid` is gone or a zombie. */
export async function waitForExit(pid: number, waitMs: number): Promise<boolean> {
  const deadline = Date.now() + waitMs;
  while (Date.now() < deadline) {
    if (!isAlive(pid) || (await isZombie(pid))) return true;
    await sleep(50);
  }
  return !isAlive(pid) || (await isZombie(pid));
}

/**
 * Removes the profile's Singleton* files, once no process uses the profile. SingletonSocket and SingletonCookie
 * are symlinks into a `/tmp/org.chromium.Chromium.XXXXXX` directory that a killed Chromium leaves behind: removed too.
 */
export async function removeSingletons(profileDir: string): Promise<string[]> {
  const removed: string[] = [];
  for (const name of singletonFiles) {
    const file = path.join(profileDir, name);
    try {
      // lstat, not exists: SingletonLock is a symlink to "<host>-<pid>", which never exists as a file.
      await lstat(file);
    } catch {
      continue;
    }
    if (name === 'SingletonSocket') {
      try {
        const target = path.resolve(profileDir, await readlink(file));
        const socketDir = path.dirname(target);
        if (path.dirname(socketDir) === path.resolve(tmpdir()) && /^org\.chromium\.Chromium\./.test(path.basename(socketDir))) {
          await rm(socketDir, { recursive: true, force: true });
        }
      } catch {
        // not a symlink, or gone
      }
    }
    await rm(file, { force: true });
    removed.push(name);
  }
  return removed;
}

/**
 * Before a launch: no process may still hold the profile (an orphan of a crashed host process is killed), and the
 * stale Singleton* files a crash leaves behind are removed.
 */
export async function prepareProfile(profileDir: string): Promise<{ killed: number[]; removed: string[] }> {
  const killed = await profileProcesses(profileDir);
  if (killed.length > 0) await killProfileProcesses(profileDir);
  const removed = await removeSingletons(profileDir);
  return { killed, removed };
}
