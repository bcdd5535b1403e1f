/**
 * The blob store on S3 (or an S3-compatible server: `endpoint` + `forcePathStyle`). Each object carries its content
 * type, its filename (percent-encoded in the `filename` metadata: metadata headers are ASCII) and its expiry
 * (`expires-at`, ISO 8601); the deployed bucket's lifecycle rule (`MediaBucket` in infra/stack.yml) removes objects
 * after `MediaExpirationDays`, and `get` answers null for an object past its `expires-at` before the rule runs.
 * Downloads use short-lived presigned GET URLs (at most `maxPresignSeconds`).
 */
import type { Readable } from 'node:stream';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  type GetObjectCommandOutput,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import {
  type BlobObject,
  type BlobPutOptions,
  type BlobStore,
  cleanFilename,
  collectBytes,
  contentDisposition,
  validateBlobKey,
} from './blob-store.js';

export interface S3BlobStoreConfig {
  bucket: string;
  region: string;
  /** An S3-compatible server (tests, MinIO...): `http://127.0.0.1:4569`. */
  endpoint?: string;
  /** Path-style URLs (`endpoint/bucket/key`), which S3-compatible servers usually need. */
  forcePathStyle?: boolean;
  /** Static credentials (tests); by default the SDK's chain (the task role in a deployment). */
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** An existing client (shares its connections); the other client options are then ignored. */
  client?: S3Client;
}

/** The longest a presigned URL lives: downloads are meant to start at once. */
export const maxPresignSeconds = 3600;

export class S3BlobStore implements BlobStore {
  readonly client: S3Client;
  private readonly bucket: string;

  constructor(config: S3BlobStoreConfig) {
    this.bucket = config.bucket;
    this.client =
      config.client ??
      new S3Client({
        region: config.region,
        ...(config.endpoint === undefined ? {} : { endpoint: config.endpoint }),
        forcePathStyle: config.forcePathStyle ?? false,
        ...(config.credentials === undefined ? {} : { credentials: config.credentials }),
        // S3-compatible servers do not all know the flexible checksums that the SDK adds by default.
        ...(config.endpoint === undefined
          ? {}
          : { requestChecksumCalculation: 'WHEN_REQUIRED' as const, responseChecksumValidation: 'WHEN_REQUIRED' as const }),
      });
  }

  async put(key: string, body: Uint8Array | Readable, options: BlobPutOptions): Promise<{ key: string; size: number }> {
    validateBlobKey(key);
    // Media is capped (MEDIA_MAX_BYTES, 16 MB by default): one PutObject of the whole body, with its length known,
    // is simpler and as fast as a multipart upload at that size.
    const bytes = await collectBytes(body);
    const metadata: Record<string, string> = {};
    const filename = cleanFilename(options.filename);
    if (filename !== null) metadata.filename = encodeURIComponent(filename);
    if (options.expiresAt !== undefined) metadata['expires-at'] = options.expiresAt.toISOString();
    await this.client.send(
      new PutObjectCommand({
        Bucket: this.bucket,
        Key: key,
        Body: bytes,
        ContentLength: bytes.byteLength,
        ContentType: options.contentType,
        ...(filename === null ? {} : { ContentDisposition: contentDisposition(filename) }),
        Metadata: metadata,
      }),
    );
    return { key, size: bytes.byteLength };
  }

  async get(key: string): Promise<BlobObject | null> {
    validateBlobKey(key);
    let answer: GetObjectCommandOutput;
    try {
      answer = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
    } catch (error) {
      if (isNotFound(error)) return null;
      throw error;
    }
    const stream = answer.Body as Readable | undefined;
    if (stream === undefined) return null;
    const metadata = answer.Metadata ?? {};
    if (isExpired(metadata['expires-at'], new Date())) {
      stream.destroy();
      return null;
    }
    return {
      stream,
      contentType: answer.ContentType ?? 'application/octet-stream',
      filename: decodeFilename(metadata.filename),
      size: answer.ContentLength ?? 0,
    };
  }

  async signedUrl(key: string, options: { expiresInSeconds: number }): Promise<string | null> {
    validateBlobKey(key);
    const seconds = Math.floor(options.expiresInSeconds);
    if (!(seconds >= 1 && seconds <= maxPresignSeconds)) {
      throw new RangeError(`expiresInSeconds must be from 1 to ${maxPresignSeconds}`);
    }
    // The object's own headers decide the content type and disposition of the download; a missing object gives
    // null rather than a URL that answers 404.
    let filename: string | null;
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      if (isExpired(head.Metadata?.['expires-at'], new Date())) return null;
      filename = decodeFilename(head.Metadata?.filename);
    } catch (error) {
      if (isNotFound(error)) return null;
      throw error;
    }
    const command = new GetObjectCommand({
      Bucket: this.bucket,
      Key: key,
      ...(filename === null ? {} : { ResponseContentDisposition: contentDisposition(filename) }),
    });
    return getSignedUrl(this.client, command, { expiresIn: seconds });
  }

  async delete(key: string): Promise<void> {
    validateBlobKey(key);
    await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
  }

  /** Nothing to do: the bucket's lifecycle rule removes expired objects, and `get` hides them until then. */
  async sweepExpired(_now?: Date): Promise<number> {
    return 0;
  }
}

function isNotFound(error: unknown): boolean {
  if (error instanceof S3ServiceException) {
    return error.name === 'NoSuchKey' || error.name === 'NotFound' || error.$metadata.httpStatusCode === 404;
  }
  return false;
}

function isExpired(expiresAt: string | undefined, now: Date): boolean {
  if (expiresAt === undefined) return false;
  const when = Date.parse(expiresAt);
  return Number.isFinite(when) && when <= now.getTime();
}

function decodeFilename(raw: string | undefined): string | null {
  if (raw === undefined || raw === '') return null;
  try {
    return cleanFilename(decodeURIComponent(raw));
  } catch {
    return null;
  }
}
