/** The narrow ports the REST API needs; the Lambda entry wires real ones, unit tests pass fakes. */
import { CommandNotRouted, type CommandBus } from '../../lib/command-bus.js';
import type { Logger } from '../../lib/logger.js';
import { parseRecord, type SessionDirectory, type SessionEntry } from '../../lib/session-directory.js';
import type { WebhookStore } from '../../lib/webhook-store.js';
import type { ConnectionRegistry } from '../../lib/ws-connections.js';
import { ServiceError, SessionNotConnectedError, SessionNotFoundError } from '../../contract/errors.js';
import { publicSession, type CommandOf, type CommandResult, type CommandType } from '../../contract/commands.js';
import type { Session } from '../../contract/api.js';
import type { FunctionsConfig } from '../config.js';
import { currentPrincipal, tenantOf, type ApiKeyStore, type SessionTenants } from '../../lib/api-keys.js';
import type { BlobStore } from '../../lib/blob-store.js';
import type { MediaFetchOptions } from '../../lib/media-fetch.js';
import type { IdempotencyStore } from './idempotency.js';
import type { RequestLimiter, SendRateLimiter } from './rate-limit.js';

export interface ApiDependencies {
  /** `limits`: the caps of docs/api.md "Limits" (fakes may leave them out: no cap then). */
  config: Pick<FunctionsConfig, 'engine' | 'apiKeyDigests' | 'commandTimeoutMs'> & Partial<Pick<FunctionsConfig, 'limits'>>;
  logger: Logger;
  /** Resolves when Redis is usable, or throws SERVICE_UNAVAILABLE quickly. */
  ready(): Promise<void>;
  /** Whether Redis answers a PING within a short time. */
  ping(): Promise<boolean>;
  /** `liveEngines` and `removeUnowned`: sessions of an engine no host runs (optional so that fakes may leave them out). */
  directory: Pick<SessionDirectory, 'get' | 'page' | 'placeSession'> & Partial<Pick<SessionDirectory, 'liveEngines' | 'removeUnowned'>>;
  /** `requestSession`: the one-round-trip path (`commandSession`); fakes may leave it out. */
  bus: Pick<CommandBus, 'request'> & Partial<Pick<CommandBus, 'requestSession'>>;
  idempotency: IdempotencyStore;
  sendRateLimiter: SendRateLimiter;
  webhooks: Pick<WebhookStore, 'create' | 'list' | 'get' | 'delete' | 'deliveries' | 'replay'>;
  /** Keys made through `/api/keys` (optional so that fakes may leave it out: then only the configured keys work). */
  apiKeys?: Pick<ApiKeyStore, 'create' | 'list' | 'revoke' | 'resolve'>;
  /** Who owns which session (required as soon as `apiKeys` can make tenant keys). */
  tenants?: Pick<SessionTenants, 'ownerOf' | 'visibleTo' | 'reserve' | 'claim' | 'settle' | 'forget' | 'page'>;
  /** Per-key request rates and wrong keys per address (optional: no such limit then). */
  requestLimiter?: RequestLimiter;
  /** The WebSocket registry: a revoked key's connections are dropped (optional: fakes may leave it out). */
  connections?: Pick<ConnectionRegistry, 'removeAllOf'>;
  /** Media to send and to download (optional so that fakes may leave it out: media routes then answer 500). */
  media?: MediaDependencies;
}

/** Where media bytes go (never through Redis) and how a `media.url` is fetched. */
export interface MediaDependencies {
  blobs: Pick<BlobStore, 'put' | 'get' | 'signedUrl'>;
  fetch: MediaFetchOptions;
}

/**
 * 404 `SESSION_NOT_FOUND` when the request runs as a tenant key that does not own the session: another tenant's
 * session does not exist for it (lib/api-keys.ts). Administrators and internal calls see every session.
 */
export async function assertVisible(deps: ApiDependencies, sessionId: string): Promise<void> {
  const principal = currentPrincipal();
  if (tenantOf(principal) === null) return;
  if (deps.tenants === undefined || !(await deps.tenants.visibleTo(principal, sessionId))) throw new SessionNotFoundError(sessionId);
}

/** The session and the live host that owns it, or the contract's error. */
export async function findSession(deps: ApiDependencies, sessionId: string): Promise<SessionEntry> {
  await assertVisible(deps, sessionId);
  const entry = await deps.directory.get(sessionId);
  if (entry === null) throw new SessionNotFoundError(sessionId);
  return entry;
}

/**
 * A command to a session's live owner in one Redis round trip (lookup, liveness, status and push: route-command-2),
 * with the same errors as `findSession` + `liveOwner` (+ `SESSION_NOT_CONNECTED` with `details.status` when
 * `connected` is asked), in the same order.
 */
export async function commandSession<T extends CommandType>(
  deps: ApiDependencies,
  sessionId: string,
  command: CommandOf<T>,
  options: { traceId?: string; connected?: boolean } = {},
): Promise<CommandResult<T>> {
  await assertVisible(deps, sessionId);
  if (deps.bus.requestSession === undefined) {
    const entry = await findSession(deps, sessionId);
    const hostId = liveOwner(entry);
    if (options.connected === true && entry.record.status !== 'connected') throw new SessionNotConnectedError(sessionId, entry.record.status);
    return deps.bus.request({ hostId, sessionId }, command, deps.config.commandTimeoutMs, options.traceId);
  }
  try {
    return await deps.bus.requestSession(sessionId, command, deps.config.commandTimeoutMs, {
      ...(options.traceId === undefined ? {} : { traceId: options.traceId }),
      ...(options.connected === true ? { status: 'connected' } : {}),
    });
  } catch (error) {
    if (!(error instanceof CommandNotRouted)) throw error;
    if (error.reason === 'not-found' || error.record === null) throw new SessionNotFoundError(sessionId);
    const record = parseRecord(error.record);
    if (error.reason === 'no-live-owner') liveOwner({ record, ownerHostId: null });
    throw new SessionNotConnectedError(sessionId, record.status);
  }
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
