/**
 * Sends a frame to one WebSocket client through the API Gateway Management API (serverless-offline emulates it
 * locally). Tells a gone connection (HTTP 410) apart from a failure worth retrying (throttling, 5xx).
 */
import type { ApiGatewayManagementApiClient } from '@aws-sdk/client-apigatewaymanagementapi';

export type PostOutcome = 'sent' | 'gone' | 'retry' | 'failed';

export interface ConnectionPoster {
  post(connectionId: string, frame: string): Promise<PostOutcome>;
  close(): void;
}

/**
 * Whether `endpoint` is serverless-offline's emulation rather than API Gateway: a loopback address, or any address
 * when the deployment says so — stage `local` (the functions under serverless offline) or `WS_MANAGEMENT_LOCAL=true`
 * (a container posting to serverless offline by service name, as in docker-compose.yml).
 */
export function isLocalManagementEndpoint(endpoint: string, env: Record<string, string | undefined> = process.env): boolean {
  if (env.WS_MANAGEMENT_LOCAL === 'true' || env.STAGE === 'local') return true;
  return /^https?:\/\/(127\.0\.0\.1|localhost|\[::1\])(:\d+)?(\/|$)/.test(endpoint);
}

export function createConnectionPoster(
  endpoint: string,
  region = process.env.AWS_REGION ?? 'us-east-1',
  env: Record<string, string | undefined> = process.env,
): ConnectionPoster {
  const local = isLocalManagementEndpoint(endpoint, env);
  // The SDK is loaded on the first post, not at import: most WebSocket invocations ($connect, $disconnect) post
  // nothing, and loading it costs about half of a cold start (BENCHMARKS.md, "Cold start").
  let sdk: Promise<{ client: ApiGatewayManagementApiClient; PostToConnectionCommand: typeof import('@aws-sdk/client-apigatewaymanagementapi').PostToConnectionCommand }> | undefined;
  let closed = false;
  const load = () => {
    if (sdk !== undefined) return sdk;
    sdk = import('@aws-sdk/client-apigatewaymanagementapi').then(({ ApiGatewayManagementApiClient, PostToConnectionCommand }) => ({
      PostToConnectionCommand,
      client: new ApiGatewayManagementApiClient({
        endpoint,
        region,
        maxAttempts: 1, // retries are ours: capped backoff, per connection, without holding up other clients
        // A post that hangs would stall its connection's queue: bound it (a timeout counts as a failure worth retrying).
        requestHandler: { connectionTimeout: 2_000, requestTimeout: 5_000 },
        // serverless-offline checks no signature, but the SDK signs every request and needs credentials to do so, even
        // for an endpoint it will never authenticate against: any pair does locally. Real credentials win if present.
        ...(local && env.AWS_ACCESS_KEY_ID === undefined
          ? { credentials: { accessKeyId: 'local', secretAccessKey: 'local' } }
          : {}),
      }),
    }));
    // A failed load is not kept: the next post tries again.
    const loading = sdk;
    loading.catch(() => {
      if (sdk === loading) sdk = undefined;
    });
    return loading;
  };
  return {
    async post(connectionId, frame) {
      if (closed) return 'failed';
      try {
        const { client, PostToConnectionCommand } = await load();
        if (closed) return 'failed';
        await client.send(new PostToConnectionCommand({ ConnectionId: connectionId, Data: Buffer.from(frame) }));
        return 'sent';
      } catch (error) {
        return classifyPostError(error);
      }
    },
    close: () => {
      closed = true;
      void sdk?.then(({ client }) => client.destroy());
    },
  };
}

export function classifyPostError(error: unknown): PostOutcome {
  const status = httpStatusOf(error);
  // serverless-offline answers 410 with an empty body, so the SDK names the error `Unknown`: trust the status.
  if (status === 410 || (error instanceof Error && error.name === 'GoneException')) return 'gone';
  if (status === 429 || (status !== undefined && status >= 500)) return 'retry';
  if (error instanceof Error && /ECONNREFUSED|ECONNRESET|ETIMEDOUT|socket hang up|TimeoutError/.test(`${error.name} ${error.message}`)) {
    return 'retry';
  }
  return 'failed';
}

function httpStatusOf(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null || !('$metadata' in error)) return undefined;
  const metadata: unknown = error.$metadata;
  if (typeof metadata !== 'object' || metadata === null || !('httpStatusCode' in metadata)) return undefined;
  return typeof metadata.httpStatusCode === 'number' ? metadata.httpStatusCode : undefined;
}
