/** /api/webhooks: register, list, read, delete HTTP endpoints for events; their deliveries; replay. All in Redis. */
import { OpenAPIHono } from '@hono/zod-openapi';
import { currentPrincipal, tenantOf } from '../../../lib/api-keys.js';
import type { ApiEnv } from '../api-env.js';
import { apiRoutes } from '../api-routes.js';
import type { ApiDependencies } from '../dependencies.js';
import { validationHook } from '../validation.js';

export function webhookRoutes(deps: ApiDependencies) {
  // A tenant key's webhooks are its own: made for its sessions, shown to it alone (lib/webhook-store.ts).
  const tenant = () => tenantOf(currentPrincipal());
  return new OpenAPIHono<ApiEnv>({ defaultHook: validationHook })
    .openapi(apiRoutes.createWebhook, async (c) => c.json(await deps.webhooks.create(c.req.valid('json'), tenant()), 201))
    .openapi(apiRoutes.listWebhooks, async (c) => c.json({ webhooks: await deps.webhooks.list(tenant()) }, 200))
    .openapi(apiRoutes.getWebhook, async (c) => c.json({ webhook: await deps.webhooks.get(c.req.valid('param').webhookId, tenant()) }, 200))
    .openapi(apiRoutes.deleteWebhook, async (c) => c.json({ webhook: await deps.webhooks.delete(c.req.valid('param').webhookId, tenant()) }, 200))
    .openapi(apiRoutes.listWebhookDeliveries, async (c) => {
      const query = c.req.valid('query');
      const deliveries = await deps.webhooks.deliveries(c.req.valid('param').webhookId, { status: query.status, limit: query.limit }, tenant());
      return c.json({ deliveries }, 200);
    })
    .openapi(apiRoutes.replayWebhook, async (c) => {
      const { sessionId, after } = c.req.valid('json');
      return c.json({ queued: await deps.webhooks.replay(c.req.valid('param').webhookId, sessionId, after, tenant()) }, 202);
    });
}
