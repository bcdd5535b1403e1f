/**
 * The Lambda entry of the `docs` function: `GET /api/docs` and Swagger UI's script and style sheet (serverless.yml
 * routes those three paths here). Kept apart from the `api` function so that the REST API's bundle, loaded on
 * every cold start of a request, does not carry Swagger UI.
 */
import { handle } from 'hono/aws-lambda';
import { createDocsApp } from './docs/docs-app.js';

export const handler = handle(createDocsApp());
