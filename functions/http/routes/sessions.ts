/** /api/sessions: list, create, read, QR, pairing code, delete, restart. Reads come from Redis; changes go to the session host. */
import { randomUUID } from 'node:crypto';
import { OpenAPIHono } from '@hono/zod-openapi';
import QRCode from 'qrcode';
import { defaultSessionsLimit } from '../../../contract/api.js';
import { currentPrincipal, tenantOf } from '../../../lib/api-keys.js';
import type { SessionEntry, SessionPosition } from '../../../lib/session-directory.js';
import { ServiceError, SessionNotFoundError, ValidationError } from '../../../contract/errors.js';
import type { ApiEnv } from '../api-env.js';
import { apiRoutes } from '../api-routes.js';
import { findSession, liveEnginesFor, liveOwner, presentSession, type ApiDependencies } from '../dependencies.js';
import { answerOf, type StoredResponse } from '../idempotency.js';
import { validationHook } from '../validation.js';
import { respondStored } from './shared.js';

export function sessionRoutes(deps: ApiDependencies) {
  return new OpenAPIHono<ApiEnv>({ defaultHook: validationHook })
    .openapi(apiRoutes.listSessions, async (c) => {
      const query = c.req.valid('query');
      const after = query.cursor === undefined ? null : decodeCursor(query.cursor);
      // Part 1's answer stays whole for clients that do not page: every session when neither limit nor cursor is given.
      const paging = query.limit !== undefined || query.cursor !== undefined;
      const limit = paging ? (query.limit ?? defaultSessionsLimit) : Number.MAX_SAFE_INTEGER;
      const tenant = tenantOf(currentPrincipal());
      // A tenant lists its own sessions only (from its key's list); an administrator every session.
      const page = tenant === null ? await deps.directory.page(limit, after) : await tenantPage(deps, tenant, limit, after);
      const engines = await liveEnginesFor(deps, page.entries);
      return c.json(
        { sessions: page.entries.map((entry) => presentSession(entry, engines)), nextCursor: page.next === null ? null : encodeCursor(page.next) },
        200,
      );
    })
    .openapi(apiRoutes.createSession, async (c) => {
      const body = c.req.valid('json');
      const idempotencyKey = c.req.valid('header')['idempotency-key'] ?? null;
      const create = async (): Promise<StoredResponse> => {
        const sessionId = body.sessionId ?? randomUUID();
        const exists = () => new ServiceError('SESSION_EXISTS', `A session named '${sessionId}' exists already.`, { details: { sessionId } });
        if ((await deps.directory.get(sessionId)) !== null) throw exists();
        const tenant = tenantOf(currentPrincipal());
        const tenants = deps.tenants;
        if (tenant !== null && tenants === undefined) throw new ServiceError('INTERNAL', 'Tenant keys need the session-owner store.');
        // A tenant's session counts against its key's cap (docs/api.md "Limits"), and is marked as its own before the
        // host creates it, so that it is never visible to anyone else, not even for a moment.
        if (tenant !== null && tenants !== undefined) {
          const max = deps.config.limits?.sessionsPerKey ?? 0;
          const sessionExists = async (id: string) => (await deps.directory.get(id)) !== null;
          if (!(await tenants.reserve(tenant, sessionId, max, sessionExists))) {
            throw new ServiceError('LIMIT_REACHED', `This key may hold at most ${max} sessions; delete one first.`, {
              details: { limit: max, cap: 'sessionsPerKey' },
            });
          }
        }
        let created = false;
        try {
          if (tenants !== undefined && (await tenants.claim(sessionId, tenant, deps.config.commandTimeoutMs * 2 + 5_000)) === 'taken') throw exists();
          const hostId = await deps.directory.placeSession(deps.config.engine);
          if (hostId === null) throw new ServiceError('SESSION_HOST_UNAVAILABLE', `No session host of the ${deps.config.engine} engine is running.`);
          const result = await deps.bus.request({ hostId, sessionId }, { type: 'create' }, deps.config.commandTimeoutMs, c.get('requestId'));
          created = true;
          return { status: 201, body: result, headers: { location: `/api/sessions/${encodeURIComponent(sessionId)}` } };
        } catch (error) {
          // A timeout may hide a create that happened: the session is the tenant's if it exists now.
          if (!(error instanceof ServiceError && error.code === 'SESSION_EXISTS')) created = (await deps.directory.get(sessionId).catch(() => null)) !== null;
          throw error;
        } finally {
          if (tenants !== undefined) await tenants.settle(sessionId, tenant, created);
        }
      };
      if (idempotencyKey === null) return respondStored(c, await create());
      return respondStored(
        c,
        await deps.idempotency.run('create-session', idempotencyKey, body, () => answerOf(create), deps.config.commandTimeoutMs),
      );
    })
    .openapi(apiRoutes.getSession, async (c) => {
      const { sessionId } = c.req.valid('param');
      const entry = await findSession(deps, sessionId);
      return c.json({ session: presentSession(entry, await liveEnginesFor(deps, [entry])) }, 200);
    })
    .openapi(apiRoutes.getQr, async (c) => {
      const { sessionId } = c.req.valid('param');
      const { record } = await findSession(deps, sessionId);
      if (record.status !== 'qr' || record.qr === null) {
        throw new ServiceError('QR_NOT_AVAILABLE', `The session has no QR to show: it is ${record.status}.`, {
          details: { status: record.status },
        });
      }
      if (/\bimage\/png\b/i.test(c.req.header('accept') ?? '')) {
        const png = await QRCode.toBuffer(record.qr, { type: 'png', margin: 2, width: 320 });
        return c.body(new Uint8Array(png), 200, { 'content-type': 'image/png', 'cache-control': 'no-store' });
      }
      const dataUrl = await QRCode.toDataURL(record.qr, { margin: 2, width: 320 });
      c.header('cache-control', 'no-store');
      return c.json({ qr: record.qr, dataUrl }, 200);
    })
    .openapi(apiRoutes.requestPairingCode, async (c) => {
      const { sessionId } = c.req.valid('param');
      const body = c.req.valid('json');
      const entry = await findSession(deps, sessionId);
      const hostId = liveOwner(entry);
      if (entry.record.status !== 'qr') {
        throw new ServiceError('QR_NOT_AVAILABLE', `A pairing code can be asked only while the session shows a QR; it is ${entry.record.status}.`, {
          details: { status: entry.record.status },
        });
      }
      const result = await deps.bus.request({ hostId, sessionId }, { type: 'pairing-code', phone: body.phone }, deps.config.commandTimeoutMs, c.get('requestId'));
      c.header('cache-control', 'no-store');
      return c.json(result, 200);
    })
    .openapi(apiRoutes.deleteSession, async (c) => {
      const { sessionId } = c.req.valid('param');
      let entry = await findSession(deps, sessionId);
      // Its owner as it is now: the mark is removed after the delete only if it is still this one.
      const owner = (await deps.tenants?.ownerOf(sessionId)) ?? null;
      // A session of an engine no live host runs cannot be logged out: remove its record and event log here instead
      // of answering 503 for ever. Its login data stays in the DATA_DIR of the hosts that ran it (docs/api.md).
      // Only for another engine than this deployment's: a session of its own engine whose hosts are all down for a
      // moment (a restart) waits for them (503), so that it is logged out and its data removed as the contract says.
      const engines = entry.record.engine === deps.config.engine ? undefined : await liveEnginesFor(deps, [entry]);
      if (engines !== undefined && !engines.has(entry.record.engine) && deps.directory.removeUnowned !== undefined) {
        const removed = await deps.directory.removeUnowned(sessionId);
        if (removed.outcome === 'missing') throw new SessionNotFoundError(sessionId);
        if (removed.outcome === 'removed') {
          c.get('logger').info({ sessionId, engine: entry.record.engine }, 'removed a session of an engine no host runs');
          await deps.tenants?.forget(sessionId, owner);
          return c.json({ session: presentSession({ record: removed.record, ownerHostId: null }, engines) }, 200);
        }
        entry = { ...entry, ownerHostId: removed.hostId }; // a host of its engine took it meanwhile: ask it
      }
      const result = await deps.bus.request(
        { hostId: liveOwner(entry), sessionId },
        { type: 'delete' },
        deps.config.commandTimeoutMs,
        c.get('requestId'),
      );
      // Its owner goes with it (the host removed the session's other keys), unless a new create of the id has begun.
      await deps.tenants?.forget(sessionId, owner);
      return c.json(result, 200);
    })
    .openapi(apiRoutes.restartSession, async (c) => {
      const { sessionId } = c.req.valid('param');
      const entry = await findSession(deps, sessionId);
      const result = await deps.bus.request(
        { hostId: liveOwner(entry), sessionId },
        { type: 'restart' },
        deps.config.commandTimeoutMs,
        c.get('requestId'),
      );
      return c.json(result, 202);
    });
}

/** A page of one tenant's sessions, from its key's list, in the same shape as `directory.page`. */
async function tenantPage(
  deps: ApiDependencies,
  tenant: string,
  limit: number,
  after: SessionPosition | null,
): Promise<{ entries: SessionEntry[]; next: SessionPosition | null }> {
  if (deps.tenants === undefined) return { entries: [], next: null };
  const { positions } = await deps.tenants.page(tenant, limit, after);
  const taken = positions.slice(0, limit);
  const found = await Promise.all(taken.map((position) => deps.directory.get(position.id)));
  const entries = found.filter((entry): entry is SessionEntry => entry !== null);
  const last = taken.at(-1);
  return { entries, next: positions.length > limit && last !== undefined ? last : null };
}

/** An opaque page cursor: where the previous page ended (creation time and id of its last session). */
function encodeCursor(position: SessionPosition): string {
  return Buffer.from(`${position.createdAtMs}:${position.id}`).toString('base64url');
}

function decodeCursor(cursor: string): SessionPosition {
  const match = /^(\d{1,16}):([A-Za-z0-9_-]{1,64})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (match === null || match[1] === undefined || match[2] === undefined) {
    throw new ValidationError([{ path: 'query.cursor', message: 'must be a cursor this service gave (nextCursor)' }]);
  }
  return { createdAtMs: Number(match[1]), id: match[2] };
}
