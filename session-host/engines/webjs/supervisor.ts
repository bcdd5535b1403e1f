/**
 * Supervises the browser-driven client of one session: launches it on the session's Chromium profile, restarts it
 * after a crash or disconnect (capped exponential backoff with jitter, `failed` after `maxRestarts` in a row),
 * probes its page, and tears the browser down for sure (its whole process tree, and whatever else still runs on the
 * profile). It knows nothing of WhatsApp: the engine hands it a `BrowserDriver` for its client type, and reports
 * what the client tells through the `Launch` it gets.
 *
 * Every launch has a generation; events of a launch that is no longer the current one are ignored, so a late event
 * of a torn-down client never moves the session.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdir, rm } from 'node:fs/promises';
import type { LastError } from '../../../contract/api.js';
import { sleep, withTimeout } from '../../../lib/async.js';
import type { Logger } from '../../../lib/logger.js';
import type { EngineStatusUpdate } from '../engine.js';
import { isAlive, killProfileProcesses, killTree, prepareProfile, removeSingletons, resolveChromePath, waitForExit } from './chromium.js';
import { messageOf } from './errors.js';

/** `relogin`: a launch on an emptied profile (the login was lost); a failure of it says the data is gone. */
export type LaunchMode = 'start' | 'restart' | 'relogin';

/** How the supervisor drives a client of type C. */
export interface BrowserDriver<C> {
  /** Builds the client of a launch, not started yet. It tells the launch of its browser and of being answered. */
  create(launch: Launch<C>, chromePath: string): C;
  /** Opens the browser and the app; resolves once the app is loaded. */
  initialize(client: C): Promise<void>;
  /** Closes the client and its browser; bounded by the supervisor, which kills whatever is left. */
  destroy(client: C): Promise<void>;
  /** Rejects when the client's page no longer answers; bounded by the supervisor. */
  probe(client: C): Promise<void>;
  /** What a failed launch means for a user. */
  classifyLaunchError(error: unknown): NonNullable<LastError>;
  /** What a launch that was never answered (`Launch.answered`) within `initTimeoutMs` means for a user. */
  launchTimeoutError(timeoutMs: number): NonNullable<LastError>;
}

export interface RestartPolicy {
  /** Restarts in a row after a crash or disconnect before `failed`. */
  maxRestarts: number;
  /** First restart delay; doubles each time, capped, with jitter. */
  restartBaseDelayMs: number;
  restartMaxDelayMs: number;
  /** A connection that lasts this long resets the restart count. */
  stableAfterMs: number;
}

export interface SupervisorOptions<C> extends RestartPolicy {
  driver: BrowserDriver<C>;
  /** The Chromium profile of the session; the driver's client must run its browser on it. */
  profileDir: string;
  /** Created before a launch: the profile's parent. */
  dataDir: string;
  /** CHROME_PATH; else the first of the usual paths that exists. */
  chromePath?: string | undefined;
  /** How long a launch may take until it is answered. */
  initTimeoutMs: number;
  livenessIntervalMs: number;
  livenessTimeoutMs: number;
  /** Names in logs and lastError messages: the client library and the app its page runs. */
  names: { client: string; app: string };
  logger: Logger;
  /** Where the supervisor's own statuses go: `disconnected` on a crash, `failed` when it gives up. */
  report(update: EngineStatusUpdate): void;
  /** Jitter source, in [0, 1). */
  random?: () => number;
}

/** A restart's delay: `base · 2^attempt` capped at `max`, then jittered into its upper half (never all at once). */
export function restartDelayMs(attempt: number, policy: Pick<RestartPolicy, 'restartBaseDelayMs' | 'restartMaxDelayMs'>, random: () => number = Math.random): number {
  const cap = Math.min(policy.restartMaxDelayMs, policy.restartBaseDelayMs * 2 ** attempt);
  return Math.round(cap / 2 + (random() * cap) / 2);
}

/** How long a teardown waits to learn the browser's pid of a launch still starting, and how long stop() waits on our tasks. */
const BROWSER_KNOWN_WAIT_MS = 15_000;
const DESTROY_TIMEOUT_MS = 5_000;

/** One launch of a client and its browser; a session has at most one current launch. */
export class Launch<C> {
  client: C | null = null;
  pid: number | undefined = undefined;
  /** The client is usable (for WhatsApp Web: `ready`); set by the engine. */
  ready = false;
  /** Torn down (or being torn down): nothing of it may move the session any more. */
  dead = false;
  initialized = false;
  teardown: Promise<void> | null = null;
  deadline: NodeJS.Timeout | null = null;
  liveness: NodeJS.Timeout | null = null;
  probing = false;
  private browserSeen = false;
  private resolveBrowserKnown: () => void = () => undefined;
  /** Resolves once the browser's pid is known, or known never to come: teardown must know what to kill. */
  readonly browserKnown = new Promise<void>((resolve) => {
    this.resolveBrowserKnown = resolve;
  });

  constructor(
    readonly gen: number,
    readonly mode: LaunchMode,
    private readonly supervisor: BrowserSupervisor<C>,
  ) {}

  /** Whether this launch is still the session's current one (else its events are stale). */
  isCurrent(): boolean {
    return this.supervisor.isCurrent(this);
  }

  /**
   * The client's browser process exists. A stop during launch must be able to kill it, and a crash of it must be
   * noticed. Throws when the session was stopped meanwhile, so that the library's launch ends there.
   */
  browserStarted(child: ChildProcess | null | undefined, log: Logger): void {
    if (this.browserSeen) return; // libraries call their hook again after a logout navigation
    this.browserSeen = true;
    this.pid = child?.pid ?? undefined;
    // With `pipe: true` Puppeteer reads CDP from fd 3/4 but drops its error listeners when the connection closes;
    // a SIGKILLed Chromium then resets the pipe (ECONNRESET) with no listener: an uncaught exception. Keep one.
    for (const stream of child?.stdio ?? []) {
      stream?.on('error', (error: Error) => log.debug({ err: error }, 'Chromium pipe error'));
    }
    child?.once('exit', (code, signal) => {
      this.lost(`Chromium exited (code ${String(code)}, signal ${String(signal)})`);
    });
    this.browserKnownNow();
    if (this.dead) throw new Error('the session was stopped while its browser started');
  }

  browserKnownNow(): void {
    this.resolveBrowserKnown();
  }

  /** The app answered (a QR, a login): the launch deadline no longer applies. */
  answered(): void {
    if (this.deadline) clearTimeout(this.deadline);
    this.deadline = null;
  }

  /** The browser or its page went away after the launch: `disconnected` (BROWSER_CRASHED), then restarts. */
  lost(message: string): void {
    this.supervisor.browserLost(this, message);
  }
}

export class BrowserSupervisor<C> {
  private running = false;
  /** Which run (start … stop) this is: a task begun in one run must not act in the next (its profile is the next's). */
  private run = 0;
  private generation = 0;
  private currentLaunch: Launch<C> | null = null;
  private restartAttempts = 0;
  private restartTimer: NodeJS.Timeout | null = null;
  private stableTimer: NodeJS.Timeout | null = null;
  private readonly pending = new Set<Promise<unknown>>();
  private readonly log: Logger;

  constructor(private readonly options: SupervisorOptions<C>) {
    this.log = options.logger;
  }

  get isRunning(): boolean {
    return this.running;
  }

  /** The latest launch, current or not yet replaced (null after a stop or a retirement). */
  get launch(): Launch<C> | null {
    return this.currentLaunch;
  }

  isCurrent(launch: Launch<C>): boolean {
    return this.running && !launch.dead && this.currentLaunch === launch && launch.gen === this.generation;
  }

  /** Begins the first launch; false when already running. */
  start(): boolean {
    if (this.running) return false;
    this.running = true;
    this.run += 1;
    this.restartAttempts = 0;
    this.track(this.launchClient('start'));
    return true;
  }

  /** Stops reacting to the current client (its events are stale from now on) without tearing it down yet. */
  quiesce(): void {
    this.running = false;
    this.generation += 1;
  }

  /** Tears the client down and makes sure nothing runs on the profile any more. */
  async stop(): Promise<void> {
    this.quiesce();
    this.clearTimers();
    const launch = this.currentLaunch;
    this.currentLaunch = null;
    if (launch) await this.teardown(launch);
    // Our background tasks end quickly once the browser is gone; never wait on them forever.
    await Promise.race([Promise.allSettled([...this.pending]), sleep(BROWSER_KNOWN_WAIT_MS)]);
    let left = await killProfileProcesses(this.options.profileDir);
    // A zygote can fork a renderer while the browser dies; look once more after that window has passed.
    await sleep(150);
    left = [...left, ...(await killProfileProcesses(this.options.profileDir))];
    if (left.length > 0) this.log.error({ pids: left }, 'Chromium processes survived SIGKILL');
  }

  /** Removes the profile (and with it any login the app kept there). */
  async wipeProfile(): Promise<void> {
    await rm(this.options.profileDir, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
  }

  /** Keeps a background promise caught, and known to stop(). */
  track(promise: Promise<unknown>): void {
    const caught = promise.catch((error: unknown) => this.log.error({ err: error }, 'webjs engine task failed'));
    this.pending.add(caught);
    void caught.finally(() => this.pending.delete(caught));
  }

  /** The client is connected: if it stays so for `stableAfterMs`, the restart count starts over. */
  connected(): void {
    if (this.stableTimer) clearTimeout(this.stableTimer);
    this.stableTimer = setTimeout(() => {
      this.stableTimer = null;
      this.restartAttempts = 0;
    }, this.options.stableAfterMs);
    this.stableTimer.unref();
  }

  /** Makes a launch stale at once (its events are ignored from now on); its teardown is the caller's next step. */
  retire(launch: Launch<C>): void {
    this.generation += 1;
    if (this.currentLaunch === launch) this.currentLaunch = null;
    this.clearTimers();
  }

  /** After a retired launch's disconnect or crash: tear it down, then restart after the policy's delay. */
  recover(launch: Launch<C>, lastError: NonNullable<LastError>): void {
    this.retire(launch);
    this.track(this.teardown(launch).then(() => this.scheduleRestart(lastError)));
  }

  /**
   * After a retired launch lost its login: tear it down, empty the profile, then launch again (`relogin`).
   * `onWiped` runs once the profile is empty, only if the launch follows.
   */
  relaunchOnFreshProfile(launch: Launch<C>, onWiped: () => void): void {
    const run = this.run;
    this.track(
      (async () => {
        await this.teardown(launch);
        // Stopped meanwhile, or stopped and started again: the profile belongs to that new run now, logged in or not.
        const superseded = () => !this.running || this.run !== run;
        if (!superseded()) await this.wipeProfile();
        if (superseded()) {
          this.log.info('the session stopped before its relogin: the profile and the next run are left alone');
          return;
        }
        onWiped();
        this.restartAttempts = 0;
        await this.launchClient('relogin');
      })(),
    );
  }

  browserLost(launch: Launch<C>, message: string): void {
    // Before initialize() settles, the launch itself reports what went wrong.
    if (!this.isCurrent(launch) || !launch.initialized) return;
    const lastError = { code: 'BROWSER_CRASHED', message };
    this.options.report({ status: 'disconnected', lastError });
    this.recover(launch, lastError);
  }

  private clearTimers(): void {
    if (this.restartTimer) clearTimeout(this.restartTimer);
    if (this.stableTimer) clearTimeout(this.stableTimer);
    this.restartTimer = null;
    this.stableTimer = null;
  }

  private async launchClient(mode: LaunchMode): Promise<void> {
    if (!this.running) return;
    const { driver, names } = this.options;
    this.generation += 1;
    const launch = new Launch<C>(this.generation, mode, this);
    this.currentLaunch = launch;
    this.log.info({ mode }, `starting ${names.client}`);
    let chromePath: string;
    try {
      chromePath = resolveChromePath(this.options.chromePath);
      await mkdir(this.options.dataDir, { recursive: true });
      const prepared = await prepareProfile(this.options.profileDir);
      if (prepared.killed.length > 0 || prepared.removed.length > 0) {
        this.log.warn(prepared, 'cleaned the profile before launch (a previous Chromium did not exit cleanly)');
      }
    } catch (error) {
      launch.browserKnownNow();
      if (this.isCurrent(launch)) await this.failLaunch(launch, driver.classifyLaunchError(error));
      return;
    }
    if (!this.isCurrent(launch)) {
      launch.browserKnownNow();
      return;
    }
    launch.deadline = setTimeout(() => {
      // answered() clears this timer: firing means neither a QR nor a login came in time.
      if (this.isCurrent(launch)) {
        this.track(this.failLaunch(launch, driver.launchTimeoutError(this.options.initTimeoutMs)));
      }
    }, this.options.initTimeoutMs);
    try {
      const client = driver.create(launch, chromePath);
      launch.client = client;
      await driver.initialize(client);
    } catch (error) {
      launch.browserKnownNow();
      if (this.isCurrent(launch)) await this.failLaunch(launch, driver.classifyLaunchError(error));
      return;
    }
    launch.browserKnownNow();
    if (!this.isCurrent(launch)) return;
    launch.initialized = true;
    this.startLiveness(launch);
  }

  /** A launch that was not answered. */
  private async failLaunch(launch: Launch<C>, lastError: NonNullable<LastError>): Promise<void> {
    if (launch.dead) return;
    this.generation += 1;
    if (this.currentLaunch === launch) this.currentLaunch = null;
    this.log.warn({ lastError, mode: launch.mode }, `${this.options.names.client} did not start`);
    await this.teardown(launch);
    if (!this.running) return;
    if (launch.mode === 'restart' && lastError.code !== 'CHROME_NOT_FOUND') {
      this.scheduleRestart(lastError);
      return;
    }
    this.running = false;
    // After a lost login the data is already gone: say so, a later start begins afresh.
    this.options.report({ status: 'failed', lastError, loggedOut: launch.mode === 'relogin' });
  }

  private scheduleRestart(lastError: NonNullable<LastError>): void {
    if (!this.running) return;
    const { maxRestarts } = this.options;
    if (this.restartAttempts >= maxRestarts) {
      this.running = false;
      this.options.report({
        status: 'failed',
        lastError: { code: lastError.code, message: `${lastError.message} Gave up after ${maxRestarts} restarts.` },
        loggedOut: false,
      });
      return;
    }
    const attempt = this.restartAttempts;
    this.restartAttempts += 1;
    const delayMs = restartDelayMs(attempt, this.options, this.options.random);
    this.log.info({ attempt: attempt + 1, delayMs }, `restarting ${this.options.names.client}`);
    this.restartTimer = setTimeout(() => {
      this.restartTimer = null;
      this.track(this.launchClient('restart'));
    }, delayMs);
  }

  private startLiveness(launch: Launch<C>): void {
    launch.liveness = setInterval(() => {
      if (launch.probing || !this.isCurrent(launch)) return;
      launch.probing = true;
      this.track(
        this.probe(launch).finally(() => {
          launch.probing = false;
        }),
      );
    }, this.options.livenessIntervalMs);
    launch.liveness.unref();
  }

  private async probe(launch: Launch<C>): Promise<void> {
    try {
      const client = launch.client;
      if (client === null) throw new Error('the browser is not connected');
      await withTimeout(this.options.driver.probe(client), { timeoutMs: this.options.livenessTimeoutMs, what: 'the liveness probe' });
    } catch (error) {
      if (this.isCurrent(launch)) launch.lost(`${this.options.names.app}'s page stopped answering: ${messageOf(error)}`);
    }
  }

  /** Destroys a client's browser for sure: destroy() (bounded), then SIGKILL of its process group and profile. */
  private teardown(launch: Launch<C>): Promise<void> {
    if (launch.teardown) return launch.teardown;
    launch.dead = true;
    if (launch.deadline) clearTimeout(launch.deadline);
    if (launch.liveness) clearInterval(launch.liveness);
    launch.deadline = null;
    launch.liveness = null;
    const { driver, profileDir } = this.options;
    const work = (async () => {
      await Promise.race([launch.browserKnown, sleep(BROWSER_KNOWN_WAIT_MS)]);
      const client = launch.client;
      if (client !== null) {
        try {
          await withTimeout(driver.destroy(client), { timeoutMs: DESTROY_TIMEOUT_MS, what: 'closing Chromium' });
        } catch (error) {
          this.log.warn({ err: error }, 'Chromium did not close; killing it');
        }
      }
      const pid = launch.pid;
      if (pid !== undefined) {
        // The whole process group, even when the browser itself already exited: its zygote and renderers may not have.
        killTree(pid);
        if (isAlive(pid)) await waitForExit(pid, 3_000);
      }
      const left = await killProfileProcesses(profileDir);
      if (left.length > 0) this.log.error({ pids: left }, 'Chromium processes survived SIGKILL');
      else await removeSingletons(profileDir);
    })();
    launch.teardown = work.catch((error: unknown) => {
      this.log.error({ err: error }, 'tearing down Chromium failed');
    });
    return launch.teardown;
  }
}
