import { describe, expect, it } from 'vitest';
import type { SessionStatus } from '../../contract/api.js';
import { applyStatusChange, canMove, newSessionRecord } from '../../session-host/sessions/session-state.js';

const t0 = new Date('2026-01-01T00:00:00.000Z');
const t1 = new Date('2026-01-01T00:00:01.000Z');

function recordIn(status: SessionStatus) {
  return { ...newSessionRecord('alice', 'simulator', t0), status };
}

describe('session state machine', () => {
  it('starts in starting with nothing known', () => {
    expect(newSessionRecord('alice', 'webjs', t0)).toEqual({
      id: 'alice',
      status: 'starting',
      engine: 'webjs',
      me: null,
      createdAt: t0.toISOString(),
      updatedAt: t0.toISOString(),
      lastError: null,
      qr: null,
    });
  });

  it('walks the happy path starting → qr → authenticated → connected', () => {
    let record = recordIn('starting');
    for (const change of [
      { status: 'qr' as const, qr: 'code-1' },
      { status: 'authenticated' as const },
      { status: 'connected' as const, me: { id: '1@c.us', pushName: 'A', lid: null } },
    ]) {
      const transition = applyStatusChange(record, change, t1);
      expect(transition.kind).toBe('changed');
      if (transition.kind === 'changed') record = transition.record;
    }
    expect(record).toMatchObject({ status: 'connected', qr: null, me: { id: '1@c.us' }, updatedAt: t1.toISOString() });
  });

  it('counts a rotated QR as a change, the same QR as none', () => {
    const inQr = { ...recordIn('qr'), qr: 'code-1' };
    expect(applyStatusChange(inQr, { status: 'qr', qr: 'code-2' }, t1)).toMatchObject({ kind: 'changed', record: { qr: 'code-2' } });
    expect(applyStatusChange(inQr, { status: 'qr', qr: 'code-1' }, t1)).toEqual({ kind: 'unchanged' });
  });

  it('keeps lastError of a failure until the session is connected again', () => {
    const failed = applyStatusChange(recordIn('starting'), { status: 'failed', lastError: { code: 'WHATSAPP_UNREACHABLE', message: 'offline' } }, t1);
    expect(failed).toMatchObject({ kind: 'changed', record: { status: 'failed', lastError: { code: 'WHATSAPP_UNREACHABLE' } } });
    if (failed.kind !== 'changed') return;
    const restarting = applyStatusChange(failed.record, { status: 'starting' }, t1);
    expect(restarting).toMatchObject({ kind: 'changed', record: { status: 'starting', lastError: { code: 'WHATSAPP_UNREACHABLE' } } });
    if (restarting.kind !== 'changed') return;
    const connected = applyStatusChange(restarting.record, { status: 'connected', me: { id: '1@c.us', pushName: '', lid: null } }, t1);
    expect(connected).toMatchObject({ kind: 'changed', record: { lastError: null } });
  });

  it('forgets who the session was when it goes back to qr (logged out)', () => {
    const connected = { ...recordIn('connected'), me: { id: '1@c.us', pushName: 'A', lid: null } };
    expect(applyStatusChange(connected, { status: 'qr', qr: 'new' }, t1)).toMatchObject({ kind: 'changed', record: { me: null, qr: 'new' } });
  });

  it('forgets who the session was when the engine says the login is gone, whatever the status', () => {
    const connected = { ...recordIn('connected'), me: { id: '1@c.us', pushName: 'A', lid: null } };
    const failed = applyStatusChange(connected, { status: 'failed', forgetMe: true, lastError: { code: 'LOGGED_OUT', message: 'x' } }, t1);
    expect(failed).toMatchObject({ kind: 'changed', record: { status: 'failed', me: null } });
    const disconnected = applyStatusChange(connected, { status: 'disconnected' }, t1);
    expect(disconnected).toMatchObject({ kind: 'changed', record: { me: { id: '1@c.us' } } });
  });

  it('leaves failed only through starting (a restart)', () => {
    for (const to of ['qr', 'authenticated', 'connected', 'disconnected', 'failed'] as const) {
      expect(canMove('failed', to)).toBe(false);
      expect(applyStatusChange(recordIn('failed'), { status: to }, t1)).toEqual({ kind: 'refused', from: 'failed', to });
    }
    expect(canMove('failed', 'starting')).toBe(true);
  });

  it('never lets a connected session claim to be authenticated again without a new login', () => {
    expect(canMove('connected', 'authenticated')).toBe(false);
    expect(canMove('connected', 'disconnected')).toBe(true);
    expect(canMove('disconnected', 'connected')).toBe(true);
  });
});
