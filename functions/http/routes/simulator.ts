/** /api/simulator/...: scan a simulated QR, inject a message from outside. Mounted only on the simulator engine. */
import { Hono } from 'hono';
import { simulatorControl, simulatorResult } from '../../../contract/simulator.js';
import {
  parseOrThrow,
  sessionIdSchema,
  simulatorIncomingBodySchema,
  simulatorPairBodySchema,
  simulatorScanBodySchema,
} from '../../../contract/api.js';
import type { ApiEnv } from '../api-env.js';
import { findSession, liveOwner, type ApiDependencies } from '../dependencies.js';
import { readJsonBody } from '../middleware.js';

export function simulatorRoutes(deps: ApiDependencies): Hono<ApiEnv> {
  const app = new Hono<ApiEnv>();

  app.post('/sessions/:sessionId/scan', async (c) => {
    const sessionId = parseOrThrow(sessionIdSchema, c.req.param('sessionId'), 'sessionId');
    const body = parseOrThrow(simulatorScanBodySchema, await readJsonBody(c));
    const entry = await findSession(deps, sessionId);
    const result = await deps.bus.request(
      { hostId: liveOwner(entry), sessionId },
      simulatorControl('scan', body.phone === undefined ? {} : { phone: body.phone }),
      deps.config.commandTimeoutMs,
      c.get('requestId'),
    );
    return c.json(simulatorResult('scan', result), 202);
  });

  app.post('/sessions/:sessionId/pair', async (c) => {
    const sessionId = parseOrThrow(sessionIdSchema, c.req.param('sessionId'), 'sessionId');
    const body = parseOrThrow(simulatorPairBodySchema, await readJsonBody(c));
    const entry = await findSession(deps, sessionId);
    const result = await deps.bus.request(
      { hostId: liveOwner(entry), sessionId },
      simulatorControl('pair', { code: body.code }),
      deps.config.commandTimeoutMs,
      c.get('requestId'),
    );
    return c.json(simulatorResult('pair', result), 202);
  });

  app.post('/sessions/:sessionId/incoming', async (c) => {
    const sessionId = parseOrThrow(sessionIdSchema, c.req.param('sessionId'), 'sessionId');
    const body = parseOrThrow(simulatorIncomingBodySchema, await readJsonBody(c));
    const entry = await findSession(deps, sessionId);
    const result = await deps.bus.request(
      { hostId: liveOwner(entry), sessionId },
      simulatorControl('incoming', { from: body.from, text: body.text }),
      deps.config.commandTimeoutMs,
      c.get('requestId'),
    );
    return c.json(simulatorResult('incoming', result), 202);
  });

  return app;
}
