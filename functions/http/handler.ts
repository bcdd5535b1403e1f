/** The Lambda entry of the REST API (an HTTP API event → the Hono app). */
import { handle } from 'hono/aws-lambda';
import { getRuntime } from '../runtime.js';
import { createApp } from './app.js';

export const handler = handle(createApp(getRuntime().api));
