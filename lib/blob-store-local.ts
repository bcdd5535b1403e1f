/**
 * The blob store of the local stack: files under a directory (`DATA_DIR/media`), readable by the service's user only
 * (0600 files in 0700 directories). An object is two files named by the SHA-256 of its key (so no key can name a
 * path, and `a` and `a/b` can both exist): the bytes, and a JSON sidecar with the key, content type, filename, size
 * and expiry. Both are written to a temporary name and renamed, bytes first: an object exists once its sidecar does.
 * Expired objects are hidden by `get` and removed by `sweepExpired`. No presigned URLs: the download route streams.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, promises as fs } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { type BlobObject, type BlobPutOptions, type BlobStore, cleanFilename, validateBlobKey } from './blob-store.js';

interface Sidecar {
  key: string;
  contentType: string;
  filename: string | null;
  size: number;
  createdAt: string;
  expiresAt: string | null;
}

const sidecarSuffix = '.json';
const tempPrefix = '.tmp-';

export class LocalBlobStore implements BlobStore {
  private ready: Promise<void> | undefined;

  /** `directory`: where the files go (created 0700 if missing), e.g. `join(DATA_DIR, 'media')`. */
  constructor(readonly directory: string) {}

  async put(key: string, body: Uint8Array | Readable, options: BlobPutOptions): Promise<{ key: string; size: number }> {
    validateBlobKey(key);
    await this.ensureDirectory();
    const name = fileNameOf(key);
    const dataPath = join(this.directory, name);
    const tempData = join(this.directory, `${tempPrefix}${randomBytes(8).toString('hex')}`);
    let size = 0;
    try {
      if (body instanceof Uint8Array) {
        await fs.writeFile(tempData, body, { mode: 0o600, flag: 'wx' });
        size = body.byteLength;
      } else {
        const out = createWriteStream(tempData, { mode: 0o600, flags: 'wx' });
        body.on('data', (chunk: Buffer | string) => {
          size += typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk.byteLength;
        });
        await pipeline(body, out);
      }
      await fs.chmod(tempData, 0o600);
      await fs.rename(tempData, dataPath);
    } catch (error) {
      await fs.rm(tempData, { force: true });
      throw error;
    }
    const sidecar: Sidecar = {
      key,
      contentType: options.contentType,
      filename: cleanFilename(options.filename),
      size,
      createdAt: new Date().toISOString(),
      expiresAt: options.expiresAt?.toISOString() ?? null,
    };
    await this.writeSidecar(name, sidecar);
    return { key, size };
  }

  async get(key: string): Promise<BlobObject | null> {
    validateBlobKey(key);
    const name = fileNameOf(key);
    const sidecar = await this.readSidecar(name);
    if (sidecar === null || sidecar.key !== key || isExpired(sidecar, new Date())) return null;
    let handle: fs.FileHandle;
    try {
      handle = await fs.open(join(this.directory, name), 'r');
    } catch (error) {
      if (isMissing(error)) return null;
      throw error;
    }
    // The open handle keeps the bytes readable even if a sweep or a delete removes the file meanwhile.
    const { size } = await handle.stat();
    return { stream: handle.createReadStream({ autoClose: true }), contentType: sidecar.contentType, filename: sidecar.filename, size };
  }

  async signedUrl(key: string): Promise<string | null> {
    validateBlobKey(key);
    return null;
  }

  async delete(key: string): Promise<void> {
    validateBlobKey(key);
    await this.remove(fileNameOf(key));
  }

  async sweepExpired(now: Date = new Date()): Promise<number> {
    let names: string[];
    try {
      names = await fs.readdir(this.directory);
    } catch (error) {
      if (isMissing(error)) return 0;
      throw error;
    }
    let removed = 0;
    const hour = 3_600_000;
    for (const entry of names) {
      const path = join(this.directory, entry);
      if (entry.startsWith(tempPrefix)) {
        // A write that died half-way (a crash): its temporary file is removed once it is an hour old.
        const stat = await fs.stat(path).catch(() => null);
        if (stat !== null && now.getTime() - stat.mtimeMs > hour) await fs.rm(path, { force: true });
        continue;
      }
      if (!entry.endsWith(sidecarSuffix)) {
        // Bytes whose sidecar never got written (a crash between the two renames).
        const hasSidecar = names.includes(`${entry}${sidecarSuffix}`);
        const stat = hasSidecar ? null : await fs.stat(path).catch(() => null);
        if (stat !== null && now.getTime() - stat.mtimeMs > hour) await fs.rm(path, { force: true });
        continue;
      }
      const name = entry.slice(0, -sidecarSuffix.length);
      const sidecar = await this.readSidecar(name);
      if (sidecar !== null && isExpired(sidecar, now)) {
        await this.remove(name);
        removed += 1;
      }
    }
    return removed;
  }

  private async remove(name: string): Promise<void> {
    // Sidecar first: the object stops existing at once, then its bytes go.
    await fs.rm(join(this.directory, `${name}${sidecarSuffix}`), { force: true });
    await fs.rm(join(this.directory, name), { force: true });
  }

  private ensureDirectory(): Promise<void> {
    this.ready ??= (async () => {
      await fs.mkdir(this.directory, { recursive: true, mode: 0o700 });
      await fs.chmod(this.directory, 0o700);
    })().catch((error: unknown) => {
      this.ready = undefined;
      throw error;
    });
    return this.ready;
  }

  private async writeSidecar(name: string, sidecar: Sidecar): Promise<void> {
    const temp = join(this.directory, `${tempPrefix}${randomBytes(8).toString('hex')}`);
    try {
      await fs.writeFile(temp, JSON.stringify(sidecar), { mode: 0o600, flag: 'wx' });
      await fs.chmod(temp, 0o600);
      await fs.rename(temp, join(this.directory, `${name}${sidecarSuffix}`));
    } catch (error) {
      await fs.rm(temp, { force: true });
      throw error;
    }
  }

  private async readSidecar(name: string): Promise<Sidecar | null> {
    let text: string;
    try {
      text = await fs.readFile(join(this.directory, `${name}${sidecarSuffix}`), 'utf8');
    } catch (error) {
      if (isMissing(error)) return null;
      throw error;
    }
    try {
      const value: unknown = JSON.parse(text);
      return isSidecar(value) ? value : null;
    } catch {
      return null;
    }
  }
}

function fileNameOf(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

function isExpired(sidecar: Sidecar, now: Date): boolean {
  if (sidecar.expiresAt === null) return false;
  const when = Date.parse(sidecar.expiresAt);
  return Number.isFinite(when) && when <= now.getTime();
}

function isMissing(error: unknown): boolean {
  return typeof error === 'object' && error !== null && 'code' in error && (error as { code: unknown }).code === 'ENOENT';
}

function isSidecar(value: unknown): value is Sidecar {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return (
    typeof v.key === 'string' &&
    typeof v.contentType === 'string' &&
    (v.filename === null || typeof v.filename === 'string') &&
    typeof v.size === 'number' &&
    (v.expiresAt === null || typeof v.expiresAt === 'string')
  );
}
