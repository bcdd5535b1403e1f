/**
 * Issue 15: Chromium runs with its sandbox unless it cannot (root, or CHROME_NO_SANDBOX=true). Where this machine
 * allows it (root here, setpriv and Chromium installed), the engine's flags with the sandbox on really start a
 * Chromium as an unprivileged user: without a usable sandbox Chromium aborts ("No usable sandbox!").
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { chromiumArgs, sandboxDecision } from '../../session-host/engines/webjs/chromium.js';
import { temporaryDirectory } from '../../scripts/support/processes.js';

describe('Chromium sandbox', () => {
  it('is off only as root or with CHROME_NO_SANDBOX=true', () => {
    expect(sandboxDecision({}, 10001)).toMatchObject({ sandbox: true });
    expect(sandboxDecision({ CHROME_NO_SANDBOX: 'false' }, 10001)).toMatchObject({ sandbox: true });
    expect(sandboxDecision({}, 0)).toMatchObject({ sandbox: false, reason: expect.stringContaining('root') });
    expect(sandboxDecision({ CHROME_NO_SANDBOX: 'true' }, 10001)).toMatchObject({ sandbox: false, reason: expect.stringContaining('CHROME_NO_SANDBOX') });
  });

  it('keeps the zygote and separate renderers with the sandbox; drops them only without it', () => {
    const on = chromiumArgs({ maxOldSpaceMb: 256, sandbox: { sandbox: true, reason: 'test' } });
    expect(on).not.toContain('--no-sandbox');
    expect(on).not.toContain('--no-zygote');
    expect(on).not.toContain('--single-process');
    const off = chromiumArgs({ maxOldSpaceMb: 256, sandbox: { sandbox: false, reason: 'test' } });
    expect(off).toEqual(expect.arrayContaining(['--no-sandbox', '--no-zygote', '--single-process']));
  });

  const binary = '/usr/lib/chromium/chromium';
  const canTry = process.getuid?.() === 0 && existsSync(binary) && spawnSync('setpriv', ['--version']).status === 0;
  it.runIf(canTry)('starts sandboxed as an unprivileged user with the engine\'s flags', () => {
    const home = temporaryDirectory('wa-sandbox');
    try {
      chmodSync(home.path, 0o777);
      const args = chromiumArgs({ maxOldSpaceMb: 256, sandbox: { sandbox: true, reason: 'test' } });
      const result = spawnSync(
        'setpriv',
        ['--reuid=65534', '--regid=65534', '--clear-groups', binary, '--headless', ...args, `--user-data-dir=${path.join(home.path, 'profile')}`, '--dump-dom', 'data:text/html,<p>sandboxed</p>'],
        { env: { HOME: home.path, PATH: process.env.PATH }, encoding: 'utf8', timeout: 30_000 },
      );
      expect(result.stderr).not.toMatch(/No usable sandbox/);
      expect(result.stdout).toContain('<p>sandboxed</p>');
    } finally {
      home.remove();
    }
  }, 40_000);
});
