/**
 * The simulator engine's own controls: what only a simulated WhatsApp can do (scan a QR, type a pairing code, get a
 * message from outside) and the nudge between hosts that a simulated session's mailbox has something. They travel
 * as `engine.control` commands; this table is their one declaration, used by the REST routes (inputs) and by the
 * simulator (inputs and results), so neither the protocol nor the session manager knows them.
 */
import { z } from 'zod';
import { messageSchema, sessionSchema } from './api.js';
import { ServiceError } from './errors.js';

function control<Input extends z.ZodRawShape, Result extends z.ZodType>(input: Input, result: Result) {
  return { input: z.object(input), result };
}

export const simulatorControls = {
  scan: control({ phone: z.string().regex(/^\d{6,15}$/).optional() }, z.object({ session: sessionSchema })),
  pair: control({ code: z.string() }, z.object({ session: sessionSchema })),
  incoming: control({ from: z.string(), text: z.string() }, z.object({ message: messageSchema })),
  drain: control({}, z.object({})),
};

export type SimulatorControl = keyof typeof simulatorControls;
export type SimulatorControlInput<A extends SimulatorControl> = z.infer<(typeof simulatorControls)[A]['input']>;
export type SimulatorControlResult<A extends SimulatorControl> = z.infer<(typeof simulatorControls)[A]['result']>;

/** The `engine.control` command of a simulator control. */
export function simulatorControl<A extends SimulatorControl>(action: A, input: SimulatorControlInput<A>) {
  return { type: 'engine.control' as const, action, input };
}

/**
 * A simulator control's result as the caller reads it off Redis: validated against the control's declared result
 * (`engine.control` results are `unknown` to the protocol). A result that does not match is the host's bug: INTERNAL.
 */
export function simulatorResult<A extends SimulatorControl>(action: A, result: unknown): SimulatorControlResult<A> {
  const parsed = simulatorControls[action].result.safeParse(result);
  if (!parsed.success) throw new ServiceError('INTERNAL', `The session host answered the ${action} control with something this service cannot read.`);
  return parsed.data as SimulatorControlResult<A>;
}
