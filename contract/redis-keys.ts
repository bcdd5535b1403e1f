/**
 * Every Redis key and channel of the service, built in one place. All share a prefix (`KEY_PREFIX`, default `wa`)
 * so that several deployments, or several tests, can share one Redis without touching each other's keys.
 */
export interface RedisKeys {
  readonly prefix: string;
  /** Sorted set: every session id, scored by creation time (ms). */
  sessions: string;
  /** String: the SessionRecord JSON of one session. */
  session(sessionId: string): string;
  /** String with a TTL (the lease): the host id that owns the session. */
  sessionOwner(sessionId: string): string;
  /** Sorted set: host id → last heartbeat (ms). */
  hosts: string;
  /** String with a TTL: the HostInfo JSON of a live host. */
  host(hostId: string): string;
  /** Sorted set: recent placements of new sessions (`<host id>|<nonce>` → time), counted as load until heartbeats catch up. */
  placements: string;
  /** Pub/sub channel: a host id, each time a host withdraws or gives up a session (others look at once). */
  hostChanges: string;
  /** List: command envelopes waiting for that host (LPUSH in, BRPOP out). */
  hostInbox(hostId: string): string;
  /** Pub/sub channel: replies for one caller process. */
  replies(callerId: string): string;
  /** Stream: the event log of one session (capped). */
  events(sessionId: string): string;
  /** String with a TTL: an event with this key is in the session's log already (see append-event-3). */
  eventOnce(sessionId: string, onceKey: string): string;
  /** String with a TTL: the bytes (event JSON) the session's log holds, for its byte cap (append-event-3). */
  eventBytes(sessionId: string): string;
  /** Hash: one WebSocket connection (its filter, when it connected). */
  wsConnection(connectionId: string): string;
  /** String: simulator phone number → session id. */
  simulatorPhone(phone: string): string;
  /** String: simulator LID (digits) → session id. */
  simulatorLid(lid: string): string;
  /** String: the simulated account of a session (`{phone, lid, pushName}` JSON). */
  simulatorAccount(sessionId: string): string;
  /** List: a simulated session's mailbox (SimulatedMailItem JSON), delivered by whichever host runs it. */
  simulatorMailbox(sessionId: string): string;
  /** Set: simulated sessions whose mailbox is not empty. */
  simulatorPending: string;
  /** String with a TTL: a mailbox item already delivered (at least once, never shown twice). */
  simulatorDelivered(sessionId: string, itemKey: string): string;
  /** Set: pairs of simulated LIDs (`<low>:<high>`) that are contacts (one has messaged the other). */
  simulatorContacts: string;
  /** String: an Idempotency-Key's stored request hash and response. */
  idempotency(scope: string, key: string): string;
  /** Sorted set: a per-session send rate-limit window. */
  sendRate(sessionId: string): string;
  /** String: the at-most-once record of a send made under an Idempotency-Key. */
  sendLedger(sessionId: string, idempotencyKey: string): string;
  /**
   * String with a TTL: the lease on a host id, a random token of the one process that runs under it. Taken with
   * `SET NX PX`, renewed by that process's heartbeat only while the token is still its own.
   */
  hostLease(hostId: string): string;
  /** Hash: webhook id → the stored webhook JSON (its secret included: the hosts sign with it). */
  webhooks: string;
  /** Pub/sub channel: a webhook was created, deleted or replayed (`{kind, webhookId, sessionId?}` JSON). */
  webhookChanges: string;
  /** Hash: session id → since when (ms) the webhook's deliveries to that session fail; empty = `active`. */
  webhookFailing(webhookId: string): string;
  /** Hash: `<session id>/<event id>` → the Delivery JSON (capped: the newest kept). */
  webhookDeliveries(webhookId: string): string;
  /** Sorted set: `<session id>/<event id>` → updated (ms), of the deliveries of one status, or of all (`all`). */
  webhookDeliveryIndex(webhookId: string, status: 'all' | 'delivered' | 'failed' | 'dead'): string;
  /** Hash: webhook id → the id of the last event of this session delivered (or given up) to that webhook. */
  webhookCursors(sessionId: string): string;
  /** Hash: key id → the stored API key JSON (`{id, name, scope, createdAt, digest}`; the digest, never the secret). */
  apiKeys: string;
  /** Hash: hex SHA-256 digest of a key's secret → its key id (how a presented key is found). */
  apiKeyDigests: string;
  /** Hash: key id → when a request last presented it (ISO time, written at most once a minute per function instance). */
  apiKeyLastUsed: string;
  /** String: the key id of the tenant that owns the session (none: an administrator's session). */
  sessionTenant(sessionId: string): string;
  /** Sorted set: the sessions a key created (session id → when), for its list and its cap. */
  keySessions(keyId: string): string;
  /** Sorted set: a key's Idempotency-Key records (record key → expiry ms), for its cap; has a TTL. */
  keyIdempotencyIndex(keyId: string): string;
  /** Sorted set: a per-key request rate window (sliding-window-1). */
  keyRate(keyId: string): string;
  /** Sorted set: failed key checks from one client address (sliding window); has a TTL. */
  failedKeyChecks(address: string): string;
  /** Sorted set: administrator connections with no subscription (connection id → expiry ms of its record). */
  wsAdminUnfiltered: string;
  /** Sorted set: one tenant's connections with no subscription (connection id → expiry ms of its record). */
  wsTenantUnfiltered(keyId: string): string;
  /** Sorted set: connections that follow one session (`<connection id>` or `<connection id>|<key id>` → expiry ms). */
  wsFollowers(sessionId: string): string;
  /** Sorted set: the connections opened with one stored key (connection id → expiry ms), dropped when it is revoked. */
  wsByKey(keyId: string): string;
}

export function redisKeys(prefix = 'wa'): RedisKeys {
  // Hash tags choose the Redis Cluster slot: every key of one session shares `{s:<id>}`, every key of one host
  // `{h:<id>}` (its heartbeat, lease and inbox), every key of one webhook `{w:<id>}`, the WebSocket registry `{ws}`
  // and the simulated network `{sim}`; so each multi-key script or MULTI stays within one slot (docs/architecture.md).
  const s = (sessionId: string) => `${prefix}:{s:${sessionId}}`;
  const h = (hostId: string) => `${prefix}:{h:${hostId}}`;
  return {
    prefix,
    sessions: `${prefix}:sessions`,
    session: (id) => `${s(id)}:record`,
    sessionOwner: (id) => `${s(id)}:owner`,
    hosts: `${prefix}:hosts`,
    host: (hostId) => `${h(hostId)}:host`,
    placements: `${prefix}:placements`,
    hostChanges: `${prefix}:host-changes`,
    hostInbox: (hostId) => `${h(hostId)}:inbox`,
    replies: (callerId) => `${prefix}:replies:${callerId}`,
    events: (id) => `${s(id)}:events`,
    eventOnce: (id, onceKey) => `${s(id)}:once:${onceKey}`,
    eventBytes: (id) => `${s(id)}:event-bytes`,
    wsConnection: (connectionId) => `${prefix}:{ws}:conn:${connectionId}`,
    simulatorPhone: (phone) => `${prefix}:{sim}:phone:${phone}`,
    simulatorLid: (lid) => `${prefix}:{sim}:lid:${lid}`,
    simulatorAccount: (sessionId) => `${prefix}:{sim}:account:${sessionId}`,
    simulatorContacts: `${prefix}:{sim}:contacts`,
    simulatorMailbox: (sessionId) => `${prefix}:{sim}:mailbox:${sessionId}`,
    simulatorPending: `${prefix}:{sim}:pending`,
    simulatorDelivered: (sessionId, itemKey) => `${prefix}:{sim}:delivered:${sessionId}:${itemKey}`,
    idempotency: (scope, key) => `${prefix}:idem:${scope}:${key}`,
    sendRate: (id) => `${s(id)}:send-rate`,
    sendLedger: (id, idempotencyKey) => `${s(id)}:sent:${idempotencyKey}`,
    hostLease: (hostId) => `${h(hostId)}:lease`,
    webhooks: `${prefix}:webhooks`,
    webhookChanges: `${prefix}:webhook-changes`,
    // One webhook's keys share a hash tag, so its delivery record and indexes are written by one script.
    webhookFailing: (webhookId) => `${prefix}:{w:${webhookId}}:failing`,
    webhookDeliveries: (webhookId) => `${prefix}:{w:${webhookId}}:deliveries`,
    webhookDeliveryIndex: (webhookId, status) => `${prefix}:{w:${webhookId}}:deliveries:${status}`,
    webhookCursors: (id) => `${s(id)}:webhook-cursors`,
    // The key registry's hashes share a hash tag, so a key and its digest are written and revoked in one MULTI.
    apiKeys: `${prefix}:{api-keys}:records`,
    apiKeyDigests: `${prefix}:{api-keys}:digests`,
    apiKeyLastUsed: `${prefix}:{api-keys}:last-used`,
    sessionTenant: (id) => `${s(id)}:tenant`,
    keySessions: (keyId) => `${prefix}:{k:${keyId}}:sessions`,
    keyIdempotencyIndex: (keyId) => `${prefix}:{k:${keyId}}:idempotency`,
    keyRate: (keyId) => `${prefix}:{k:${keyId}}:rate`,
    failedKeyChecks: (address) => `${prefix}:auth-failures:${address}`,
    // The WebSocket registry's slot (`{ws}`), with the connection records: one MULTI writes a connection and its sets.
    wsAdminUnfiltered: `${prefix}:{ws}:all`,
    wsTenantUnfiltered: (keyId) => `${prefix}:{ws}:all:${keyId}`,
    wsFollowers: (id) => `${prefix}:{ws}:followers:${id}`,
    wsByKey: (keyId) => `${prefix}:{ws}:key:${keyId}`,
  };
}
