/** /api/keys: make, list and revoke API keys (administrator keys only). Stored as digests in Redis (lib/api-keys.ts). */
import { OpenAPIHono } from '@hono/zod-openapi';
import { ServiceError } from '../../../contract/errors.js';
import { currentPrincipal } from '../../../lib/api-keys.js';
import type { ApiEnv } from '../api-env.js';
import { apiRoutes } from '../api-routes.js';
import type { ApiDependencies } from '../dependencies.js';
import { validationHook } from '../validation.js';

export function keyRoutes(deps: ApiDependencies) {
  const store = () => {
    if (currentPrincipal()?.scope !== 'admin') throw new ServiceError('FORBIDDEN', 'Only administrator keys may manage keys.');
    if (deps.apiKeys === undefined) throw new ServiceError('SERVICE_UNAVAILABLE', 'No key store is configured.');
    return deps.apiKeys;
  };
  return new OpenAPIHono<ApiEnv>({ defaultHook: validationHook })
    .openapi(apiRoutes.createKey, async (c) => {
      const body = c.req.valid('json');
      const created = await store().create(body.name, body.scope);
      c.header('cache-control', 'no-store');
      c.get('logger').info({ keyId: created.key.id, scope: created.key.scope }, 'API key made');
      return c.json(created, 201);
    })
    .openapi(apiRoutes.listKeys, async (c) => c.json({ keys: await store().list() }, 200))
    .openapi(apiRoutes.revokeKey, async (c) => {
      const key = await store().revoke(c.req.valid('param').keyId);
      // Its WebSocket connections receive nothing more, from now on.
      const dropped = (await deps.connections?.removeAllOf(key.id)) ?? 0;
      c.get('logger').info({ keyId: key.id, connections: dropped }, 'API key revoked');
      return c.json({ key }, 200);
    });
}
