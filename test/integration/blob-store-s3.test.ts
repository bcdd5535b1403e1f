/** The S3 blob store against a real S3-compatible server (s3rver, in-process on 127.0.0.1, a free port). */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import S3rver from 's3rver';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { collectBytes, InvalidBlobKeyError } from '../../lib/blob-store.js';
import { S3BlobStore } from '../../lib/blob-store-s3.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

const bucket = 'media-test';
let server: S3rver | undefined;
let directory = '';
let store: S3BlobStore;

beforeAll(async () => {
  directory = mkdtempSync(join(tmpdir(), 's3rver-'));
  server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory,
    configureBuckets: [{ name: bucket, configs: [] }],
  });
  const { port } = await server.run();
  store = new S3BlobStore({
    bucket,
    region: 'us-east-1',
    endpoint: `http://127.0.0.1:${port}`,
    forcePathStyle: true,
    // s3rver's fixed credentials.
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  });
});

afterAll(async () => {
  await store?.close();
  await server?.close();
  if (directory !== '') rmSync(directory, { recursive: true, force: true });
});

describe('S3BlobStore against s3rver', () => {
  it('puts bytes and gets them back identical, with type, filename and size', async () => {
    const bytes = randomBytes(300_000);
    const put = await store.put('sessions/alice/media/one.jpg', bytes, {
      contentType: 'image/jpeg',
      filename: 'photo été.jpg',
      expiresAt: new Date(Date.now() + 86_400_000),
    });
    expect(put).toEqual({ key: 'sessions/alice/media/one.jpg', size: bytes.byteLength });
    const got = await store.get('sessions/alice/media/one.jpg');
    expect(got).not.toBeNull();
    if (got === null) return;
    expect(got.contentType).toBe('image/jpeg');
    expect(got.filename).toBe('photo été.jpg');
    expect(got.size).toBe(bytes.byteLength);
    expect((await collectBytes(got.stream)).equals(bytes)).toBe(true);
  });

  it('puts a stream', async () => {
    const bytes = randomBytes(70_000);
    const put = await store.put('stream/doc.pdf', Readable.from([bytes.subarray(0, 1000), bytes.subarray(1000)]), {
      contentType: 'application/pdf',
    });
    expect(put.size).toBe(bytes.byteLength);
    const got = await store.get('stream/doc.pdf');
    expect(got?.filename).toBeNull();
    expect(got === null ? null : (await collectBytes(got.stream)).equals(bytes)).toBe(true);
  });

  it('answers null for a missing object, and for one past its expiry before the lifecycle rule runs', async () => {
    expect(await store.get('nothing/here')).toBeNull();
    expect(await store.signedUrl('nothing/here', { expiresInSeconds: 60 })).toBeNull();
    await store.put('expired/a.txt', Buffer.from('old'), { contentType: 'text/plain', expiresAt: new Date(Date.now() - 1000) });
    expect(await store.get('expired/a.txt')).toBeNull();
    expect(await store.sweepExpired(new Date())).toBe(0);
  });

  it('presigns a GET that plain fetch can use, and that stops working once it expires', async () => {
    const bytes = randomBytes(10_000);
    await store.put('signed/voice.ogg', bytes, { contentType: 'audio/ogg', filename: 'voice.ogg' });

    const url = await store.signedUrl('signed/voice.ogg', { expiresInSeconds: 60 });
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/media-test\/signed\/voice\.ogg\?/);
    const response = await fetch(url ?? '');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('audio/ogg');
    expect(response.headers.get('content-disposition')).toContain('voice.ogg');
    expect(Buffer.from(await response.arrayBuffer()).equals(bytes)).toBe(true);

    const short = await store.signedUrl('signed/voice.ogg', { expiresInSeconds: 1 });
    // Polled: the URL must stop working soon after its second, whatever the exact moment.
    const deadline = Date.now() + 15_000;
    let status = 200;
    let answer = '';
    while (Date.now() < deadline) {
      const attempt = await fetch(short ?? '');
      answer = await attempt.text();
      status = attempt.status;
      if (status !== 200) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(status).toBe(403);
    expect(answer).toContain('Request has expired'); // refused for its age, not for its signature
    await expect(store.signedUrl('signed/voice.ogg', { expiresInSeconds: 86_400 })).rejects.toThrow(RangeError);
  });

  it('presigns what a sender called HTML or SVG as an attachment of no type the browser renders', async () => {
    for (const contentType of ['text/html', 'image/svg+xml']) {
      const key = `signed/page-${contentType.replace(/\W/g, '-')}`;
      await store.put(key, Buffer.from('<script>alert(1)</script>'), { contentType });
      const response = await fetch((await store.signedUrl(key, { expiresInSeconds: 60 })) ?? '');
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe('application/octet-stream');
      expect(response.headers.get('content-disposition')).toBe('attachment');
      await response.arrayBuffer();
    }
  });

  it('deletes', async () => {
    await store.put('gone/x.bin', Buffer.from([1, 2, 3]), { contentType: 'application/octet-stream' });
    await store.delete('gone/x.bin');
    expect(await store.get('gone/x.bin')).toBeNull();
    await store.delete('gone/x.bin');
  });

  it('refuses invalid keys before any request', async () => {
    for (const key of ['../etc/passwd', '/abs', 'a//b', 'a/../b', 'sp ace', 'é', '']) {
      await expect(store.put(key, Buffer.from('x'), { contentType: 'text/plain' })).rejects.toBeInstanceOf(InvalidBlobKeyError);
      await expect(store.get(key)).rejects.toBeInstanceOf(InvalidBlobKeyError);
    }
  });
});
