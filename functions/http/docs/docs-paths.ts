/**
 * The paths of the docs page's three routes. Declared with the routes in api-routes.ts (`docsPage`, `docsScript`,
 * `docsStyle`), which take them from here, so that the `docs` function's app (docs-app.ts) can serve them without
 * importing every route declaration and the zod schemas behind them. serverless.yml routes the same three paths to
 * the `docs` function (test/deploy/package.test.ts checks it against the declarations).
 */
export const docsPaths = {
  page: '/api/docs',
  script: '/api/docs/swagger-ui-bundle.js',
  style: '/api/docs/swagger-ui.css',
} as const;
