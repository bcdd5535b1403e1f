/**
 * `GET /api/docs`: Swagger UI rendering `/api/openapi.json`, every byte served by the service itself (its script
 * and style sheet are inside the bundle, see swagger-ui-assets.ts), so the page works with no network but ours.
 */
import { gunzipSync } from 'node:zlib';
import { swaggerUiScriptGzipBase64, swaggerUiStyleGzipBase64 } from './swagger-ui-assets.generated.js';

/**
 * Unpacked on first use only: a cold start that serves no docs pays nothing but the module's text. The calls below
 * are marked pure so that a bundle which imports this module without using them (none should) drops the assets.
 */
function unpacked(packed: string): () => string {
  let text: string | undefined;
  return () => (text ??= gunzipSync(Buffer.from(packed, 'base64')).toString('utf8'));
}

export const swaggerUiScript = /* @__PURE__ */ unpacked(swaggerUiScriptGzipBase64);
export const swaggerUiStyle = /* @__PURE__ */ unpacked(swaggerUiStyleGzipBase64);

/** The headers of the two assets: their type, and an hour in caches (they change only with swagger-ui-dist). */
export const docsAssetHeaders = {
  script: { 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'public, max-age=3600' },
  style: { 'content-type': 'text/css; charset=utf-8', 'cache-control': 'public, max-age=3600' },
} as const;

/**
 * The page. Its URLs are relative to `/api/docs` (so they hold behind a path prefix too); Swagger UI's online
 * validator badge is off (it would call validator.swagger.io).
 */
export function docsPageHtml(): string {
  return `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>whatsapp-service API</title>
  <link rel="icon" href="data:,">
  <link rel="stylesheet" href="docs/swagger-ui.css">
</head>
<body>
  <div id="swagger-ui"></div>
  <script src="docs/swagger-ui-bundle.js"></script>
  <script>
    window.ui = SwaggerUIBundle({
      url: 'openapi.json',
      dom_id: '#swagger-ui',
      deepLinking: true,
      validatorUrl: null,
      persistAuthorization: false,
      docExpansion: 'list',
      defaultModelsExpandDepth: 0,
    });
  </script>
</body>
</html>
`;
}
