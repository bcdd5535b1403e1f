/**
 * What the webjs engine's failures mean for a gateway user: a launch that went wrong, a disconnect reason of the
 * library, a page call that failed. Pure: the engine decides what to do with the answer.
 */
import type { LastError } from '../../../contract/api.js';
import { ServiceError, SessionNotConnectedError } from '../../../contract/errors.js';
import { TimeoutError } from '../../../lib/async.js';
import { ChromeNotFoundError } from './chromium.js';

/** The text of anything thrown; the library rejects with bare strings at times ('auth timeout'). */
export function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message;
  return typeof error === 'string' ? error : JSON.stringify(error);
}

/** What a failed launch means for a user. */
export function classifyLaunchError(error: unknown): NonNullable<LastError> {
  const message = messageOf(error);
  if (error instanceof ChromeNotFoundError) return { code: 'CHROME_NOT_FOUND', message };
  if (error instanceof TimeoutError || /net::ERR_/.test(message) || message === 'auth timeout' || message === 'ready timeout') {
    return { code: 'WHATSAPP_UNREACHABLE', message: `WhatsApp Web could not be loaded: ${message}` };
  }
  if (/Couldn't load version/.test(message)) return { code: 'WEB_VERSION_NOT_FOUND', message };
  if (/Failed to launch the browser process|ENOENT|EACCES|Timed out after \d+ ms while waiting for the WS endpoint/.test(message)) {
    return { code: 'BROWSER_LAUNCH_FAILED', message: `Chromium did not start: ${message}` };
  }
  if (/Target closed|Session closed|Connection closed|Protocol error|detached|Execution context was destroyed/i.test(message)) {
    return { code: 'BROWSER_CRASHED', message: `Chromium went away while starting: ${message}` };
  }
  return { code: 'ENGINE_ERROR', message };
}

/** A launch with neither a QR nor `ready` in time: the page loaded (or hangs) but WhatsApp Web never came up. */
export function launchTimeoutError(timeoutMs: number): NonNullable<LastError> {
  return { code: 'WHATSAPP_UNREACHABLE', message: `WhatsApp Web did not show a QR or connect within ${timeoutMs} ms` };
}

/**
 * Puppeteer's ways of saying the page or browser went away under a call (the last one: whatsapp-web.js reading
 * `pupPage.evaluate` after its page was nulled by a destroy).
 */
const pageGonePattern =
  /Target closed|Session closed|Connection closed|Protocol error|detached|Execution context was destroyed|Cannot read properties of null \(reading 'evaluate'\)/i;

export function isPageGone(error: unknown): boolean {
  return pageGonePattern.test(messageOf(error));
}

/** The library's disconnect reasons that mean the phone unlinked this login: retrying with it is pointless. */
const loggedOutReasons = new Set(['LOGOUT', 'UNPAIRED', 'UNPAIRED_IDLE']);

export interface DisconnectCause {
  loggedOut: boolean;
  lastError: NonNullable<LastError>;
}

/** What a `disconnected` event of the library means, and whether the login survived it. */
export function disconnectCause(reason: string): DisconnectCause {
  if (loggedOutReasons.has(reason)) {
    return { loggedOut: true, lastError: { code: 'LOGGED_OUT', message: 'Logged out from the phone; a new QR follows.' } };
  }
  if (reason === 'CONFLICT') {
    return { loggedOut: false, lastError: { code: 'CONFLICT', message: 'WhatsApp Web was opened with this login elsewhere; reconnecting.' } };
  }
  return { loggedOut: false, lastError: { code: 'DISCONNECTED', message: `WhatsApp Web disconnected (${reason}); reconnecting.` } };
}

/**
 * The error a failed page call surfaces as: the engine's own bound → TIMEOUT, a page gone under the call →
 * SESSION_NOT_CONNECTED. The caller's deadline passing is the caller's business: its reason goes back unchanged
 * (it is a TimeoutError too, so it must be told apart by the signal, not by the error).
 */
export function operationError(
  error: unknown,
  context: { sessionId: string; signal?: AbortSignal | undefined; timeoutMessage: string },
): unknown {
  if (error instanceof ServiceError) return error;
  if (context.signal?.aborted === true) return error;
  if (error instanceof TimeoutError) return new ServiceError('TIMEOUT', context.timeoutMessage);
  if (isPageGone(error)) return new SessionNotConnectedError(context.sessionId, 'disconnected');
  return error;
}
