/**
 * The blob store both sides use, from the environment: S3 where `MEDIA_BUCKET` is set (a deployment; the session
 * hosts' task role and the functions' role may read and write it), else a directory (`MEDIA_DIR`, default
 * `data/media`) that the local stack's functions and session hosts share.
 */
import path from 'node:path';
import type { BlobStore } from './blob-store.js';
import { LocalBlobStore } from './blob-store-local.js';
import { S3BlobStore } from './blob-store-s3.js';

export const defaultMediaDir = 'data/media';

export function blobStoreFromEnv(env: Record<string, string | undefined> = process.env): BlobStore {
  const bucket = env.MEDIA_BUCKET?.trim();
  if (bucket) {
    // MEDIA_S3_ENDPOINT: an S3-compatible server (tests, MinIO); path-style URLs, which such servers expect.
    const endpoint = env.MEDIA_S3_ENDPOINT?.trim() || undefined;
    return new S3BlobStore({
      bucket,
      region: env.AWS_REGION?.trim() || 'us-east-1',
      ...(endpoint === undefined ? {} : { endpoint, forcePathStyle: true }),
    });
  }
  return new LocalBlobStore(path.resolve(env.MEDIA_DIR?.trim() || defaultMediaDir));
}
