/**
 * The Lambda entry of the REST API (an HTTP API event → the Hono app). The docs page's routes are declared here but
 * served by the `docs` function (docs-handler.ts), which API Gateway sends them to.
 */
import { handle } from 'hono/aws-lambda';
import { blobStoreFromEnv } from '../../lib/blob-store-config.js';
import { mediaFetchOptionsFromEnv } from '../../lib/media-fetch.js';
import { getRuntime } from '../runtime.js';
import { createApiApp } from './app.js';

// Media only here: the WebSocket functions share the runtime and need no blob store (nor the S3 client).
export const handler = handle(createApiApp({ ...getRuntime().api, media: { blobs: blobStoreFromEnv(), fetch: mediaFetchOptionsFromEnv() } }));
