/**
 * API keys with scopes, and who owns which session (../shared/contract.md Part 2, "Keys and tenants").
 *
 * - The keys of `API_KEYS` (or of the SSM parameter) are administrator keys, matched in memory against their
 *   digests (functions/http/middleware.ts); their id is `cfg_` and the first 12 hex digits of the digest.
 * - Keys made through `POST /api/keys` live in Redis as digests only: `{api-keys}:records` (id → `{id, name, scope,
 *   createdAt, digest}`) and `{api-keys}:digests` (digest → id), written and revoked together in one MULTI (one hash
 *   tag). A presented key is found by its digest, every request: a revoked key stops at once.
 *
 * The digest is a plain SHA-256 of the secret. That is enough here because every secret this service makes is 32
 * random bytes (256 bits): nobody can search that space, so a slow password hash (bcrypt, scrypt) would only cost
 * CPU on every request without making a stolen digest any easier to reverse; and the digest is looked up, not
 * compared byte by byte, so no timing of a comparison leaks anything about a secret.
 *
 * A tenant key owns the sessions it creates: `{s:<id>}:tenant` holds its key id (written when the session is
 * created, removed with it), and `{k:<key id>}:sessions` lists them (for `GET /api/sessions` and the per-key cap).
 * The request being served runs with its principal in an AsyncLocalStorage, so every lookup of a session (dependencies.ts
 * `findSession`/`commandSession`) can apply the tenant rule without each route passing it along.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { createHash, randomBytes } from 'node:crypto';
import { z } from 'zod';
import { ServiceError } from '../contract/errors.js';
import { keySchema, type Key, type KeyScope } from '../contract/keys.js';
import type { RedisKeys } from '../contract/redis-keys.js';
import type { Redis } from './redis.js';
import { forgetTenantScript } from './redis-scripts.js';

/** Who a request (or a WebSocket connection) acts as. */
export interface Principal {
  keyId: string;
  scope: KeyScope;
}

const principalStorage = new AsyncLocalStorage<Principal>();

/** Runs `action` as `principal`: every session lookup inside it applies the tenant rule. */
export function runAs<T>(principal: Principal, action: () => T): T {
  return principalStorage.run(principal, action);
}

/** The principal of the request being served, or undefined outside one (tests, hosts). */
export function currentPrincipal(): Principal | undefined {
  return principalStorage.getStore();
}

/** The tenant whose sessions alone `principal` may see, or null for an administrator (or no principal: internal calls). */
export function tenantOf(principal: Principal | undefined): string | null {
  return principal?.scope === 'tenant' ? principal.keyId : null;
}

/** The id of a configured administrator key, from its digest (stable across instances, reveals nothing of the key). */
export function configKeyId(digest: Buffer): string {
  return `cfg_${digest.toString('hex').slice(0, 12)}`;
}

export function digestHexOf(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

const storedKeySchema = keySchema.omit({ lastUsedAt: true }).extend({ digest: z.string().regex(/^[a-f0-9]{64}$/) });
type StoredKey = z.infer<typeof storedKeySchema>;

export class KeyNotFoundError extends ServiceError {
  override readonly name = 'KeyNotFoundError';
  constructor(keyId: string) {
    super('NOT_FOUND', `No key '${keyId}'.`, { details: { keyId } });
  }
}

export interface ApiKeyStoreOptions {
  /** Keys at most (stored ones; the configured ones do not count). */
  maxKeys?: number;
  now?: () => number;
}

export const defaultMaxKeys = 1_000;
const lastUsedEveryMs = 60_000;

export class ApiKeyStore {
  private readonly lastUsedWritten = new Map<string, number>();
  private readonly now: () => number;

  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    private readonly options: ApiKeyStoreOptions = {},
  ) {
    this.now = options.now ?? Date.now;
  }

  /** Makes a key; the secret is in this answer only. */
  async create(name: string, scope: KeyScope): Promise<{ key: Key; secret: string }> {
    const max = this.options.maxKeys ?? defaultMaxKeys;
    if ((await this.redis.hlen(this.keys.apiKeys)) >= max) {
      throw new ServiceError('LIMIT_REACHED', `At most ${max} keys; revoke one first.`, { details: { limit: max, cap: 'keys' } });
    }
    const secret = `wak_${randomBytes(32).toString('base64url')}`;
    const stored: StoredKey = {
      id: `key_${randomBytes(12).toString('hex')}`,
      name,
      scope,
      createdAt: new Date(this.now()).toISOString(),
      digest: digestHexOf(secret),
    };
    await this.redis
      .multi()
      .hset(this.keys.apiKeys, stored.id, JSON.stringify(stored))
      .hset(this.keys.apiKeyDigests, stored.digest, stored.id)
      .exec();
    return { key: publicKey(stored, null), secret };
  }

  /** Every stored key, oldest first (never a secret, never a digest). */
  async list(): Promise<Key[]> {
    const [records, lastUsed] = await Promise.all([this.redis.hvals(this.keys.apiKeys), this.redis.hgetall(this.keys.apiKeyLastUsed)]);
    return records
      .map((raw) => storedKeySchema.parse(JSON.parse(raw)))
      .sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id))
      .map((stored) => publicKey(stored, lastUsed[stored.id] ?? null));
  }

  /** Revokes a key (as it was): its next request gets 401. */
  async revoke(keyId: string): Promise<Key> {
    const [raw, lastUsedAt] = await Promise.all([this.redis.hget(this.keys.apiKeys, keyId), this.redis.hget(this.keys.apiKeyLastUsed, keyId)]);
    if (raw === null) throw new KeyNotFoundError(keyId);
    const stored = storedKeySchema.parse(JSON.parse(raw));
    const done = await this.redis
      .multi()
      .hdel(this.keys.apiKeys, keyId)
      .hdel(this.keys.apiKeyDigests, stored.digest)
      .hdel(this.keys.apiKeyLastUsed, keyId)
      .exec();
    if (done === null || done[0]?.[1] === 0) throw new KeyNotFoundError(keyId);
    return publicKey(stored, lastUsedAt);
  }

  /** The principal of a presented secret, or null when no stored key has it (never one that was revoked). */
  async resolve(secret: string): Promise<Principal | null> {
    const keyId = await this.redis.hget(this.keys.apiKeyDigests, digestHexOf(secret));
    if (keyId === null) return null;
    const raw = await this.redis.hget(this.keys.apiKeys, keyId);
    if (raw === null) return null;
    const stored = storedKeySchema.parse(JSON.parse(raw));
    this.touch(stored.id);
    return { keyId: stored.id, scope: stored.scope };
  }

  /** Records that the key was used, at most once a minute per instance, in the background. */
  private touch(keyId: string): void {
    const now = this.now();
    if (now - (this.lastUsedWritten.get(keyId) ?? 0) < lastUsedEveryMs) return;
    this.lastUsedWritten.set(keyId, now);
    if (this.lastUsedWritten.size > 10_000) this.lastUsedWritten.clear();
    this.redis.hset(this.keys.apiKeyLastUsed, keyId, new Date(now).toISOString()).catch(() => undefined);
  }
}

function publicKey(stored: StoredKey, lastUsedAt: string | null): Key {
  return { id: stored.id, name: stored.name, scope: stored.scope, createdAt: stored.createdAt, lastUsedAt };
}

/**
 * Which tenant owns which session. Sessions an administrator created have no owner record: only administrators see
 * them. Every multi-key step stays in one slot: a session's tenant key is in `{s:<id>}`, a key's session list in
 * `{k:<key id>}`, and the two are written one after the other (a crash between them leaves at most a stale list
 * entry, which `reserve` prunes when the cap is reached).
 */
export class SessionTenants {
  constructor(
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
  ) {}

  /** The key id of the tenant that owns the session, or null (an administrator's session, or none). */
  async ownerOf(sessionId: string): Promise<string | null> {
    return this.redis.get(this.keys.sessionTenant(sessionId));
  }

  /** Whether `principal` may see the session: administrators see all; a tenant its own only. */
  async visibleTo(principal: Principal | undefined, sessionId: string): Promise<boolean> {
    const tenant = tenantOf(principal);
    return tenant === null || (await this.ownerOf(sessionId)) === tenant;
  }

  /**
   * Counts a new session against the key's cap (`max` 0: no cap): false when the key has `max` sessions already.
   * Atomic (one MULTI on the key's list): concurrent creates never pass the cap together.
   */
  async reserve(keyId: string, sessionId: string, max: number, sessionExists: (id: string) => Promise<boolean>): Promise<boolean> {
    const list = this.keys.keySessions(keyId);
    for (let attempt = 0; attempt < 2; attempt += 1) {
      const reply = await this.redis.multi().zadd(list, 'NX', this.now(), sessionId).zcard(list).exec();
      const added = Number(reply?.[0]?.[1] ?? 0);
      const count = Number(reply?.[1]?.[1] ?? 0);
      if (max === 0 || count <= max || added === 0) return true;
      await this.redis.zrem(list, sessionId);
      if (attempt > 0) return false;
      // At the cap: drop entries whose session is gone (a delete that stopped half-way), then try once more.
      const members = await this.redis.zrange(list, 0, -1);
      const gone: string[] = [];
      for (const member of members) if (!(await sessionExists(member))) gone.push(member);
      if (gone.length === 0) return false;
      await this.redis.zrem(list, ...gone);
    }
    return false;
  }

  /**
   * Marks the session as `keyId`'s before the session host creates it (a tenant; null: an administrator, whose
   * sessions have no owner record). The mark expires after `pendingMs` unless `settle` keeps it, so a create that
   * never came back leaves nothing. `taken`: another tenant is creating a session of that id right now. A mark left
   * without a session (a delete that stopped half-way) is stale and is replaced; the caller has checked that no
   * session of that id exists.
   */
  async claim(sessionId: string, keyId: string | null, pendingMs: number): Promise<'claimed' | 'taken'> {
    const key = this.keys.sessionTenant(sessionId);
    if (keyId !== null && (await this.redis.set(key, keyId, 'PX', pendingMs, 'NX')) === 'OK') return 'claimed';
    const [owner, ttl] = await Promise.all([this.redis.get(key), this.redis.pttl(key)]);
    if (owner === null) return keyId === null ? 'claimed' : this.claim(sessionId, keyId, pendingMs);
    if (owner !== keyId && ttl > 0) return 'taken';
    if (keyId === null) await this.redis.del(key);
    else await this.redis.set(key, keyId, 'PX', pendingMs);
    return 'claimed';
  }

  /** After the create: the mark stays for good when the session was made, else it goes (while still `keyId`'s). */
  async settle(sessionId: string, keyId: string | null, created: boolean): Promise<void> {
    if (keyId === null) return;
    const key = this.keys.sessionTenant(sessionId);
    if (created) {
      await this.redis.persist(key);
      return;
    }
    if ((await this.redis.get(key)) === keyId) await this.redis.del(key);
    await this.redis.zrem(this.keys.keySessions(keyId), sessionId);
  }

  /**
   * Forgets the session's owner and its place in the owner's list, once the session is gone. `owner` is what
   * `ownerOf` said before the delete: a mark that changed since (another create of the same id under way) stays.
   */
  async forget(sessionId: string, owner: string | null): Promise<void> {
    if (owner === null) return;
    const removed = await forgetTenantScript.run(this.redis, [this.keys.sessionTenant(sessionId)], [owner]);
    // The same owner making the same id again right now keeps its place in its list (and its count).
    if (removed === 1 || (await this.ownerOf(sessionId)) !== owner) await this.redis.zrem(this.keys.keySessions(owner), sessionId);
  }

  /** The sessions of one key, oldest first, `limit` at a time after `after` (a position this method gave). */
  /** (At most `limit` + 1 positions: one more than the page tells whether another page follows.) */
  async page(keyId: string, limit: number, after: { createdAtMs: number; id: string } | null): Promise<{ positions: Array<{ createdAtMs: number; id: string }> }> {
    const raw = await this.redis.zrangebyscore(this.keys.keySessions(keyId), after?.createdAtMs ?? '-inf', '+inf', 'WITHSCORES');
    const positions: Array<{ createdAtMs: number; id: string }> = [];
    for (let index = 0; index + 1 < raw.length; index += 2) {
      const id = raw[index] ?? '';
      const createdAtMs = Number(raw[index + 1]);
      if (after !== null && createdAtMs === after.createdAtMs && id <= after.id) continue;
      positions.push({ createdAtMs, id });
    }
    positions.sort((a, b) => a.createdAtMs - b.createdAtMs || a.id.localeCompare(b.id));
    return { positions: positions.slice(0, limit + 1) };
  }

  private now(): number {
    return Date.now();
  }
}
