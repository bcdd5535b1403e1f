/**
 * The session host's Prometheus metrics (`GET /metrics` on HEALTH_PORT, health-server.ts). The parts that count
 * things (event log, pusher, webhook dispatcher, command handler) get the small `HostMetrics` interface injected and
 * never import prom-client; the gauges (sessions by status, browser memory) are read when scraped.
 *
 * Series (every one also carries `host_id`):
 * - `wa_sessions{engine,status}`: sessions this host runs, by status (gauge; every status, 0 included)
 * - `wa_commands_total{type,outcome}`, `wa_command_duration_seconds{type,outcome}` (histogram): commands run, by
 *   command type and outcome (`ok`, or the error code answered: `SESSION_NOT_CONNECTED`, `TIMEOUT`, `INTERNAL`…)
 * - `wa_events_appended_total{event}`: events appended to the session logs, by event type
 * - `wa_events_posted_total{outcome}`: frames posted to WebSocket connections: `sent`, `gone` (410), `dropped`
 *   (kept failing past the retries)
 * - `wa_webhook_deliveries_total{outcome}`: `delivered`, `retrying` (an attempt failed, another comes), `dead`
 * - `wa_browser_memory_bytes{session_id}`: proportional set size (PSS) of each `webjs` session's Chromium process
 *   tree (Linux /proc), read at scrape time
 * - prom-client's default process metrics (`process_*`, `nodejs_*`)
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { sessionStatuses, type SessionStatus } from '../contract/api.js';
import { ServiceError } from '../contract/errors.js';
import { TimeoutError } from '../lib/async.js';
import type { CommandHandler } from './command-worker.js';

export type PostOutcome = 'sent' | 'dropped' | 'gone';
export type WebhookOutcome = 'delivered' | 'retrying' | 'dead';

/** What the counting parts of the host report; `noMetrics` when nobody scrapes. */
export interface HostMetrics {
  commandDone(type: string, outcome: string, seconds: number): void;
  eventAppended(event: string): void;
  eventPosted(outcome: PostOutcome): void;
  webhookDelivery(outcome: WebhookOutcome): void;
}

export const noMetrics: HostMetrics = {
  commandDone: () => undefined,
  eventAppended: () => undefined,
  eventPosted: () => undefined,
  webhookDelivery: () => undefined,
};

export interface HostMetricsOptions {
  hostId: string;
  engine: string;
  /** The ids of this host's sessions in each status (the session manager's `idsWithStatus`). */
  sessionsWithStatus(statuses: readonly SessionStatus[]): string[];
  /** Where the webjs profiles live (`DATA_DIR`); undefined: no browser memory is read (simulator). */
  dataDir?: string;
  /** Default process metrics (off in unit tests that build several registries). */
  processMetrics?: boolean;
}

export interface HostMetricsRegistry {
  metrics: HostMetrics;
  registry: Registry;
  contentType: string;
  render(): Promise<string>;
}

export function createHostMetrics(options: HostMetricsOptions): HostMetricsRegistry {
  const registry = new Registry();
  registry.setDefaultLabels({ host_id: options.hostId });
  if (options.processMetrics !== false) collectDefaultMetrics({ register: registry });

  new Gauge({
    name: 'wa_sessions',
    help: 'Sessions this host runs, by engine and status.',
    labelNames: ['engine', 'status'] as const,
    registers: [registry],
    collect() {
      for (const status of sessionStatuses) this.set({ engine: options.engine, status }, options.sessionsWithStatus([status]).length);
    },
  });
  const commands = new Counter({
    name: 'wa_commands_total',
    help: 'Commands run by this host, by command type and outcome (ok, or the error code answered).',
    labelNames: ['type', 'outcome'] as const,
    registers: [registry],
  });
  const commandSeconds = new Histogram({
    name: 'wa_command_duration_seconds',
    help: 'How long commands took on this host, by command type and outcome.',
    labelNames: ['type', 'outcome'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  const appended = new Counter({
    name: 'wa_events_appended_total',
    help: 'Events appended to the session event logs, by event type.',
    labelNames: ['event'] as const,
    registers: [registry],
  });
  const posted = new Counter({
    name: 'wa_events_posted_total',
    help: 'Frames posted to WebSocket connections, by outcome (sent, gone, dropped after retries).',
    labelNames: ['outcome'] as const,
    registers: [registry],
  });
  const webhooks = new Counter({
    name: 'wa_webhook_deliveries_total',
    help: 'Webhook deliveries, by outcome (delivered; retrying: an attempt failed; dead: given up).',
    labelNames: ['outcome'] as const,
    registers: [registry],
  });
  // Every outcome shows from the start (0), so that rates and alerts need no "absent" case.
  for (const outcome of ['sent', 'gone', 'dropped'] as const) posted.inc({ outcome }, 0);
  for (const outcome of ['delivered', 'retrying', 'dead'] as const) webhooks.inc({ outcome }, 0);

  const dataDir = options.dataDir;
  new Gauge({
    name: 'wa_browser_memory_bytes',
    help: "Proportional set size (PSS) of each webjs session's Chromium process tree.",
    labelNames: ['session_id'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      if (dataDir === undefined) return;
      for (const [sessionId, bytes] of await browserMemoryBySession(dataDir)) this.set({ session_id: sessionId }, bytes);
    },
  });

  const metrics: HostMetrics = {
    commandDone: (type, outcome, seconds) => {
      commands.inc({ type, outcome });
      commandSeconds.observe({ type, outcome }, seconds);
    },
    eventAppended: (event) => appended.inc({ event }),
    eventPosted: (outcome) => posted.inc({ outcome }),
    webhookDelivery: (outcome) => webhooks.inc({ outcome }),
  };
  return { metrics, registry, contentType: registry.contentType, render: () => registry.metrics() };
}

/** The worker's handler, timed and counted by command type and outcome. */
export function withCommandMetrics(handler: CommandHandler, metrics: HostMetrics): CommandHandler {
  return async (envelope, context) => {
    const started = performance.now();
    let outcome = 'ok';
    try {
      return await handler(envelope, context);
    } catch (error) {
      outcome = error instanceof TimeoutError ? 'TIMEOUT' : error instanceof ServiceError ? error.code : 'INTERNAL';
      throw error;
    } finally {
      metrics.commandDone(envelope.command.type, outcome, (performance.now() - started) / 1_000);
    }
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Browser memory, from Linux /proc: one pass over the processes per scrape (their stat and command line), then PSS
// (smaps_rollup) of the Chromium trees only.

interface ProcessInfo {
  pid: number;
  ppid: number;
  cmdline: string[];
}

async function readProcesses(): Promise<ProcessInfo[]> {
  let entries: string[];
  try {
    entries = await readdir('/proc');
  } catch {
    return [];
  }
  const processes = await Promise.all(
    entries
      .filter((entry) => /^\d+$/.test(entry))
      .map(async (entry): Promise<ProcessInfo | undefined> => {
        try {
          const [stat, cmdline] = await Promise.all([readFile(`/proc/${entry}/stat`, 'utf8'), readFile(`/proc/${entry}/cmdline`, 'utf8')]);
          // The command name may hold spaces and parentheses: the fields after the last ')' are fixed.
          const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
          if (rest[0] === 'Z' || rest[0] === 'X') return undefined;
          return { pid: Number(entry), ppid: Number(rest[1]), cmdline: cmdline.split('\0') };
        } catch {
          return undefined; // gone meanwhile, or not ours to read
        }
      }),
  );
  return processes.filter((item): item is ProcessInfo => item !== undefined);
}

async function pssBytes(pid: number): Promise<number> {
  try {
    const text = await readFile(`/proc/${pid}/smaps_rollup`, 'utf8');
    const match = /^Pss:\s+(\d+) kB/m.exec(text);
    return match?.[1] === undefined ? 0 : Number(match[1]) * 1024;
  } catch {
    return 0;
  }
}

/**
 * PSS of the process tree of every browser started on a profile under `dataDir` (`--user-data-dir=<dataDir>/
 * session-<id>`, whatsapp-web.js's LocalAuth), by session id. Chromium's helpers (zygotes, renderers, GPU) are its
 * descendants and do not repeat the flag: they are found by parent.
 */
export async function browserMemoryBySession(dataDir: string): Promise<Map<string, number>> {
  const prefix = `--user-data-dir=${path.resolve(dataDir)}${path.sep}session-`;
  const processes = await readProcesses();
  const children = new Map<number, number[]>();
  for (const item of processes) {
    const list = children.get(item.ppid) ?? [];
    list.push(item.pid);
    children.set(item.ppid, list);
  }
  const roots = new Map<number, string>();
  for (const item of processes) {
    const flag = item.cmdline.find((argument) => argument.startsWith(prefix));
    if (flag === undefined) continue;
    const sessionId = flag.slice(prefix.length);
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(sessionId)) continue;
    // A process with the flag whose parent has it too is part of that parent's tree.
    const parent = processes.find((candidate) => candidate.pid === item.ppid);
    if (parent?.cmdline.some((argument) => argument === flag) === true) continue;
    roots.set(item.pid, sessionId);
  }
  const bySession = new Map<string, number>();
  for (const [root, sessionId] of roots) {
    const tree: number[] = [];
    const pending = [root];
    for (let pid = pending.pop(); pid !== undefined; pid = pending.pop()) {
      tree.push(pid);
      pending.push(...(children.get(pid) ?? []));
    }
    const sizes = await Promise.all(tree.map(pssBytes));
    bySession.set(sessionId, (bySession.get(sessionId) ?? 0) + sizes.reduce((sum, size) => sum + size, 0));
  }
  return bySession;
}
