/** /api/simulator/...: scan a simulated QR, type a pairing code, inject a message from outside. Mounted only on the simulator engine. */
import { OpenAPIHono } from '@hono/zod-openapi';
import { simulatorControl, simulatorResult } from '../../../contract/simulator.js';
import type { ApiEnv } from '../api-env.js';
import { apiRoutes } from '../api-routes.js';
import { commandSession, type ApiDependencies } from '../dependencies.js';
import { validationHook } from '../validation.js';

export function simulatorRoutes(deps: ApiDependencies) {
  return new OpenAPIHono<ApiEnv>({ defaultHook: validationHook })
    .openapi(apiRoutes.simulatorScan, async (c) => {
      const { sessionId } = c.req.valid('param');
      const body = c.req.valid('json');
      // Lookup, liveness and push in one Redis round trip (route-command-2).
      const result = await commandSession(deps, sessionId, simulatorControl('scan', body.phone === undefined ? {} : { phone: body.phone }), { traceId: c.get('requestId') });
      return c.json(simulatorResult('scan', result), 202);
    })
    .openapi(apiRoutes.simulatorPair, async (c) => {
      const { sessionId } = c.req.valid('param');
      const body = c.req.valid('json');
      // Lookup, liveness and push in one Redis round trip (route-command-2).
      const result = await commandSession(deps, sessionId, simulatorControl('pair', { code: body.code }), { traceId: c.get('requestId') });
      return c.json(simulatorResult('pair', result), 202);
    })
    .openapi(apiRoutes.simulatorIncoming, async (c) => {
      const { sessionId } = c.req.valid('param');
      const body = c.req.valid('json');
      // Lookup, liveness and push in one Redis round trip (route-command-2).
      const result = await commandSession(deps, sessionId, simulatorControl('incoming', { from: body.from, text: body.text }), { traceId: c.get('requestId') });
      return c.json(simulatorResult('incoming', result), 202);
    });
}
