/** The narrow ports the REST API needs; the Lambda entry wires real ones, unit tests pass fakes. */
import type { CommandBus } from '../../lib/command-bus.js';
import type { Logger } from '../../lib/logger.js';
import type { SessionDirectory, SessionEntry } from '../../lib/session-directory.js';
import { ServiceError, SessionNotFoundError } from '../../contract/errors.js';
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
  directory: Pick<SessionDirectory, 'get' | 'list' | 'liveHosts'>;
  bus: Pick<CommandBus, 'request'>;
  idempotency: IdempotencyStore;
  sendRateLimiter: SendRateLimiter;
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
