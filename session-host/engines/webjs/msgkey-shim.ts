/**
 * The message-id shim: whatsapp-web.js 1.34.7 reads a message key's serialized id as `key._serialized`, page side and
 * Node side. WhatsApp Web builds from July 2026 on (2.3000.1042401057+) store it under a minified name instead (`$1`
 * in the builds seen so far, `toString()` returns it); chat and contact ids (`WAWebWid`) kept `_serialized`.
 *
 * Nothing here depends on the minified name: both halves find the field BY VALUE, on a key whose serialized form is
 * known, and both step aside by themselves once `_serialized` is there again (WhatsApp, or an upstream fix).
 *
 * - Page side (`patchMsgKeyClass`, run in the page through `msgKeyShimExpression`): builds a throwaway key the way
 *   whatsapp-web.js builds keys, finds the own property whose value is `${fromMe}_${remote}_${id}`, and installs on
 *   the class's prototype a `_serialized` getter (and a setter writing that field) and a `toJSON` carrying
 *   `_serialized`, so `Msg.get(key._serialized)`, `getMessagesById([key._serialized])` and exposeFunction payloads
 *   work again.
 * - Node side (`normaliseMsgKey`, applied by `installNodeMsgKeyShim` to every whatsapp-web.js `Message`): key objects
 *   reach Node as plain copies of their own enumerable properties (CDP value serialisation in page.evaluate,
 *   `Object.assign({}, msg.id, …)` in the library's getMessageModel), so a prototype getter does not travel; the
 *   normaliser gives such a key the `_serialized` it finds by value.
 */

/** What the page-side shim did; the engine logs it once per client. */
export interface MsgKeyShimReport {
  patched: boolean;
  /** The property that holds the serialized id (or `toString()` when only that gives it). */
  alias?: string;
  reason?: string;
}

type MsgKeyClass = new (init: Record<string, unknown>) => object;

/**
 * Page side, self-contained (it runs in the page through its source text: no imports, no closures, no named inner
 * functions). `MsgKey` is `window.require('WAWebMsgKey')`; `createWid` makes a Wid from `<digits>@c.us`.
 */
export function patchMsgKeyClass(MsgKey: unknown, createWid: (id: string) => unknown): MsgKeyShimReport {
  const MARK = '__waGatewayMsgKeyShim';
  if (typeof MsgKey !== 'function' || MsgKey.prototype === null || typeof MsgKey.prototype !== 'object') {
    return { patched: false, reason: 'WAWebMsgKey is not loaded' };
  }
  const proto = MsgKey.prototype as Record<string, unknown>;
  if (Object.hasOwn(proto, MARK)) {
    return { patched: true, alias: String(proto[MARK]), reason: 'already installed' };
  }
  const remote = createWid('15550000000@c.us') as { _serialized?: unknown } | null;
  const remoteId = remote !== null && typeof remote === 'object' ? remote._serialized : undefined;
  if (typeof remoteId !== 'string') return { patched: false, reason: 'WAWebWidFactory gave no Wid with _serialized' };
  const probeId = `3EB0SHIMPROBE${Math.floor(Math.random() * 1e9)}`;
  const expected = `true_${remoteId}_${probeId}`;
  const Ctor = MsgKey as unknown as MsgKeyClass;
  let key: Record<string, unknown> | null = null;
  // As WWebJS.sendMessage builds keys; then the older {fromMe, remote, id} form.
  for (const init of [
    { from: createWid('15550000001@c.us'), to: remote, id: probeId, participant: undefined, selfDir: 'out' },
    { fromMe: true, remote, id: probeId },
  ]) {
    try {
      key = new Ctor(init) as Record<string, unknown>;
      break;
    } catch {
      key = null;
    }
  }
  if (key === null) return { patched: false, reason: 'a probe key could not be constructed' };
  if (key._serialized === expected) {
    return {
      patched: false,
      alias: '_serialized',
      reason: Object.hasOwn(key, '_serialized')
        ? 'message keys have _serialized (nothing to do)'
        : '_serialized already resolves on the prototype (fixed elsewhere)',
    };
  }
  const alias = Object.getOwnPropertyNames(key).find((name) => name !== '_serialized' && key?.[name] === expected);
  let viaToString = false;
  if (alias === undefined) {
    try {
      viaToString = String(key) === expected;
    } catch {
      viaToString = false;
    }
    if (!viaToString) return { patched: false, reason: `no field of a message key holds its serialized id (${expected})` };
  }
  Object.defineProperty(proto, '_serialized', {
    configurable: true,
    enumerable: false,
    get(this: Record<string, unknown>) {
      return alias === undefined ? String(this) : this[alias];
    },
    set(this: Record<string, unknown>, value: unknown) {
      if (alias !== undefined) this[alias] = value;
      else Object.defineProperty(this, '_serialized', { value, writable: true, enumerable: false, configurable: true });
    },
  });
  const previousToJSON = typeof proto.toJSON === 'function' ? (proto.toJSON as (this: unknown) => unknown) : null;
  Object.defineProperty(proto, 'toJSON', {
    configurable: true,
    enumerable: false,
    writable: true,
    value(this: Record<string, unknown>) {
      const base = previousToJSON === null ? Object.assign({}, this) : previousToJSON.call(this);
      if (base === null || typeof base !== 'object') return base;
      return Object.assign({}, base, { _serialized: this._serialized });
    },
  });
  Object.defineProperty(proto, MARK, { value: alias ?? 'toString()', enumerable: false, configurable: true });
  return { patched: true, alias: alias ?? 'toString()' };
}

/**
 * The expression page.evaluate runs: the page-side shim applied to the page's own modules. A string, so the
 * function travels as its source text (page.evaluate with a function would too; this also passes arguments the page
 * must resolve itself).
 */
export const msgKeyShimExpression =
  `(${patchMsgKeyClass.toString()})(` +
  `typeof window.require === 'function' ? window.require('WAWebMsgKey') : undefined, ` +
  `(id) => window.require('WAWebWidFactory').createWid(id))`;

// ---------------------------------------------------------------------------------------------------------------
// Node side

function serializedWid(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (value !== null && typeof value === 'object') {
    const inner = (value as { _serialized?: unknown })._serialized;
    if (typeof inner === 'string') return inner;
  }
  return undefined;
}

/**
 * Gives a message key object that reached Node a `_serialized`, found by value: the string field equal to
 * `${fromMe}_${remote}_${id}` (plus `_${participant}` when there is one). No-op when `_serialized` is there.
 * When no field holds it (a build that keeps it nowhere in the key), it is composed from the key's parts.
 * Returns the serialized id ('' when the key has no parts to go by).
 */
export function normaliseMsgKey(key: unknown): string {
  if (key === null || typeof key !== 'object') return typeof key === 'string' ? key : '';
  const record = key as Record<string, unknown>;
  const present = record._serialized;
  if (typeof present === 'string' && present !== '') return present;
  const remote = serializedWid(record.remote);
  const id = record.id;
  if (typeof record.fromMe !== 'boolean' || remote === undefined || typeof id !== 'string') return '';
  const participant = serializedWid(record.participant);
  const base = `${record.fromMe}_${remote}_${id}`;
  const expected = participant === undefined || participant === '' ? base : `${base}_${participant}`;
  const fields = Object.keys(record).filter((name) => typeof record[name] === 'string');
  const found =
    fields.find((name) => record[name] === expected) ??
    // The participant may be spelled differently (device suffix, LID); the key's own form wins.
    fields.find((name) => name !== 'id' && (record[name] as string).startsWith(`${base}_`)) ??
    fields.find((name) => name !== 'id' && record[name] === base);
  const value = found === undefined ? expected : (record[found] as string);
  record._serialized = value;
  return value;
}

const NODE_MARK = Symbol.for('wa-gateway.msgkey-shim');

interface PatchableMessagePrototype {
  _patch(this: { id?: unknown; _data?: unknown }, data: unknown): unknown;
  [NODE_MARK]?: true;
}

/**
 * Makes every whatsapp-web.js `Message` normalise its key when built or re-patched (`Message.prototype._patch`),
 * so the library's own Node-side reads of `message.id._serialized` (reply, react, download...) work too. Once per
 * process, idempotent; a no-op per message when `_serialized` is already there.
 */
export function installNodeMsgKeyShim(MessageClass: { prototype: object }): boolean {
  const proto = MessageClass.prototype as PatchableMessagePrototype;
  if (proto[NODE_MARK] === true) return false;
  const original = proto._patch;
  if (typeof original !== 'function') return false;
  proto._patch = function patchWithNormalisedKey(this: { id?: unknown }, data: unknown) {
    if (data !== null && typeof data === 'object') {
      const record = data as { id?: unknown; protocolMessageKey?: unknown };
      normaliseMsgKey(record.id);
      if (record.protocolMessageKey !== undefined) normaliseMsgKey(record.protocolMessageKey);
    }
    const result = original.call(this, data);
    normaliseMsgKey(this.id);
    return result;
  };
  Object.defineProperty(proto, NODE_MARK, { value: true, enumerable: false });
  return true;
}
