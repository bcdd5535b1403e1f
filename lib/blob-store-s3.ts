/**
 * The blob store on S3 (or an S3-compatible server: `endpoint` + `forcePathStyle`). Each object carries its content
 * type, its filename (percent-encoded in the `filename` metadata: metadata headers are ASCII) and its expiry
 * (`expires-at`, ISO 8601); the deployed bucket's lifecycle rule (`MediaBucket` in infra/stack.yml) removes objects
 * after `MediaExpirationDays`, and `get` answers null for an object past its `expires-at` before the rule runs.
 * Downloads use short-lived presigned GET URLs (at most `maxPresignSeconds`).
 */
import type { Readable } from 'node:stream';
import type { GetObjectCommandOutput, HeadObjectCommandOutput, S3Client } from '@aws-sdk/client-s3';
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

/** The SDK, loaded on first use: the REST function's cold start does not pay for it (most requests carry no media). */
interface S3Sdk {
  s3: typeof import('@aws-sdk/client-s3');
  getSignedUrl: (typeof import('@aws-sdk/s3-request-presigner'))['getSignedUrl'];
  client: S3Client;
}

export class S3BlobStore implements BlobStore {
  private readonly bucket: string;
  private sdkLoading: Promise<S3Sdk> | undefined;

  constructor(private readonly config: S3BlobStoreConfig) {
    this.bucket = config.bucket;
  }

  private sdk(): Promise<S3Sdk> {
    const config = this.config;
    this.sdkLoading ??= Promise.all([import('@aws-sdk/client-s3'), import('@aws-sdk/s3-request-presigner')]).then(([s3, presigner]) => ({
      s3,
      getSignedUrl: presigner.getSignedUrl,
      client:
        config.client ??
        new s3.S3Client({
          region: config.region,
          ...(config.endpoint === undefined ? {} : { endpoint: config.endpoint }),
          forcePathStyle: config.forcePathStyle ?? false,
          ...(config.credentials === undefined ? {} : { credentials: config.credentials }),
          // S3-compatible servers do not all know the flexible checksums that the SDK adds by default.
          ...(config.endpoint === undefined
            ? {}
            : { requestChecksumCalculation: 'WHEN_REQUIRED' as const, responseChecksumValidation: 'WHEN_REQUIRED' as const }),
        }),
    }));
    // A failed load is not kept: the next operation tries again (a transient failure must not last the instance).
    const loading = this.sdkLoading;
    loading.catch(() => {
      if (this.sdkLoading === loading) this.sdkLoading = undefined;
    });
    return loading;
  }

  /** Closes the client's connections (tests; a function's client lives as long as its instance). */
  async close(): Promise<void> {
    if (this.sdkLoading !== undefined) (await this.sdkLoading).client.destroy();
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
    const { s3, client } = await this.sdk();
    await client.send(
      new s3.PutObjectCommand({
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
    const { s3, client } = await this.sdk();
    try {
      answer = await client.send(new s3.GetObjectCommand({ Bucket: this.bucket, Key: key }));
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
    const { s3, client, getSignedUrl } = await this.sdk();
    let head: HeadObjectCommandOutput;
    try {
      head = await client.send(new s3.HeadObjectCommand({ Bucket: this.bucket, Key: key }));
    } catch (error) {
      if (isNotFound(error)) return null;
      throw error;
    }
    if (isExpired(head.Metadata?.['expires-at'], new Date())) return null;
    const filename = decodeFilename(head.Metadata?.filename);
    // Always an attachment, and only images, audio and video with their own type: whatever a sender claimed (HTML,
    // SVG) is never rendered on the bucket's origin.
    const contentType = head.ContentType ?? 'application/octet-stream';
    const command = new s3.GetObjectCommand({
      Bucket: this.bucket,
      Key: key,
      ResponseContentDisposition: contentDisposition(filename),
      ...(/^(?:image\/(?!svg)|audio\/|video\/)/i.test(contentType) ? {} : { ResponseContentType: 'application/octet-stream' }),
    });
    return getSignedUrl(client, command, { expiresIn: seconds });
  }

  async delete(key: string): Promise<void> {
    validateBlobKey(key);
    const { s3, client } = await this.sdk();
    await client.send(new s3.DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
  }

  /** Nothing to do: the bucket's lifecycle rule removes expired objects, and `get` hides them until then. */
  async sweepExpired(_now?: Date): Promise<number> {
    return 0;
  }
}

/** An S3 "no such object" (by name or status: the SDK's exception classes are loaded lazily, so no instanceof). */
function isNotFound(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  if (error.name === 'NoSuchKey' || error.name === 'NotFound') return true;
  const metadata = (error as { $metadata?: { httpStatusCode?: unknown } }).$metadata;
  return metadata?.httpStatusCode === 404;
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
