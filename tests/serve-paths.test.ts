// web/serve.mjs against paths that try to leave its folders: `..` plain, percent-encoded
// (%2e%2e, %2f, %5c), doubled slashes, absolute paths, NUL bytes, malformed escapes, a
// symlink inside the served folder that points outside it, and fast-check's combinations of
// all of these. Each must get 404 (or a file from inside the folders), never the secret
// file beside them, and the server must still answer afterwards (a bad escape once threw
// from the request handler and took the process down).
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { serve } from '../web/serve.mjs';

const SECRET = 'the secret beside the served folders';
let dir: string;
let server: { url: string; close: () => Promise<void> };
let port: number;

// A raw GET: `path` goes on the wire as written (fetch and URL would normalize `..` first).
function get(path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'GET' }, (res) => {
      let body = '';
      res.setEncoding('latin1');
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.setTimeout(5000, () => req.destroy(new Error(`${path}: no answer in 5 s`)));
    req.on('error', reject);
    req.end();
  });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'serve-paths-'));
  mkdirSync(join(dir, 'web'));
  mkdirSync(join(dir, 'data'));
  writeFileSync(join(dir, 'secret.txt'), SECRET);
  writeFileSync(join(dir, 'web', 'index.html'), '<p>page</p>');
  writeFileSync(join(dir, 'data', 'model.bin'), 'weights');
  symlinkSync(join(dir, 'secret.txt'), join(dir, 'data', 'link.txt'));
  symlinkSync(dir, join(dir, 'web', 'up'));
  server = await serve({ webDir: join(dir, 'web'), dataDir: join(dir, 'data') });
  port = Number(new URL(server.url).port);
});

afterAll(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

const HOSTILE = [
  '/../secret.txt', '/%2e%2e/secret.txt', '/%2E%2E%2Fsecret.txt', '/..%2fsecret.txt', '/data/../../secret.txt',
  '/data/..%2f..%2fsecret.txt', '/data/%2e%2e%2f%2e%2e%2fsecret.txt', '/data/..%5c..%5csecret.txt', `//${'x'}/../secret.txt`,
  '/%2F' + 'tmp', `/%2F${'etc'}%2Fpasswd`, '/data/link.txt', '/up/secret.txt', '/data/model.bin%00.html', '/%00', '/%',
  '/%E0%A4%A', '/%ZZ', '/data/%c0%ae%c0%ae/secret.txt', '/models/../../secret.txt', '/models/..%2f..%2f..%2fsecret.txt',
];

describe('web/serve.mjs keeps to its folders', () => {
  test('binds to 127.0.0.1 and serves what is inside', async () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
    expect(await get('/')).toEqual({ status: 200, body: '<p>page</p>' });
    expect(await get('/data/model.bin')).toEqual({ status: 200, body: 'weights' });
  });

  test.each(HOSTILE)('%s gets 404', async (path) => {
    const r = await get(path);
    expect(r.body).not.toContain(SECRET);
    expect(r.status).toBe(404);
    expect((await get('/data/model.bin')).status).toBe(200); // still up
  });

  test('combinations of traversal pieces never reach the secret (fast-check)', async () => {
    const piece = fc.constantFrom('..', '%2e%2e', '%2E%2e', '.', '%2e', '/', '%2f', '%2F', '%5c', '\\', 'data', 'models', 'up', 'secret.txt', 'link.txt', '%00', '%', '%E0%A4', 'model.bin', '%252e%252e');
    await fc.assert(fc.asyncProperty(fc.array(piece, { minLength: 1, maxLength: 8 }), async (pieces) => {
      const path = '/' + pieces.join('');
      const r = await get(path.replace(/\\/g, '%5c'));
      expect(r.body).not.toContain(SECRET);
      expect([200, 404]).toContain(r.status);
    }), { numRuns: 300, seed: 7 });
    expect((await get('/data/model.bin')).status).toBe(200);
  });
});
