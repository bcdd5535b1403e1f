/** Issue 15: the webjs engine's "pairing code issued" line shows only the last two digits of the number. */
import { describe, expect, it } from 'vitest';
import { maskedPhone } from '../../session-host/engines/webjs/operations.js';

describe('maskedPhone', () => {
  it('keeps the last two digits only', () => {
    expect(maskedPhone('15550100002')).toBe('•••••••••02');
    expect(maskedPhone('+44 20 7946 0018')).not.toContain('7946');
    expect(maskedPhone('7')).toBe('••');
  });
});
