/** The local blob store: files under a directory of the test's own, 0600 in 0700, sidecar metadata, the sweep. */
import { randomBytes } from 'node:crypto';
import { promises as fs, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { collectBytes, contentDisposition, InvalidBlobKeyError, validateBlobKey } from '../../lib/blob-store.js';
import { LocalBlobStore } from '../../lib/blob-store-local.js';

const root = mkdtempSync(join(tmpdir(), 'blob-local-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const fresh = () => new LocalBlobStore(join(root, randomBytes(4).toString('hex'), 'media'));

describe('LocalBlobStore', () => {
  it('puts bytes and a stream and gets them back identical, with metadata', async () => {
    const store = fresh();
    const bytes = randomBytes(200_000);
    expect(await store.put('s/alice/a.jpg', bytes, { contentType: 'image/jpeg', filename: 'a b.jpg' })).toEqual({
      key: 's/alice/a.jpg',
      size: bytes.byteLength,
    });
    const got = await store.get('s/alice/a.jpg');
    expect(got?.contentType).toBe('image/jpeg');
    expect(got?.filename).toBe('a b.jpg');
    expect(got?.size).toBe(bytes.byteLength);
    expect(got === null ? null : (await collectBytes(got.stream)).equals(bytes)).toBe(true);

    const streamed = randomBytes(50_000);
    const put = await store.put('s/alice', Readable.from([streamed.subarray(0, 7), streamed.subarray(7)]), {
      contentType: 'application/pdf',
      filename: '../../etc/passwd',
    });
    expect(put.size).toBe(streamed.byteLength);
    const again = await store.get('s/alice');
    expect(again?.filename).toBe('passwd');
    expect(again === null ? null : (await collectBytes(again.stream)).equals(streamed)).toBe(true);

    // A put replaces.
    await store.put('s/alice', Buffer.from('new'), { contentType: 'text/plain' });
    const replaced = await store.get('s/alice');
    expect(replaced === null ? null : (await collectBytes(replaced.stream)).toString()).toBe('new');
  });

  it('writes 0600 files in a 0700 directory, and no signed URL', async () => {
    const store = fresh();
    await store.put('k/one', Buffer.from('x'), { contentType: 'text/plain' });
    expect((await fs.stat(store.directory)).mode & 0o777).toBe(0o700);
    const names = await fs.readdir(store.directory);
    expect(names).toHaveLength(2); // the bytes and the sidecar
    for (const name of names) expect((await fs.stat(join(store.directory, name))).mode & 0o777).toBe(0o600);
    expect(await store.signedUrl('k/one')).toBeNull();
  });

  it('hides expired objects and sweeps them, keeping the others', async () => {
    const store = fresh();
    const now = Date.now();
    await store.put('e/old', Buffer.from('old'), { contentType: 'text/plain', expiresAt: new Date(now + 60_000) });
    await store.put('e/new', Buffer.from('new'), { contentType: 'text/plain', expiresAt: new Date(now + 3_600_000) });
    await store.put('e/none', Buffer.from('kept'), { contentType: 'text/plain' });
    expect(await store.sweepExpired(new Date(now))).toBe(0);
    expect(await store.sweepExpired(new Date(now + 120_000))).toBe(1);
    expect(await store.get('e/old')).toBeNull();
    expect(await store.get('e/new')).not.toBeNull();
    expect(await store.get('e/none')).not.toBeNull();
    expect(await fs.readdir(store.directory)).toHaveLength(4);

    await store.put('e/past', Buffer.from('p'), { contentType: 'text/plain', expiresAt: new Date(now - 1) });
    expect(await store.get('e/past')).toBeNull();
    expect(await fresh().sweepExpired()).toBe(0); // a directory not created yet
  });

  it('deletes, and a missing object is null', async () => {
    const store = fresh();
    expect(await store.get('nothing')).toBeNull();
    await store.put('d/x', Buffer.from('x'), { contentType: 'text/plain' });
    await store.delete('d/x');
    expect(await store.get('d/x')).toBeNull();
    await store.delete('d/x');
    expect(await fs.readdir(store.directory)).toHaveLength(0);
  });

  it('refuses invalid keys', async () => {
    const store = fresh();
    for (const key of ['..', '../x', 'a/../../b', '/etc/passwd', 'a/./b', 'a//b', 'a\\b', 'a b', 'ü', '', 'x'.repeat(513)]) {
      expect(() => validateBlobKey(key), key).toThrow(InvalidBlobKeyError);
      await expect(store.put(key, Buffer.from('x'), { contentType: 'text/plain' })).rejects.toBeInstanceOf(InvalidBlobKeyError);
      await expect(store.get(key)).rejects.toBeInstanceOf(InvalidBlobKeyError);
      await expect(store.delete(key)).rejects.toBeInstanceOf(InvalidBlobKeyError);
    }
    for (const key of ['a', 'sessions/alice/3EB0_ABC.jpg', 'a-b_c.d/e']) expect(validateBlobKey(key)).toBe(key);
  });

  it('builds a Content-Disposition with an ASCII fallback and the UTF-8 name', () => {
    expect(contentDisposition(null)).toBe('attachment');
    expect(contentDisposition('rapport "été".pdf')).toBe(
      `attachment; filename="rapport __t__.pdf"; filename*=UTF-8''rapport%20%22%C3%A9t%C3%A9%22.pdf`,
    );
  });
});
