import type { Session } from '../../contract/api.js';
import { waitFor } from '../../scripts/support/processes.js';

/** A small JSON client for the REST API under test. */
export interface ApiResponse<T = unknown> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

export interface ApiClient {
  request<T = unknown>(
    method: string,
    path: string,
    options?: { body?: unknown; rawBody?: string; headers?: Record<string, string>; apiKey?: string | null },
  ): Promise<ApiResponse<T>>;
}

export function apiClient(baseUrl: string, apiKey: string): ApiClient {
  return {
    async request<T>(
      method: string,
      path: string,
      options: { body?: unknown; rawBody?: string; headers?: Record<string, string>; apiKey?: string | null } = {},
    ): Promise<ApiResponse<T>> {
      const headers: Record<string, string> = { ...options.headers };
      const key = options.apiKey === undefined ? apiKey : options.apiKey;
      if (key !== null) headers['x-api-key'] = key;
      let body: string | undefined = options.rawBody;
      if (options.body !== undefined) {
        body = JSON.stringify(options.body);
        headers['content-type'] ??= 'application/json';
      }
      const response = await fetch(`${baseUrl}${path}`, { method, headers, body, signal: AbortSignal.timeout(30_000) });
      const text = await response.text();
      let parsed: unknown = text;
      if ((response.headers.get('content-type') ?? '').includes('json')) {
        try {
          parsed = JSON.parse(text);
        } catch {
          parsed = text;
        }
      }
      return { status: response.status, headers: response.headers, body: parsed as T, text };
    },
  };
}

/** Polls until `check` returns a value (not undefined), or fails after `timeoutMs`. */
export function eventually<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  return waitFor(what, check, timeoutMs, 100);
}

/** Resolves with the session once its status is `status` (read through the REST API), or fails after `timeoutMs`. */
export function sessionBecomes(api: ApiClient, sessionId: string, status: Session['status'], timeoutMs = 15_000): Promise<Session> {
  return eventually(
    `${sessionId} to be ${status}`,
    async () => {
      const response = await api.request<{ session?: Session }>('GET', `/api/sessions/${sessionId}`);
      return response.body.session?.status === status ? response.body.session : undefined;
    },
    timeoutMs,
  );
}
