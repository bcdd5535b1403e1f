/**
 * One POST of one event to one webhook: signed per Standard Webhooks (the `standardwebhooks` package), to the
 * address the URL guard checked right now (DNS may have changed since the webhook was stored), bounded by a timeout
 * and the caller's signal. Redirects are not followed: a 3xx is a failed attempt like any other non-2xx.
 */
import http from 'node:http';
import https from 'node:https';
import { Webhook as StandardWebhook } from 'standardwebhooks';
import { pinnedLookup, UrlRefusedError, vetUrl, type UrlGuardOptions, type VettedUrl } from '../../lib/url-guard.js';

export interface WebhookPost {
  url: string;
  /** The body: the event's WebSocket frame. */
  body: string;
  /** `webhook-id`: the event id (the same on every retry, so receivers can de-duplicate). */
  messageId: string;
  secret: string;
  timeoutMs: number;
  signal?: AbortSignal;
  now?: Date;
}

export type PostResult =
  | { ok: true; statusCode: number }
  | { ok: false; statusCode: number | null; error: string; retryAfterMs?: number };

/** Standard Webhooks headers: `webhook-id`, `webhook-timestamp` (seconds), `webhook-signature` (`v1,<base64>`). */
export function signedHeaders(secret: string, messageId: string, body: string, now: Date): Record<string, string> {
  return {
    'webhook-id': messageId,
    'webhook-timestamp': String(Math.floor(now.getTime() / 1_000)),
    'webhook-signature': new StandardWebhook(secret).sign(messageId, now, body),
  };
}

const agents = {
  'http:': new http.Agent({ keepAlive: true, maxSockets: 64 }),
  'https:': new https.Agent({ keepAlive: true, maxSockets: 64 }),
};

/** How many bytes of a failing answer's body go into `lastError`. */
const errorBodyBytes = 200;
/** A `retry-after` further out than this is taken as this. */
const maxRetryAfterMs = 60 * 60_000;

export async function postWebhook(post: WebhookPost, guard: UrlGuardOptions): Promise<PostResult> {
  let vetted: VettedUrl;
  try {
    vetted = await vetUrl(post.url, guard);
  } catch (error) {
    if (error instanceof UrlRefusedError) return { ok: false, statusCode: null, error: `refused: ${error.message}` };
    throw error;
  }
  const { url } = vetted;
  const timeout = AbortSignal.timeout(post.timeoutMs);
  const signal = post.signal === undefined ? timeout : AbortSignal.any([post.signal, timeout]);
  const body = Buffer.from(post.body);
  const headers = {
    'content-type': 'application/json; charset=utf-8',
    'content-length': String(body.length),
    'user-agent': 'whatsapp-service-webhooks/1',
    ...signedHeaders(post.secret, post.messageId, post.body, post.now ?? new Date()),
  };
  const transport = url.protocol === 'https:' ? https : http;
  return new Promise<PostResult>((resolve) => {
    let settled = false;
    const settle = (result: PostResult) => {
      if (settled) return;
      settled = true;
      resolve(result);
    };
    const request = transport.request(
      url,
      {
        method: 'POST',
        headers,
        // Connect to the address just checked, not to what another resolution would say; the Host header and the
        // TLS server name stay the URL's host.
        lookup: pinnedLookup(vetted),
        agent: agents[url.protocol === 'https:' ? 'https:' : 'http:'],
        signal,
      },
      (response) => {
        const statusCode = response.statusCode ?? 0;
        const chunks: Buffer[] = [];
        let kept = 0;
        response.on('data', (chunk: Buffer) => {
          if (kept < errorBodyBytes) {
            chunks.push(chunk);
            kept += chunk.length;
          }
        });
        response.on('error', (error) => settle(failure(error, timeout)));
        response.on('end', () => {
          if (statusCode >= 200 && statusCode < 300) {
            settle({ ok: true, statusCode });
            return;
          }
          const text = Buffer.concat(chunks).subarray(0, errorBodyBytes).toString('utf8').replace(/\s+/g, ' ').trim();
          const retryAfterMs = parseRetryAfter(response.headers['retry-after']);
          settle({
            ok: false,
            statusCode,
            error: `HTTP ${statusCode}${text === '' ? '' : `: ${text}`}`,
            ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
          });
        });
      },
    );
    request.on('error', (error) => settle(failure(error, timeout)));
    request.end(body);
  });
}

function failure(error: Error, timeout: AbortSignal): PostResult {
  if (timeout.aborted) return { ok: false, statusCode: null, error: 'timed out' };
  const code = 'code' in error && typeof error.code === 'string' ? `${error.code}: ` : '';
  return { ok: false, statusCode: null, error: `${code}${error.message}`.slice(0, 300) };
}

/** `retry-after` as seconds or an HTTP date → ms from now (at most an hour); undefined when absent or unreadable. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const trimmed = value.trim();
  const ms = /^\d+$/.test(trimmed) ? Number(trimmed) * 1_000 : Date.parse(trimmed) - now;
  if (!Number.isFinite(ms)) return undefined;
  return Math.min(maxRetryAfterMs, Math.max(0, ms));
}
