// Development server: the built console under /console/ and every other path proxied to the
// platform, so the browser sees one origin exactly as it will behind api-gateway. It sends the
// strict CSP the gateway is meant to send, so a CSP violation shows up in development too.
//   PORT=3300 API_UPSTREAM=http://127.0.0.1:3200 node scripts/serve.mjs
import http from 'node:http';
import { createReadStream, statSync } from 'node:fs';
import { extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../dist/', import.meta.url));
const port = Number(process.env.PORT ?? 3300);
const host = process.env.HOST ?? '127.0.0.1';
const upstream = new URL(process.env.API_UPSTREAM ?? 'http://127.0.0.1:3200');
const CSP = process.env.CONSOLE_CSP ?? "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'; form-action 'self'";
const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml', '.png': 'image/png', '.woff2': 'font/woff2', '.json': 'application/json' };

function serveStatic(req, res) {
  let rel = decodeURIComponent(new URL(req.url, 'http://x').pathname).slice('/console/'.length) || 'index.html';
  const file = normalize(join(root, rel));
  if (!file.startsWith(root)) return void res.writeHead(404).end();
  let st;
  try {
    st = statSync(file);
  } catch {
    st = null;
  }
  if (!st || !st.isFile()) return void res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
  res.writeHead(200, {
    'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
    'content-length': st.size,
    'content-security-policy': CSP,
    'x-content-type-options': 'nosniff',
    'cache-control': rel.startsWith('assets/') ? 'public, max-age=31536000, immutable' : 'no-cache',
  });
  createReadStream(file).pipe(res);
}

function proxy(req, res) {
  const out = http.request(
    { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: { ...req.headers, host: upstream.host } },
    (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    },
  );
  out.on('error', (e) => {
    if (!res.headersSent) res.writeHead(502, { 'content-type': 'application/problem+json' });
    res.end(JSON.stringify({ title: 'Bad Gateway', status: 502, code: 'UPSTREAM_DOWN', detail: e.message }));
  });
  req.pipe(out);
  res.on('close', () => out.destroy());
}

http
  .createServer((req, res) => {
    const path = req.url ?? '/';
    if (path === '/console') return void res.writeHead(308, { location: '/console/' }).end();
    if (path.startsWith('/console/')) return serveStatic(req, res);
    proxy(req, res);
  })
  .listen(port, host, () => console.log(`console on http://${host}:${port}/console/ -> API ${upstream.origin}`));
