/**
 * The session state machine of the contract: starting → qr → authenticated → connected, with disconnected (will
 * retry by itself) and failed (gave up). Pure functions over SessionRecord, so the rules are tested without I/O.
 */
import type { LastError, Me, SessionStatus } from '../../contract/api.js';
import type { SessionRecord } from '../../contract/commands.js';

const allowedNext: Record<SessionStatus, readonly SessionStatus[]> = {
  // A stored login skips the QR: starting → authenticated/connected directly.
  starting: ['starting', 'qr', 'authenticated', 'connected', 'disconnected', 'failed'],
  qr: ['starting', 'qr', 'authenticated', 'connected', 'disconnected', 'failed'],
  authenticated: ['starting', 'qr', 'connected', 'disconnected', 'failed'],
  // A logout from the phone sends a connected session back to qr.
  connected: ['starting', 'qr', 'disconnected', 'failed'],
  disconnected: ['starting', 'qr', 'authenticated', 'connected', 'disconnected', 'failed'],
  failed: ['starting'],
};

export function canMove(from: SessionStatus, to: SessionStatus): boolean {
  return allowedNext[from].includes(to);
}

export interface StatusChange {
  status: SessionStatus;
  qr?: string | undefined;
  me?: Me | undefined;
  lastError?: LastError | undefined;
  /** The login is gone (logged out from the phone): who the session was is no longer known. */
  forgetMe?: boolean | undefined;
}

export type Transition =
  | { kind: 'changed'; record: SessionRecord }
  | { kind: 'unchanged' }
  | { kind: 'refused'; from: SessionStatus; to: SessionStatus };

/**
 * Applies a status change. A repeated `qr` with a new code counts as a change (the QR rotated); anything else that
 * changes nothing is `unchanged`, so no event is raised twice for one state.
 */
export function applyStatusChange(record: SessionRecord, change: StatusChange, now: Date): Transition {
  if (!canMove(record.status, change.status)) return { kind: 'refused', from: record.status, to: change.status };
  const qr = change.status === 'qr' ? (change.qr ?? record.qr) : null;
  const me =
    change.forgetMe === true ? null : (change.me ?? (change.status === 'qr' || change.status === 'starting' ? null : record.me));
  // lastError stays until the session is connected again, so a `failed` one says why until restarted and beyond.
  const lastError = change.lastError !== undefined ? change.lastError : change.status === 'connected' ? null : record.lastError;
  if (
    record.status === change.status &&
    record.qr === qr &&
    sameMe(record.me, me) &&
    sameError(record.lastError, lastError)
  ) {
    return { kind: 'unchanged' };
  }
  return {
    kind: 'changed',
    record: { ...record, status: change.status, qr, me, lastError, updatedAt: now.toISOString() },
  };
}

function sameMe(a: Me | null, b: Me | null): boolean {
  return a === b || (a !== null && b !== null && a.id === b.id && a.pushName === b.pushName && a.lid === b.lid);
}

function sameError(a: LastError, b: LastError): boolean {
  return a === b || (a !== null && b !== null && a.code === b.code && a.message === b.message);
}

export function newSessionRecord(id: string, engine: SessionRecord['engine'], now: Date): SessionRecord {
  const at = now.toISOString();
  return { id, status: 'starting', engine, me: null, createdAt: at, updatedAt: at, lastError: null, qr: null };
}
