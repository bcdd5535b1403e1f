/**
 * API keys with scopes (../shared/contract.md Part 2, "Keys and tenants"): the shapes of `/api/keys`. The keys of
 * `API_KEYS` (or of the SSM parameter) are administrator keys; administrators make more keys here, each `admin` or
 * `tenant`. The secret is answered once, at creation; only its digest is stored (lib/api-keys.ts).
 */
import { z } from 'zod';

export const keyScopes = ['admin', 'tenant'] as const;
export const keyScopeSchema = z.enum(keyScopes);
export type KeyScope = z.infer<typeof keyScopeSchema>;

export const keyIdSchema = z.string().regex(/^key_[a-f0-9]{24}$/, 'must be a key id this service gave');

export const keySchema = z
  .object({
    id: keyIdSchema,
    name: z.string(),
    scope: keyScopeSchema,
    createdAt: z.string(),
    /** When a request last presented it (to the minute), or null when none has. */
    lastUsedAt: z.string().nullable(),
  })
  .meta({ id: 'Key' });
export type Key = z.infer<typeof keySchema>;

export const createKeyBodySchema = z.strictObject({
  name: z.string().trim().min(1).max(100).meta({ description: 'What the key is for (shown in the list).', example: 'acme' }),
  scope: keyScopeSchema.meta({
    description: '`admin`: manages keys and sees every session. `tenant`: sees and acts on the sessions it creates only.',
  }),
});
export type CreateKeyBody = z.infer<typeof createKeyBodySchema>;

export const createdKeyResponseSchema = z.object({
  key: keySchema,
  secret: z.string().meta({ description: 'The key itself, to send as `x-api-key`: shown this once, never again.', example: 'wak_…' }),
});
export const keyResponseSchema = z.object({ key: keySchema });
export const keysResponseSchema = z.object({ keys: z.array(keySchema) });
