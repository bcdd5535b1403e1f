/** The narrow ports the REST API needs; the Lambda entry wires real ones, unit tests pass fakes. */
import type { CommandBus } from '../../lib/command-bus.js';
import type { Logger } from '../../lib/logger.js';
import type { SessionDirectory, SessionEntry } from '../../lib/session-directory.js';
import type { WebhookStore } from '../../lib/webhook-store.js';
import { ServiceError, SessionNotFoundError } from '../../contract/errors.js';
import { publicSession } from '../../contract/commands.js';
import type { Session } from '../../contract/api.js';
import type { FunctionsConfig } from '../config.js';
import type { IdempotencyStore } from './idempotency.js';
import type { SendRateLimiter } from './rate-limit.js';

export interface ApiDependencies {
  config: Pick<FunctionsConfig, 'engine' | 'apiKeyDigests' | 'commandTimeoutMs'>;
  logger: Logger;
  /** Resolves when Redis is usable, or throws SERVICE_UNAVAILABLE quickly. */
  ready(): Promise<void>;
  /** Whether Redis answers a PING within a short time. */
  ping(): Promise<boolean>;
  /** `liveEngines` and `removeUnowned`: sessions of an engine no host runs (optional so that fakes may leave them out). */
  directory: Pick<SessionDirectory, 'get' | 'page' | 'placeSession'> & Partial<Pick<SessionDirectory, 'liveEngines' | 'removeUnowned'>>;
  bus: Pick<CommandBus, 'request'>;
  idempotency: IdempotencyStore;
  sendRateLimiter: SendRateLimiter;
  webhooks: Pick<WebhookStore, 'create' | 'list' | 'get' | 'delete' | 'deliveries' | 'replay'>;
}

/** The session and the live host that owns it, or the contract's error. */
export async function findSession(deps: ApiDependencies, sessionId: string): Promise<SessionEntry> {
  const entry = await deps.directory.get(sessionId);
  if (entry === null) throw new SessionNotFoundError(sessionId);
  return entry;
}

export function liveOwner(entry: SessionEntry): string {
  if (entry.ownerHostId === null) {
    throw new ServiceError('SESSION_HOST_UNAVAILABLE', `No session host answers for session '${entry.record.id}' right now.`, {
      details: { sessionId: entry.record.id },
    });
  }
  return entry.ownerHostId;
}

/**
 * The session as a client should see it now. A session no live host holds (its host stopped or died, and no other
 * has adopted it yet) runs nowhere: whatever status its record last had, it reads `disconnected` with lastError
 * `SESSION_HOST_UNAVAILABLE` until a host has it again (then `starting` and on, as after any restart). When no live
 * host runs its engine at all (`liveEngines` given and without it: a `webjs` session while only simulator hosts
 * run, say), the message says so, and that the session can be deleted.
 */
export function presentSession(entry: SessionEntry, liveEngines?: ReadonlySet<string>): Session {
  const session = publicSession(entry.record);
  if (entry.ownerHostId !== null) return session;
  const engineAbsent = liveEngines !== undefined && !liveEngines.has(entry.record.engine);
  return {
    ...session,
    status: 'disconnected',
    lastError: {
      code: 'SESSION_HOST_UNAVAILABLE',
      message: engineAbsent
        ? `No session host of the ${entry.record.engine} engine runs, so this session cannot run (it was ${entry.record.status}). Start a host with WA_ENGINE=${entry.record.engine}, or delete the session (DELETE removes its record and events; its login data stays in the host's DATA_DIR).`
        : `No session host runs this session right now (it was ${entry.record.status}); another host takes it over shortly.`,
    },
  };
}

/** The engines live hosts run, read only when some entry has no live owner (else undefined: nothing to say). */
export async function liveEnginesFor(deps: ApiDependencies, entries: readonly SessionEntry[]): Promise<ReadonlySet<string> | undefined> {
  if (deps.directory.liveEngines === undefined || entries.every((entry) => entry.ownerHostId !== null)) return undefined;
  return deps.directory.liveEngines();
}
