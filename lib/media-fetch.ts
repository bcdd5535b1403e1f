/**
 * Fetches a media `url` given by a client (`POST /messages/:sessionId/send` with `media.url`): a server-side request
 * on a user's behalf, so it is fenced like one.
 * - Every hop goes through `lib/url-guard.ts`: `https://` only, the host resolved and every address checked (no
 *   loopback, private, link-local with the metadata address, CGNAT, ...), and the connection made to the address that
 *   was checked (`pinnedLookup`, a fresh connection per hop: no pooled socket from another resolution).
 * - Redirects (301, 302, 303, 307, 308) are followed at most `maxRedirects` times (3), each target vetted again.
 * - One deadline (`timeoutMs`) covers every hop and the whole body: a server that stalls is cut off.
 * - At most `maxBytes` (`MEDIA_MAX_BYTES`, 16 MB) are read: a Content-Length above it is refused before reading, and
 *   reading stops as soon as the count passes it (a missing or lying Content-Length changes nothing).
 *
 * Errors are `ServiceError`s, each with `details.fields: [{path: 'media.url', message}]` and `details.reason`:
 * | reason | code (status) | when |
 * | --- | --- | --- |
 * | `invalid`, `protocol`, `unresolvable`, `address` | VALIDATION_FAILED (400) | the URL, or a redirect's target, is refused by the guard |
 * | `redirects` | VALIDATION_FAILED (400) | more than `maxRedirects` redirects, or a redirect without a usable Location |
 * | `status` | VALIDATION_FAILED (400) | the server answered something other than 2xx (`details.status`) |
 * | `connection` | VALIDATION_FAILED (400) | the connection failed (refused, reset, TLS) |
 * | `too-large` | PAYLOAD_TOO_LARGE (413) | the body is over `maxBytes` (`details.maxBytes`) |
 * | `timeout` | TIMEOUT (504) | no complete answer within `timeoutMs` (`details.timeoutMs`) |
 * A server that fails is reported as a fault of the URL the client gave (400, with the reason), not as a 502: the
 * service has no upstream of its own here, and WHATSAPP_UNREACHABLE would send the client looking at the wrong thing.
 */
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import type { LookupAddress } from 'node:dns';
import { type ErrorCode, ServiceError } from '../contract/errors.js';
import { cleanFilename } from './blob-store.js';
import { pinnedLookup, UrlRefusedError, vetUrl } from './url-guard.js';

export const defaultMediaMaxBytes = 16 * 1024 * 1024;
export const defaultMediaFetchTimeoutMs = 30_000;
export const defaultMediaMaxRedirects = 3;

export interface MediaFetchOptions {
  /** `MEDIA_MAX_BYTES` (default 16 MB). */
  maxBytes?: number;
  /** For the whole fetch: every hop and the body (default 30 s). */
  timeoutMs?: number;
  /** Default 3. */
  maxRedirects?: number;
  /**
   * `MEDIA_FETCH_ALLOW_PRIVATE=true`: `http://` and private addresses too. A function decides per hop (given the URL
   * of that hop), so that a test can allow exactly its own loopback server and still see a redirect refused.
   */
  allowPrivate?: boolean | ((url: URL) => boolean);
  /** Resolves a host name to all its addresses (default: the system resolver). */
  resolve?: (hostname: string) => Promise<LookupAddress[]>;
  /** Aborts the fetch (reported like a connection failure). */
  signal?: AbortSignal;
}

export interface FetchedMedia {
  bytes: Buffer;
  /** The response's media type without parameters, lower case (`application/octet-stream` when absent). */
  contentType: string;
  /** From Content-Disposition, else the last segment of the (final) URL's path, when there is one. */
  filename?: string;
}

type Reason =
  | UrlRefusedError['reason']
  | 'redirects'
  | 'status'
  | 'connection'
  | 'too-large'
  | 'timeout';

const redirectStatuses = new Set([301, 302, 303, 307, 308]);

export function mediaFetchError(reason: Reason, message: string, extra: Record<string, unknown> = {}): ServiceError {
  const code: ErrorCode = reason === 'too-large' ? 'PAYLOAD_TOO_LARGE' : reason === 'timeout' ? 'TIMEOUT' : 'VALIDATION_FAILED';
  return new ServiceError(code, `media.url ${message}`, {
    details: { fields: [{ path: 'media.url', message }], reason, ...extra },
  });
}

/** Reads the three variables of the media fetch (a bad value falls back to its default: config.ts validates). */
export function mediaFetchOptionsFromEnv(env: Record<string, string | undefined> = process.env): MediaFetchOptions {
  const max = Number(env.MEDIA_MAX_BYTES);
  const timeout = Number(env.MEDIA_FETCH_TIMEOUT_MS);
  return {
    maxBytes: Number.isSafeInteger(max) && max > 0 ? max : defaultMediaMaxBytes,
    timeoutMs: Number.isSafeInteger(timeout) && timeout > 0 ? timeout : defaultMediaFetchTimeoutMs,
    allowPrivate: env.MEDIA_FETCH_ALLOW_PRIVATE === 'true',
  };
}

export async function fetchMedia(rawUrl: string, options: MediaFetchOptions = {}): Promise<FetchedMedia> {
  const maxBytes = options.maxBytes ?? defaultMediaMaxBytes;
  const timeoutMs = options.timeoutMs ?? defaultMediaFetchTimeoutMs;
  const maxRedirects = options.maxRedirects ?? defaultMediaMaxRedirects;
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = options.signal === undefined ? timeout : AbortSignal.any([options.signal, timeout]);
  const onAbortError = () =>
    timeout.aborted
      ? mediaFetchError('timeout', `did not answer in full within ${timeoutMs} ms`, { timeoutMs })
      : mediaFetchError('connection', 'fetch aborted');

  let current = rawUrl;
  for (let hop = 0; ; hop += 1) {
    if (signal.aborted) throw onAbortError();
    const response = await requestHop(current, options, signal, onAbortError, hop);
    const status = response.statusCode ?? 0;
    if (redirectStatuses.has(status)) {
      response.destroy();
      const location = response.headers.location;
      if (location === undefined || location === '') {
        throw mediaFetchError('redirects', `redirected (HTTP ${status}) without a Location`, { status });
      }
      if (hop >= maxRedirects) {
        throw mediaFetchError('redirects', `redirected more than ${maxRedirects} times`, { maxRedirects });
      }
      try {
        current = new URL(location, current).toString();
      } catch {
        throw mediaFetchError('redirects', `redirected to an invalid URL`, { status });
      }
      continue;
    }
    if (status < 200 || status > 299) {
      response.destroy();
      throw mediaFetchError('status', `answered HTTP ${status}`, { status });
    }
    const declared = Number(response.headers['content-length']);
    if (response.headers['content-length'] !== undefined && Number.isFinite(declared) && declared > maxBytes) {
      response.destroy();
      throw mediaFetchError('too-large', `is larger than ${maxBytes} bytes (Content-Length ${declared})`, { maxBytes });
    }
    const bytes = await readCapped(response, maxBytes, signal, onAbortError);
    const finalUrl = new URL(current);
    const filename = filenameFromDisposition(response.headers['content-disposition']) ?? filenameFromPath(finalUrl);
    return {
      bytes,
      contentType: mediaType(response.headers['content-type']),
      ...(filename === null ? {} : { filename }),
    };
  }
}

async function requestHop(
  raw: string,
  options: MediaFetchOptions,
  signal: AbortSignal,
  onAbortError: () => ServiceError,
  hop: number,
): Promise<IncomingMessage> {
  let parsed: URL | null = null;
  try {
    parsed = new URL(raw);
  } catch {
    // vetUrl reports it.
  }
  const allowPrivate =
    typeof options.allowPrivate === 'function' ? parsed !== null && options.allowPrivate(parsed) : options.allowPrivate === true;
  let vetted: Awaited<ReturnType<typeof vetUrl>>;
  try {
    vetted = await vetUrl(raw, { allowPrivate, ...(options.resolve === undefined ? {} : { resolve: options.resolve }) });
  } catch (error) {
    if (error instanceof UrlRefusedError) {
      const where = hop === 0 ? '' : ` (redirect ${hop})`;
      throw mediaFetchError(error.reason, `${error.message}${where}`, hop === 0 ? {} : { redirect: hop });
    }
    throw error;
  }
  const { url } = vetted;
  const transport = url.protocol === 'https:' ? https : http;
  return new Promise<IncomingMessage>((resolve, reject) => {
    const request = transport.request(
      url,
      {
        method: 'GET',
        headers: { accept: '*/*', 'accept-encoding': 'identity', 'user-agent': 'whatsapp-service-media/1' },
        // Connect to the address just checked; the Host header and TLS server name stay the URL's host.
        lookup: pinnedLookup(vetted),
        agent: false,
        signal,
      },
      resolve,
    );
    request.on('error', (error) => {
      if (signal.aborted) reject(onAbortError());
      else reject(mediaFetchError('connection', `could not be fetched (${describe(error)})`));
    });
    request.end();
  });
}

async function readCapped(
  response: IncomingMessage,
  maxBytes: number,
  signal: AbortSignal,
  onAbortError: () => ServiceError,
): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of response) {
      const buffer = chunk as Buffer;
      total += buffer.byteLength;
      if (total > maxBytes) {
        response.destroy();
        throw mediaFetchError('too-large', `is larger than ${maxBytes} bytes`, { maxBytes });
      }
      chunks.push(buffer);
    }
  } catch (error) {
    if (error instanceof ServiceError) throw error;
    if (signal.aborted) throw onAbortError();
    throw mediaFetchError('connection', `broke off while reading (${describe(error)})`);
  }
  // A response cut short without an error (the server closed mid-body): `complete` says whether it was whole.
  if (!response.complete) {
    if (signal.aborted) throw onAbortError();
    throw mediaFetchError('connection', 'broke off while reading');
  }
  return Buffer.concat(chunks, total);
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const code = 'code' in error && typeof error.code === 'string' ? `${error.code}: ` : '';
    return `${code}${error.message}`.slice(0, 200);
  }
  return String(error).slice(0, 200);
}

function mediaType(header: string | undefined): string {
  const type = (header ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  return /^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+$/.test(type) ? type : 'application/octet-stream';
}

/** `filename*=UTF-8''…` (RFC 5987) first, then `filename="…"` or `filename=…`. */
export function filenameFromDisposition(header: string | undefined): string | null {
  if (header === undefined) return null;
  const extended = /filename\*\s*=\s*([^']*)'[^']*'([^;]+)/i.exec(header);
  if (extended?.[2] !== undefined) {
    try {
      const name = cleanFilename(decodeURIComponent(extended[2].trim()));
      if (name !== null) return name;
    } catch {
      // fall through to the plain form
    }
  }
  const quoted = /filename\s*=\s*"((?:[^"\\]|\\.)*)"/i.exec(header);
  if (quoted?.[1] !== undefined) return cleanFilename(quoted[1].replace(/\\(.)/g, '$1'));
  const bare = /filename\s*=\s*([^;\s]+)/i.exec(header);
  return bare?.[1] === undefined ? null : cleanFilename(bare[1]);
}

function filenameFromPath(url: URL): string | null {
  const last = url.pathname.split('/').pop() ?? '';
  if (last === '') return null;
  try {
    return cleanFilename(decodeURIComponent(last));
  } catch {
    return cleanFilename(last);
  }
}
