/**
 * The Lambda entry of the REST API (an HTTP API event → the Hono app). The docs page's routes are declared here but
 * served by the `docs` function (docs-handler.ts), which API Gateway sends them to.
 */
import { handle } from 'hono/aws-lambda';
import { getRuntime } from '../runtime.js';
import { createApiApp } from './app.js';

export const handler = handle(createApiApp(getRuntime().api));
