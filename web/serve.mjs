#!/usr/bin/env node
// A tiny static server for the page (build/web/) and model files, with the headers that make
// the page cross-origin isolated: without them a browser hands out no SharedArrayBuffer,
// and the WASM kernels' shared memory cannot exist.
//
//   node web/serve.mjs [--data DIR] [--port 8080]
//
// serves build/web/ at /, the repository's models/ (the embedded default model) at /models/,
// and DIR (default ../shared/data) at /data/, on 127.0.0.1 only.
import { createReadStream, realpathSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { dirname, extname, join, normalize, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

const TYPES = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.map': 'application/json',
  '.wasm': 'application/wasm',
};

export const ISOLATION_HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
};

// The file a URL path names under `base`, or undefined when it would leave `base`: by `..`
// (plain or percent-encoded), by a symlink that points outside, by a NUL byte, or by a
// malformed escape (decodeURIComponent throws a URIError, which thrown from the request
// handler once left the request unanswered; found by tests/serve-paths.test.ts).
function fileUnder(base, urlPath) {
  let decoded;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return undefined;
  }
  if (decoded.includes('\0')) return undefined;
  const path = normalize(join(base, decoded));
  if (!(path === base || path.startsWith(base + sep))) return undefined;
  try {
    const real = realpathSync(path);
    const realBase = realpathSync(base);
    return real === realBase || real.startsWith(realBase + sep) ? real : undefined;
  } catch {
    return undefined; // missing
  }
}

const MODELS_DIR = join(root, 'models');

function locate(urlPath, webDir, dataDir) {
  if (urlPath.startsWith('/data/')) return fileUnder(dataDir, urlPath.slice('/data/'.length));
  if (urlPath.startsWith('/models/')) return fileUnder(MODELS_DIR, urlPath.slice('/models/'.length));
  return fileUnder(webDir, urlPath === '/' ? 'index.html' : urlPath);
}

// Starts the server; resolves to { url, close() } once it listens (port 0: any free port).
export function serve({ webDir = join(root, 'build/web'), dataDir = resolve(root, '../shared/data'), port = 0, host = '127.0.0.1' } = {}) {
  const server = createServer((req, res) => {
    let file;
    try {
      // `//host/...` is a valid request target but an invalid URL relative to a base: a
      // TypeError here once left the request unanswered (tests/serve-paths.test.ts).
      file = locate(new URL(`http://localhost${req.url ?? '/'}`).pathname, resolve(webDir), resolve(dataDir));
    } catch {
      file = undefined;
    }
    let size = -1;
    try {
      if (file && statSync(file).isFile()) size = statSync(file).size;
    } catch {
      // missing: 404 below
    }
    if (size < 0) {
      res.writeHead(404, ISOLATION_HEADERS).end('not found');
      return;
    }
    res.writeHead(200, {
      ...ISOLATION_HEADERS,
      'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream',
      'Content-Length': size,
      'Cache-Control': 'no-store',
    });
    createReadStream(file).on('error', () => res.destroy()).pipe(res);
  });
  return new Promise((resolvePromise, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const { port: bound } = server.address();
      resolvePromise({
        url: `http://${host}:${bound}/`,
        close: () => new Promise((done) => server.close(() => done())),
      });
    });
  });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const value = (flag, fallback) => (args.includes(flag) ? args[args.indexOf(flag) + 1] : fallback);
  const port = Number(value('--port', '8080'));
  const { url } = await serve({ dataDir: resolve(value('--data', resolve(root, '../shared/data'))), port });
  console.log(`llama-ts page at ${url} (the default model at ${url}models/kjv.gguf, more under ${url}data/); Ctrl-C stops`);
}
