/**
 * What a session has learnt of people's two identities (LID and phone). WhatsApp Web shows a person by either;
 * users want both on chats, contacts and senders. Lists read WhatsApp Web's own LID ↔ phone map in one page call
 * (no query to WhatsApp's servers); incoming messages use only what is known by then, with no call at all.
 */
import type WAWebJS from 'whatsapp-web.js';
import { isLid, numberOfChatId } from '../../../contract/api.js';
import { withTimeout } from '../../../lib/async.js';
import type { Logger } from '../../../lib/logger.js';
import type { IdentityLookup, KnownIdentity } from './convert.js';
import { DEFAULT_MEMORY, dropOldest } from './inbound-dedup.js';

const OWN_LID_TIMEOUT_MS = 5_000;

export class KnownIdentities {
  private readonly identities = new Map<string, KnownIdentity>();

  constructor(private readonly limit = DEFAULT_MEMORY) {}

  /** What the session knows beside an id (its LID, its phone), from WhatsApp Web's answers so far. */
  readonly lookup: IdentityLookup = (id) => this.identities.get(id);

  /** Remembers what is known of `id`, under each of its ids, without forgetting what an earlier answer told. */
  learn(id: string, identity: KnownIdentity): void {
    const merged: KnownIdentity = {
      lid: identity.lid ?? this.identities.get(id)?.lid ?? null,
      phone: identity.phone ?? this.identities.get(id)?.phone ?? null,
    };
    const keys = new Set([id]);
    if (merged.lid !== null) keys.add(merged.lid);
    if (merged.phone !== null) keys.add(`${merged.phone}@c.us`);
    for (const key of keys) {
      this.identities.delete(key);
      this.identities.set(key, merged);
    }
    dropOldest(this.identities, this.limit);
  }

  /** Reads WhatsApp Web's LID ↔ phone map for people's ids (groups and the like have none) and remembers it. */
  async lookUp(client: WAWebJS.Client, ids: string[]): Promise<void> {
    const people = [...new Set(ids.filter((id) => id.endsWith('@c.us') || isLid(id)))];
    const page = client.pupPage;
    if (people.length === 0 || !page) return;
    const found = await page.evaluate((wanted: string[]) => {
      type WidLike = { _serialized?: unknown; server?: unknown } | null | undefined;
      type Win = {
        require(name: 'WAWebWidFactory'): { createWid(id: string): WidLike };
        require(name: 'WAWebApiContact'): { getCurrentLid(wid: WidLike): WidLike; getPhoneNumber(wid: WidLike): WidLike };
      };
      const win = window as unknown as Win;
      const out: Array<{ id: string; lid: string | null; phone: string | null }> = [];
      for (const id of wanted) {
        try {
          const wid = win.require('WAWebWidFactory').createWid(id);
          if (!wid) continue;
          const api = win.require('WAWebApiContact');
          const lid = wid.server === 'lid' ? wid : api.getCurrentLid(wid);
          const phone = wid.server === 'lid' ? api.getPhoneNumber(wid) : wid;
          out.push({
            id,
            lid: lid && typeof lid._serialized === 'string' ? lid._serialized : null,
            phone: phone && typeof phone._serialized === 'string' ? phone._serialized : null,
          });
        } catch {
          // an id WhatsApp Web cannot place: nothing known
        }
      }
      return out;
    }, people);
    for (const entry of found) {
      this.learn(entry.id, { lid: entry.lid, phone: entry.phone === null ? null : numberOfChatId(entry.phone) });
    }
  }
}

/**
 * The account's own LID, or null: WhatsApp Web may have none for it, and `connected` must not wait long on an
 * extra it can do without.
 */
export async function ownLid(client: WAWebJS.Client, log: Logger): Promise<string | null> {
  const page = client.pupPage;
  if (!page) return null;
  try {
    return await withTimeout(
      page.evaluate(() => {
        type MeUser = { getMaybeMeLidUser?: () => { _serialized?: unknown } | null | undefined };
        const prefs = (window as unknown as { require(name: string): MeUser | undefined }).require('WAWebUserPrefsMeUser');
        const lid = prefs?.getMaybeMeLidUser?.();
        return lid && typeof lid._serialized === 'string' ? lid._serialized : null;
      }),
      { timeoutMs: OWN_LID_TIMEOUT_MS, what: 'reading the account LID' },
    );
  } catch (error) {
    log.debug({ err: error }, 'could not read the account LID');
    return null;
  }
}
