// GET /docs: the human-readable API reference - swagger-ui served from the installed swagger-ui-dist
// package (no CDN; the machine may be offline), pointed at /openapi.json. Only a fixed list of asset
// files is served, read once and kept in memory.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);
const distDir = path.dirname(require.resolve('swagger-ui-dist/package.json'));

const ASSETS: Record<string, string> = {
  'swagger-ui.css': 'text/css; charset=utf-8',
  'index.css': 'text/css; charset=utf-8',
  'swagger-ui-bundle.js': 'text/javascript; charset=utf-8',
  'swagger-ui-standalone-preset.js': 'text/javascript; charset=utf-8',
  'favicon-32x32.png': 'image/png',
  'favicon-16x16.png': 'image/png',
};

const INDEX_HTML = `<!DOCTYPE html>
<html lang="en">
  <head>
    <meta charset="UTF-8">
    <title>tx-lookup Admin API</title>
    <link rel="stylesheet" type="text/css" href="/docs/swagger-ui.css" />
    <link rel="stylesheet" type="text/css" href="/docs/index.css" />
    <link rel="icon" type="image/png" href="/docs/favicon-32x32.png" sizes="32x32" />
  </head>
  <body>
    <div id="swagger-ui"></div>
    <script src="/docs/swagger-ui-bundle.js" charset="UTF-8"></script>
    <script src="/docs/swagger-ui-standalone-preset.js" charset="UTF-8"></script>
    <script src="/docs/swagger-initializer.js" charset="UTF-8"></script>
  </body>
</html>
`;

const INITIALIZER_JS = `window.onload = function () {
  window.ui = SwaggerUIBundle({
    url: '/openapi.json',
    dom_id: '#swagger-ui',
    deepLinking: true,
    persistAuthorization: false,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    plugins: [SwaggerUIBundle.plugins.DownloadUrl],
    layout: 'StandaloneLayout',
  });
};
`;

const cache = new Map<string, Uint8Array<ArrayBuffer>>();

function asset(name: string): Uint8Array<ArrayBuffer> {
  let body = cache.get(name);
  if (!body) {
    body = new Uint8Array(readFileSync(path.join(distDir, name)));
    cache.set(name, body);
  }
  return body;
}

/** The response for a GET under /docs, or null when the path is not a docs page or asset. */
export function docsResponse(pathname: string): Response | null {
  if (pathname === '/docs' || pathname === '/docs/' || pathname === '/docs/index.html') {
    return new Response(INDEX_HTML, { status: 200, headers: { 'content-type': 'text/html; charset=utf-8' } });
  }
  if (pathname === '/docs/swagger-initializer.js') {
    return new Response(INITIALIZER_JS, {
      status: 200,
      headers: { 'content-type': 'text/javascript; charset=utf-8' },
    });
  }
  const name = pathname.startsWith('/docs/') ? pathname.slice('/docs/'.length) : '';
  const contentType = ASSETS[name];
  if (!contentType) return null;
  return new Response(asset(name), {
    status: 200,
    headers: { 'content-type': contentType, 'cache-control': 'public, max-age=3600' },
  });
}
