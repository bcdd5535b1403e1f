import { describe, expect, it } from 'vitest';
import { chatIdSchema, normaliseChatId } from '../../contract/api.js';

describe('chat id normalisation', () => {
  it.each([
    ['15551234567@c.us', '15551234567@c.us'],
    ['120363025246125486@g.us', '120363025246125486@g.us'],
    ['15551234567-1602212345@g.us', '15551234567-1602212345@g.us'],
    ['15551234567@s.whatsapp.net', '15551234567@c.us'],
    ['123456789012345@lid', '123456789012345@lid'],
    ['+1 555-123-4567', '15551234567@c.us'],
    ['15551234567', '15551234567@c.us'],
    ['(555) 123 4567', '5551234567@c.us'],
    ['0049 30 1234567', '49301234567@c.us'],
    ['+44 (0)20.7946.0018', '442079460018@c.us'],
    ['+49\u00a030\u00a01234567', '49301234567@c.us'],
    ['  +15551234567  ', '15551234567@c.us'],
  ])('%s → %s', (input, expected) => {
    expect(normaliseChatId(input)).toBe(expected);
  });

  it.each([
    [''],
    ['hello'],
    ['12345'],
    ['1234567890123456'],
    ['+1 555 abc 4567'],
    ['15551234567@c.us@c.us'],
    ['15551234567@example.com'],
    ['../15551234567@c.us'],
    ['status@broadcast'],
    ['@c.us'],
    ['1555123456\n7'],
    ['1555\t1234567'],
    // Issue 15: a leading "-", path characters or doubled separators are not a phone number.
    ['-15550100002'],
    ['../15550100002'],
    ['./15550100002'],
    ['15550100002/..'],
    ['1555/0100002'],
    ['1555--0100002'],
    ['1555 . 0100002'],
    ['15550100002-'],
    ['.15550100002'],
    ['+-15550100002'],
    ['(1555 0100002'],
    ['1555)0100002'],
    ['%2e%2e%2f15550100002'],
  ])('refuses %j', (input) => {
    expect(normaliseChatId(input)).toBeNull();
    expect(chatIdSchema.safeParse(input).success).toBe(false);
  });

  it('refuses ids longer than 128 characters before parsing them', () => {
    expect(chatIdSchema.safeParse('1'.repeat(200)).success).toBe(false);
  });
});
