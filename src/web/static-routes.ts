/**
 * The web dashboard's files, served by the REST server: the page at `/`, its own modules and
 * styles under `/ui/`, and the front-end libraries (Preact, htm) under `/ui/vendor/`, read from
 * their installed packages so there is no copy to keep in step and no CDN to reach. The files are
 * public (they hold no data and no secret): the page asks for the token itself and sends it only
 * in the Authorization header of its API calls.
 */
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { extname, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Context, Hono } from 'hono';

/** `web/` at the package root: two levels up from both src/web/ and dist/web/. */
const WEB_ROOT = resolve(import.meta.dirname, '..', '..', 'web');

/** What the page imports by bare name -> the file of the installed package that provides it. */
const VENDOR: Readonly<Record<string, { specifier: string; file: string }>> = {
  preact: { specifier: 'preact', file: 'preact.mjs' },
  'preact/hooks': { specifier: 'preact/hooks', file: 'preact-hooks.mjs' },
  htm: { specifier: 'htm', file: 'htm.mjs' },
};

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/** Where the import map goes in web/index.html. */
const IMPORT_MAP_SLOT = '<!-- importmap -->';

/** GET/HEAD requests for the dashboard need no token: the page must load to ask for it. */
export function isDashboardPath(path: string): boolean {
  return path === '/' || path === '/ui' || path.startsWith('/ui/');
}

export function mountDashboard(app: Hono): void {
  app.get('/', (c) => servePage(c));
  app.get('/ui/vendor/:file', (c) => {
    const entry = Object.values(VENDOR).find((vendor) => vendor.file === c.req.param('file'));
    if (!entry) return notFound(c);
    let path: string;
    try {
      path = fileURLToPath(import.meta.resolve(entry.specifier));
    } catch {
      return c.text(
        `the dashboard needs the npm package "${entry.specifier.split('/')[0]}", which is not installed: reinstall mittelo (npm install)`,
        500,
      );
    }
    return serveFile(c, path);
  });
  app.get('/ui/*', (c) => {
    const relative = c.req.path.slice('/ui/'.length);
    const path = resolve(WEB_ROOT, relative);
    // Only files inside web/ (no `..` escapes), and only the kinds a page needs.
    if (!path.startsWith(WEB_ROOT + sep) || !(extname(path) in CONTENT_TYPES) || path.endsWith('.html')) {
      return notFound(c);
    }
    return serveFile(c, path);
  });
}

function notFound(c: Context): Response {
  return c.json(
    { error: `no dashboard file at ${c.req.path}; the dashboard is at /`, code: 'not_found' },
    404,
  );
}

/**
 * Every answer is revalidated (`no-cache` + ETag): an upgraded mittelo shows its new page at once,
 * and an unchanged file costs a 304.
 */
async function serveFile(c: Context, path: string): Promise<Response> {
  let info: Awaited<ReturnType<typeof stat>>;
  try {
    info = await stat(path);
  } catch {
    return notFound(c);
  }
  if (!info.isFile()) return notFound(c);
  const etag = `W/"${info.size.toString(16)}-${Math.floor(info.mtimeMs).toString(16)}"`;
  const headers: Record<string, string> = {
    'content-type': CONTENT_TYPES[extname(path)] ?? 'application/octet-stream',
    'cache-control': 'no-cache',
    etag,
    'x-content-type-options': 'nosniff',
  };
  if (c.req.header('if-none-match') === etag) return new Response(null, { status: 304, headers });
  return new Response(await readFile(path), { headers });
}

/** The page, with the import map filled in and a Content-Security-Policy allowing just that script. */
async function servePage(c: Context): Promise<Response> {
  let template: string;
  try {
    template = await readFile(resolve(WEB_ROOT, 'index.html'), 'utf8');
  } catch {
    return c.text('the dashboard files (web/) are missing from this install: reinstall mittelo', 500);
  }
  const imports = Object.fromEntries(
    Object.entries(VENDOR).map(([name, vendor]) => [name, `/ui/vendor/${vendor.file}`]),
  );
  const importMap = JSON.stringify({ imports });
  const hash = createHash('sha256').update(importMap).digest('base64');
  const page = template.replace(IMPORT_MAP_SLOT, `<script type="importmap">${importMap}</script>`);
  return c.html(page, 200, {
    'cache-control': 'no-cache',
    'x-content-type-options': 'nosniff',
    // Not `no-referrer`: under it a browser may send `Origin: null` on the page's own POSTs
    // (the Fetch standard says so), which the hub refuses; `same-origin` still tells other sites nothing.
    'referrer-policy': 'same-origin',
    'x-frame-options': 'DENY',
    'content-security-policy': [
      "default-src 'self'",
      `script-src 'self' 'sha256-${hash}'`,
      "style-src 'self'",
      "img-src 'self' data:",
      "connect-src 'self'",
      "base-uri 'none'",
      "form-action 'none'",
      "frame-ancestors 'none'",
    ].join('; '),
  });
}
