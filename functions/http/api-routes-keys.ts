/**
 * The key routes (`/api/keys`: ../shared/contract.md Part 2, "Keys and tenants"), declared like every other route
 * and merged into `apiRoutes` (api-routes.ts), which passes its helpers in: this file imports only types from it, so
 * the two modules never wait on each other when they load.
 */
import { createRoute, z } from '@hono/zod-openapi';
import { emptyBodySchema } from '../../contract/api.js';
import { createdKeyResponseSchema, createKeyBodySchema, keyIdSchema, keyResponseSchema, keysResponseSchema } from '../../contract/keys.js';
import type { RouteHelpers } from './api-routes.js';

export function keyRouteDeclarations({ json, jsonBody, errors, bodyErrors }: RouteHelpers) {
  const keyParams = z.object({ keyId: keyIdSchema.meta({ description: 'The key: `key_…` as created.', example: 'key_3f9a1c2b7d4e5f60718293a4' }) });
  const adminOnly = 'Administrator keys only: a tenant key gets 403 `FORBIDDEN`.';
  return {
    createKey: createRoute({
      operationId: 'createKey',
      method: 'post',
      path: '/api/keys',
      tags: ['Keys'],
      summary: 'Make an API key, administrator or tenant (its secret is shown this once)',
      description: `${adminOnly} A tenant key sees and acts on the sessions it creates only; an administrator key on every session.`,
      request: { body: jsonBody(createKeyBodySchema, true) },
      responses: {
        201: json('The key, and its secret: send it as `x-api-key`. Only its digest is kept.', createdKeyResponseSchema),
        ...errors({ ...bodyErrors, 403: ['FORBIDDEN'], 409: ['LIMIT_REACHED'], 429: ['RATE_LIMITED'] }),
      },
    }),
    listKeys: createRoute({
      operationId: 'listKeys',
      method: 'get',
      path: '/api/keys',
      tags: ['Keys'],
      summary: 'Every key made through this route, oldest first (never a secret)',
      description: `${adminOnly} The keys of \`API_KEYS\` are not listed: they live in the configuration.`,
      responses: { 200: json('The keys.', keysResponseSchema), ...errors({ 403: ['FORBIDDEN'], 429: ['RATE_LIMITED'] }) },
    }),
    revokeKey: createRoute({
      operationId: 'revokeKey',
      method: 'delete',
      path: '/api/keys/{keyId}',
      tags: ['Keys'],
      summary: 'Revoke a key: its next request gets 401',
      description: `${adminOnly} The sessions and webhooks it made stay; administrators still see them.`,
      request: { params: keyParams, body: jsonBody(emptyBodySchema, false, 'No fields: an empty body or `{}`.') },
      responses: {
        200: json('The key as it was.', keyResponseSchema),
        ...errors({ ...bodyErrors, 403: ['FORBIDDEN'], 404: ['NOT_FOUND'], 429: ['RATE_LIMITED'] }),
      },
    }),
  };
}
