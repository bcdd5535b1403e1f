/**
 * The message-id shim without a browser: the page-side half against FAKE WAWebMsgKey classes (a minified field
 * other than `$1`, the old `_serialized`, an upstream getter), also run from its source text in a fresh V8 context
 * as page.evaluate runs it; and the Node-side normaliser on the key objects that reach Node.
 */
import { runInNewContext } from 'node:vm';
import wwebjs from 'whatsapp-web.js';
import { describe, expect, it } from 'vitest';
import {
  installNodeMsgKeyShim,
  msgKeyShimExpression,
  normaliseMsgKey,
  patchMsgKeyClass,
  type MsgKeyShimReport,
} from '../../session-host/engines/webjs/msgkey-shim.js';

class FakeWid {
  readonly server: string;
  readonly user: string;
  readonly _serialized: string;
  constructor(id: string) {
    const [user = '', server = 'c.us'] = id.split('@');
    this.user = user;
    this.server = server;
    this._serialized = `${user}@${server}`;
  }
  toString(): string {
    return this._serialized;
  }
}
const createWid = (id: string) => new FakeWid(id);

interface KeyInit {
  from?: FakeWid;
  to?: FakeWid;
  id: string;
  participant?: FakeWid;
  selfDir?: string;
  fromMe?: boolean;
  remote?: FakeWid;
}

/** A MsgKey as July-2026 builds have it, with the serialized id in the minified field `field`. */
function minifiedMsgKey(field: string) {
  return class MsgKey {
    fromMe: boolean;
    remote: FakeWid;
    id: string;
    participant?: FakeWid;
    [name: string]: unknown;
    constructor(init: KeyInit) {
      this.fromMe = init.selfDir !== undefined ? init.selfDir === 'out' : Boolean(init.fromMe);
      const remote = init.selfDir !== undefined ? (this.fromMe ? init.to : init.from) : init.remote;
      if (!remote) throw new Error('no remote');
      this.remote = remote;
      this.id = init.id;
      if (init.participant) this.participant = init.participant;
      const parts = [String(this.fromMe), remote._serialized, init.id];
      if (init.participant) parts.push(init.participant._serialized);
      this[field] = parts.join('_');
    }
    toString(): string {
      return String(this[field]);
    }
  };
}

/** A MsgKey as builds before July 2026 have it. */
class OldMsgKey {
  fromMe: boolean;
  remote: FakeWid;
  id: string;
  _serialized: string;
  constructor(init: KeyInit) {
    this.fromMe = init.selfDir === 'out';
    const remote = this.fromMe ? init.to : init.from;
    if (!remote) throw new Error('no remote');
    this.remote = remote;
    this.id = init.id;
    this._serialized = `${this.fromMe}_${remote._serialized}_${init.id}`;
  }
}

const ALICE = createWid('15550100001@c.us');

describe('page side: patchMsgKeyClass', () => {
  it('finds a minified field other than $1 by value and makes _serialized, writes and JSON work', () => {
    const MsgKey = minifiedMsgKey('$7');
    const report = patchMsgKeyClass(MsgKey, createWid);
    expect(report).toEqual({ patched: true, alias: '$7' });

    const key = new MsgKey({ from: createWid('15550009999@c.us'), to: ALICE, id: 'ABC', selfDir: 'out' }) as InstanceType<typeof MsgKey> & {
      _serialized: string;
    };
    expect(key._serialized).toBe('true_15550100001@c.us_ABC');
    expect(String(key)).toBe(key._serialized);
    // What whatsapp-web.js does with it: a collection keyed by the serialized id finds the message.
    const byId = new Map([[String(key), 'the message']]);
    expect(byId.get(key._serialized)).toBe('the message');
    // exposeFunction payloads go through JSON.stringify: _serialized travels.
    expect(JSON.parse(JSON.stringify({ id: key }))).toMatchObject({
      id: { fromMe: true, id: 'ABC', remote: { _serialized: '15550100001@c.us' }, $7: 'true_15550100001@c.us_ABC', _serialized: 'true_15550100001@c.us_ABC' },
    });
    // A write through _serialized lands in the field WhatsApp reads.
    key._serialized = 'true_15550100001@c.us_XYZ';
    expect(key.$7).toBe('true_15550100001@c.us_XYZ');
    expect(Object.keys(key)).not.toContain('_serialized');

    // Keys with a participant (groups) too.
    const group = new MsgKey({ fromMe: false, remote: createWid('1203630001@g.us'), id: 'G1', participant: ALICE }) as unknown as {
      _serialized: string;
    };
    expect(group._serialized).toBe('false_1203630001@g.us_G1_15550100001@c.us');

    // Once per class: a second run (after every inject) leaves it as it is.
    expect(patchMsgKeyClass(MsgKey, createWid)).toEqual({ patched: true, alias: '$7', reason: 'already installed' });
  });

  it('works with a one-letter minified name too, and never looks for `$1` by name', () => {
    const MsgKey = minifiedMsgKey('k');
    expect(patchMsgKeyClass(MsgKey, createWid)).toEqual({ patched: true, alias: 'k' });
    const key = new MsgKey({ from: ALICE, to: createWid('15550009999@c.us'), id: 'IN1', selfDir: 'in' }) as unknown as { _serialized: string };
    expect(key._serialized).toBe('false_15550100001@c.us_IN1');
  });

  it('steps aside when keys have _serialized (builds before July 2026)', () => {
    const report = patchMsgKeyClass(OldMsgKey, createWid);
    expect(report.patched).toBe(false);
    expect(report.reason).toMatch(/nothing to do/);
    expect(Object.getOwnPropertyDescriptor(OldMsgKey.prototype, '_serialized')).toBeUndefined();
    expect(Object.getOwnPropertyDescriptor(OldMsgKey.prototype, 'toJSON')).toBeUndefined();
  });

  it('steps aside when _serialized already resolves on the prototype (WhatsApp or upstream fixed it)', () => {
    const MsgKey = minifiedMsgKey('$1');
    const upstreamGetter = {
      get(this: { $1: unknown }) {
        return this.$1;
      },
      configurable: true,
    };
    Object.defineProperty(MsgKey.prototype, '_serialized', upstreamGetter);
    const report = patchMsgKeyClass(MsgKey, createWid);
    expect(report).toMatchObject({ patched: false, reason: expect.stringMatching(/prototype/) });
    expect(Object.getOwnPropertyDescriptor(MsgKey.prototype, '_serialized')?.get).toBe(upstreamGetter.get);
  });

  it('falls back to toString() when no field holds the id, and says so when nothing does', () => {
    class OnlyToString {
      constructor(private readonly init: KeyInit) {}
      toString(): string {
        return `true_${this.init.to?._serialized ?? ''}_${this.init.id}`;
      }
    }
    expect(patchMsgKeyClass(OnlyToString, createWid)).toEqual({ patched: true, alias: 'toString()' });
    class Opaque {
      readonly x = 'something else';
    }
    expect(patchMsgKeyClass(Opaque, createWid)).toMatchObject({ patched: false, reason: expect.stringMatching(/no field/) });
    expect(patchMsgKeyClass(undefined, createWid)).toMatchObject({ patched: false, reason: expect.stringMatching(/not loaded/) });
  });

  it('runs from its source text with nothing but the page (no closures over Node values)', () => {
    const MsgKey = minifiedMsgKey('$q');
    const page = {
      window: {
        require: (name: string) => (name === 'WAWebMsgKey' ? MsgKey : name === 'WAWebWidFactory' ? { createWid } : undefined),
      },
    };
    const report = runInNewContext(msgKeyShimExpression, page) as MsgKeyShimReport;
    expect({ ...report }).toEqual({ patched: true, alias: '$q' });
    const key = new MsgKey({ from: ALICE, to: ALICE, id: 'VM', selfDir: 'out' }) as unknown as { _serialized: string };
    expect(key._serialized).toBe('true_15550100001@c.us_VM');
    // A page without WhatsApp's modules loaded yet: a report, not an exception.
    expect({ ...(runInNewContext(msgKeyShimExpression, { window: { require: () => undefined } }) as MsgKeyShimReport) }).toMatchObject({
      patched: false,
    });
  });
});

describe('Node side: normaliseMsgKey and the Message patch', () => {
  it('finds the serialized id by value in the key objects that reach Node', () => {
    // As page.evaluate returns a key (own enumerable properties, remote still a Wid-like object).
    const fromEvaluate: Record<string, unknown> = { fromMe: true, remote: { _serialized: '15550100001@c.us' }, id: 'A1', $9: 'true_15550100001@c.us_A1' };
    expect(normaliseMsgKey(fromEvaluate)).toBe('true_15550100001@c.us_A1');
    expect(fromEvaluate._serialized).toBe('true_15550100001@c.us_A1');
    // As getMessageModel hands it over (remote already a string), in a group.
    const fromModel: Record<string, unknown> = {
      fromMe: false,
      remote: '1203630001@g.us',
      id: 'G2',
      participant: { _serialized: '123456789@lid' },
      zz: 'false_1203630001@g.us_G2_123456789@lid',
    };
    expect(normaliseMsgKey(fromModel)).toBe('false_1203630001@g.us_G2_123456789@lid');
  });

  it('goes by value, not by the name $1', () => {
    const key: Record<string, unknown> = { fromMe: false, remote: '15550100002@c.us', id: 'B1', $1: 'stale', k: 'false_15550100002@c.us_B1' };
    expect(normaliseMsgKey(key)).toBe('false_15550100002@c.us_B1');
  });

  it('is a no-op when _serialized is there, and composes the id when no field holds it', () => {
    const old = { fromMe: true, remote: '15550100001@c.us', id: 'C1', _serialized: 'true_15550100001@c.us_C1' };
    expect(normaliseMsgKey(old)).toBe('true_15550100001@c.us_C1');
    expect(old).toEqual({ fromMe: true, remote: '15550100001@c.us', id: 'C1', _serialized: 'true_15550100001@c.us_C1' });
    const bare: Record<string, unknown> = { fromMe: false, remote: '15550100001@c.us', id: 'D1' };
    expect(normaliseMsgKey(bare)).toBe('false_15550100001@c.us_D1');
    expect(normaliseMsgKey(undefined)).toBe('');
    expect(normaliseMsgKey({ what: 'not a key' })).toBe('');
  });

  it('patches whatsapp-web.js Message once: every message built in Node has id._serialized', () => {
    const MessageClass = (wwebjs as unknown as { Message: new (client: unknown, data: object) => { id: { _serialized?: string }; from: string } })
      .Message;
    installNodeMsgKeyShim(MessageClass);
    expect(installNodeMsgKeyShim(MessageClass)).toBe(false); // idempotent
    const message = new MessageClass(
      {},
      { id: { fromMe: false, remote: '15550100002@c.us', id: 'E1', $3: 'false_15550100002@c.us_E1' }, from: '15550100002@c.us', type: 'chat', body: 'hi', t: 1 },
    );
    expect(message.id._serialized).toBe('false_15550100002@c.us_E1');
    const old = new MessageClass({}, { id: { fromMe: true, remote: 'x@c.us', id: 'F1', _serialized: 'true_x@c.us_F1' }, type: 'chat', t: 1 });
    expect(old.id._serialized).toBe('true_x@c.us_F1');
  });
});
