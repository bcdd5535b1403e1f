/**
 * The blob store port: where media bytes live (sent media fetched or decoded by a session host, received media
 * downloaded from WhatsApp) so that they never travel through Redis or inside WebSocket/webhook frames. Events and
 * commands carry a key; the download route reads the bytes from here (or redirects to a presigned URL).
 *
 * Two implementations: S3 in a deployment (`lib/blob-store-s3.ts`, a lifecycle rule expires objects) and a
 * directory on the local stack (`lib/blob-store-local.ts`, `sweepExpired` removes expired files).
 */
import type { Readable } from 'node:stream';

export interface BlobPutOptions {
  contentType: string;
  /** The name a download offers (Content-Disposition). */
  filename?: string;
  /** After this instant the object may be removed (S3: metadata + the bucket's lifecycle rule; local: the sweep). */
  expiresAt?: Date;
}

export interface BlobObject {
  stream: Readable;
  contentType: string;
  filename: string | null;
  size: number;
}

export interface BlobStore {
  /** Stores bytes under `key`, replacing what was there. */
  put(key: string, body: Uint8Array | Readable, options: BlobPutOptions): Promise<{ key: string; size: number }>;
  /** The object, or null when there is none (or it has expired). */
  get(key: string): Promise<BlobObject | null>;
  /** A short-lived URL that GETs the object without a key, or null where the store cannot presign (local). */
  signedUrl(key: string, options: { expiresInSeconds: number }): Promise<string | null>;
  /** Removes the object; removing one that does not exist is not an error. */
  delete(key: string): Promise<void>;
  /** Removes expired objects (local store; S3 answers 0, its lifecycle rule does it). Answers how many went. */
  sweepExpired(now?: Date): Promise<number>;
}

/** A key the store refuses: not `[A-Za-z0-9/_.-]`, empty, too long, a leading `/`, an empty or `.`/`..` segment. */
export class InvalidBlobKeyError extends Error {
  override readonly name = 'InvalidBlobKeyError';
  constructor(
    readonly key: string,
    reason: string,
  ) {
    super(`invalid blob key ${JSON.stringify(key.slice(0, 100))}: ${reason}`);
  }
}

const keyPattern = /^[A-Za-z0-9/_.-]+$/;
export const maxBlobKeyLength = 512;

/** Throws `InvalidBlobKeyError` unless `key` is safe both as an S3 key and as a relative path under a directory. */
export function validateBlobKey(key: string): string {
  if (key.length === 0) throw new InvalidBlobKeyError(key, 'empty');
  if (key.length > maxBlobKeyLength) throw new InvalidBlobKeyError(key, `longer than ${maxBlobKeyLength} characters`);
  if (!keyPattern.test(key)) throw new InvalidBlobKeyError(key, 'only A-Z a-z 0-9 / _ . - are allowed');
  if (key.startsWith('/')) throw new InvalidBlobKeyError(key, 'must not start with /');
  for (const segment of key.split('/')) {
    if (segment === '') throw new InvalidBlobKeyError(key, 'empty path segment');
    if (segment === '.' || segment === '..') throw new InvalidBlobKeyError(key, `"${segment}" segment`);
  }
  return key;
}

/** Collects a stream (or passes bytes through), failing once more than `maxBytes` arrive when a cap is given. */
export async function collectBytes(body: Uint8Array | Readable, maxBytes?: number): Promise<Buffer> {
  if (body instanceof Uint8Array) return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of body) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk as Uint8Array);
    total += buffer.byteLength;
    if (maxBytes !== undefined && total > maxBytes) {
      body.destroy();
      throw new Error(`more than ${maxBytes} bytes`);
    }
    chunks.push(buffer);
  }
  return Buffer.concat(chunks, total);
}

/** A filename safe to put in a header value and a JSON sidecar: no control characters, no path, at most 255 chars. */
export function cleanFilename(filename: string | undefined | null): string | null {
  if (filename === undefined || filename === null) return null;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: removing control characters is the point
  const base = (filename.split(/[\\/]/).pop() ?? '').replace(/[\u0000-\u001f\u007f]/g, '').trim();
  return base === '' || base === '.' || base === '..' ? null : base.slice(0, 255);
}

/** A `Content-Disposition: attachment` value for a filename: an ASCII fallback and the RFC 5987 UTF-8 form. */
export function contentDisposition(filename: string | null): string {
  const name = cleanFilename(filename);
  if (name === null) return 'attachment';
  const ascii = name.replace(/[^\x20-\x7e]/g, '_').replace(/["\\]/g, '_');
  const encoded = encodeURIComponent(name).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}
