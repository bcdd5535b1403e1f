/** The webjs engine's pure parts: ack names, launch error classes, Chromium lookup. No browser here. */
import { describe, expect, it } from 'vitest';
import { ChromeNotFoundError, chromiumArgs, resolveChromePath } from '../../session-host/engines/webjs/chromium.js';
import { ackName, ackRank } from '../../session-host/engines/webjs/convert.js';
import { classifyLaunchError } from '../../session-host/engines/webjs/webjs-engine.js';

describe('webjs engine helpers', () => {
  it('maps whatsapp-web.js MessageAck values to the contract', () => {
    expect([-1, 0, 1, 2, 3, 4].map(ackName)).toEqual(['failed', 'pending', 'sent', 'delivered', 'read', 'played']);
    expect(ackRank('read')).toBeGreaterThan(ackRank('delivered'));
    expect(ackRank('failed')).toBeGreaterThan(ackRank('played'));
  });

  it('classifies launch failures', () => {
    expect(classifyLaunchError(new Error('net::ERR_NAME_NOT_RESOLVED at https://web.whatsapp.com/')).code).toBe(
      'WHATSAPP_UNREACHABLE',
    );
    expect(classifyLaunchError('auth timeout').code).toBe('WHATSAPP_UNREACHABLE');
    expect(classifyLaunchError(new Error('Failed to launch the browser process!')).code).toBe('BROWSER_LAUNCH_FAILED');
    expect(classifyLaunchError(new Error("Couldn't load version x from the cache")).code).toBe('WEB_VERSION_NOT_FOUND');
    expect(classifyLaunchError(new ChromeNotFoundError('set CHROME_PATH')).code).toBe('CHROME_NOT_FOUND');
    expect(classifyLaunchError(new Error('something else')).code).toBe('ENGINE_ERROR');
  });

  it('finds Chromium, or says to set CHROME_PATH', () => {
    expect(() => resolveChromePath('/nonexistent/chrome')).toThrow(/CHROME_PATH/);
    expect(resolveChromePath(undefined)).toMatch(/chrom/);
    expect(chromiumArgs({ maxOldSpaceMb: 512 })).toContain('--js-flags=--max-old-space-size=512');
  });
});
