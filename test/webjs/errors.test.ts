/** What the webjs engine's failures mean for a user (errors.ts). Pure: no browser. */
import { describe, expect, it } from 'vitest';
import { ServiceError, SessionNotConnectedError } from '../../contract/errors.js';
import { TimeoutError } from '../../lib/async.js';
import { ChromeNotFoundError } from '../../session-host/engines/webjs/chromium.js';
import {
  classifyLaunchError,
  disconnectCause,
  isPageGone,
  launchTimeoutError,
  messageOf,
  operationError,
} from '../../session-host/engines/webjs/errors.js';

describe('launch failures', () => {
  it('name what went wrong for a user', () => {
    const cases: Array<[unknown, string]> = [
      [new ChromeNotFoundError('set CHROME_PATH'), 'CHROME_NOT_FOUND'],
      [new TimeoutError('loading took too long'), 'WHATSAPP_UNREACHABLE'],
      [new Error('net::ERR_NAME_NOT_RESOLVED at https://web.whatsapp.com/'), 'WHATSAPP_UNREACHABLE'],
      ['auth timeout', 'WHATSAPP_UNREACHABLE'],
      ['ready timeout', 'WHATSAPP_UNREACHABLE'],
      [new Error("Couldn't load version 2.3000.1 from the cache"), 'WEB_VERSION_NOT_FOUND'],
      [new Error('Failed to launch the browser process!'), 'BROWSER_LAUNCH_FAILED'],
      [new Error('spawn /usr/bin/chromium ENOENT'), 'BROWSER_LAUNCH_FAILED'],
      [new Error('Timed out after 30000 ms while waiting for the WS endpoint URL to appear in stdout!'), 'BROWSER_LAUNCH_FAILED'],
      [new Error('Protocol error (Runtime.callFunctionOn): Target closed'), 'BROWSER_CRASHED'],
      [new Error('Execution context was destroyed, most likely because of a navigation.'), 'BROWSER_CRASHED'],
      [new Error('something else'), 'ENGINE_ERROR'],
      [{ odd: 'value' }, 'ENGINE_ERROR'],
    ];
    for (const [error, code] of cases) expect({ error, code: classifyLaunchError(error).code }).toEqual({ error, code });
  });

  it('keep the cause in the message', () => {
    expect(classifyLaunchError('auth timeout').message).toBe('WhatsApp Web could not be loaded: auth timeout');
    expect(classifyLaunchError({ odd: 'value' }).message).toBe('{"odd":"value"}');
    expect(launchTimeoutError(1234)).toEqual({
      code: 'WHATSAPP_UNREACHABLE',
      message: 'WhatsApp Web did not show a QR or connect within 1234 ms',
    });
  });
});

describe('disconnect reasons', () => {
  it('tell a lost login from a connection to take up again', () => {
    for (const reason of ['LOGOUT', 'UNPAIRED', 'UNPAIRED_IDLE']) {
      expect(disconnectCause(reason)).toMatchObject({ loggedOut: true, lastError: { code: 'LOGGED_OUT' } });
    }
    expect(disconnectCause('CONFLICT')).toMatchObject({ loggedOut: false, lastError: { code: 'CONFLICT' } });
    expect(disconnectCause('NAVIGATION')).toEqual({
      loggedOut: false,
      lastError: { code: 'DISCONNECTED', message: 'WhatsApp Web disconnected (NAVIGATION); reconnecting.' },
    });
  });
});

describe('failed page calls', () => {
  const context = { sessionId: 's1', timeoutMessage: 'WhatsApp Web did not finish listing chats within 30 ms.' };

  it('recognise a page gone under the call', () => {
    expect(isPageGone(new Error('Protocol error (Runtime.callFunctionOn): Session closed. Most likely the page has been closed.'))).toBe(true);
    expect(isPageGone(new Error("Cannot read properties of null (reading 'evaluate')"))).toBe(true);
    expect(isPageGone(new Error('Evaluation failed: TypeError: x is not a function'))).toBe(false);
  });

  it('map the engine bound to TIMEOUT and a gone page to SESSION_NOT_CONNECTED', () => {
    const timedOut = operationError(new TimeoutError('listing chats took longer than 30 ms'), context);
    expect(timedOut).toBeInstanceOf(ServiceError);
    expect(timedOut).toMatchObject({ code: 'TIMEOUT', message: context.timeoutMessage });

    const gone = operationError(new Error('Protocol error: Target closed'), context);
    expect(gone).toBeInstanceOf(SessionNotConnectedError);
    expect(gone).toMatchObject({ code: 'SESSION_NOT_CONNECTED', details: { status: 'disconnected' } });
  });

  it("leave the caller's own deadline, service errors and anything else as they are", () => {
    const controller = new AbortController();
    const deadline = new TimeoutError('the deadline of send has passed');
    controller.abort(deadline);
    expect(operationError(deadline, { ...context, signal: controller.signal })).toBe(deadline);

    const refused = new ServiceError('RECIPIENT_NOT_ON_WHATSAPP', 'not on WhatsApp');
    expect(operationError(refused, context)).toBe(refused);

    const other = new Error('Evaluation failed');
    expect(operationError(other, context)).toBe(other);
    expect(messageOf(other)).toBe('Evaluation failed');
  });
});
