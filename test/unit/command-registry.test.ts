/**
 * The command registry: one declaration per command (contract/commands.ts), one handler per command
 * (session-host/command-handlers.ts). The type-level half of this file is checked by the type check of `npm test`:
 * each `@ts-expect-error` below fails the type check if the line under it ever compiles, i.e. if a handler map
 * missing a command, or answering the wrong shape, were accepted.
 */
import { describe, expect, expectTypeOf, it } from 'vitest';
import { commands, commandResultSchemas, commandSchema, type CommandResult, type CommandType } from '../../contract/commands.js';
import { commandHandlers, type CommandHandlers } from '../../session-host/command-handlers.js';
import type { SessionManager } from '../../session-host/sessions/session-manager.js';

/** Never called: only compiled (its name starts with `_` for that reason). */
function _compileFailFixtures(complete: CommandHandlers): CommandHandlers[] {
  const { send: _withoutSend, ...missingSend } = complete;
  // @ts-expect-error — a handler map without the `send` handler is not a CommandHandlers.
  const incomplete: CommandHandlers = missingSend;
  // @ts-expect-error — a `chats` handler that answers contacts does not compile.
  const wrongResult: CommandHandlers = { ...complete, chats: async () => ({ contacts: [] }) };
  return [incomplete, wrongResult];
}

describe('command registry', () => {
  it('types each command’s result from its one declaration', () => {
    expectTypeOf<CommandResult<'pairing-code'>>().toEqualTypeOf<{ code: string }>();
    expectTypeOf<keyof CommandHandlers>().toEqualTypeOf<CommandType>();
  });

  it('has a handler for every declared command, and a result schema for each', () => {
    const handlers = commandHandlers({} as SessionManager, { startResume: () => undefined });
    const declared = Object.keys(commands).sort();
    expect(Object.keys(handlers).sort()).toEqual(declared);
    expect(Object.keys(commandResultSchemas).sort()).toEqual(declared);
  });

  it('validates each command’s request from the same declaration', () => {
    expect(commandSchema.safeParse({ type: 'messages', chatId: '1@c.us', limit: 5 }).success).toBe(true);
    expect(commandSchema.safeParse({ type: 'messages', chatId: '1@c.us', limit: 501 }).success).toBe(false);
    expect(commandSchema.safeParse({ type: 'no-such-command' }).success).toBe(false);
    expect(commandSchema.safeParse({ type: 'engine.control', action: 'scan', input: { phone: '15550001111' } }).success).toBe(true);
  });
});
