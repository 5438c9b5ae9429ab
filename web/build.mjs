#!/usr/bin/env node
// Bundles the page (web/) to build/web/:
//
//   index.html            the page
//   app.js                its script (web/app.ts), a module
//   model-worker.js       the Web Worker that runs the model when threads > 1 (web/model-worker.ts)
//   chat-worker.js        the Web Worker of the chat mode, keeping model and conversation (web/chat-worker.ts)
//   explorer.html, explorer.js, explorer-worker.js   the explorer: one step of LLaMA explained
//                         (web/explorer.ts; its worker runs the reference forward pass with its trace)
//   kernels.wasm, kernels-relaxed.wasm, wasm-worker.mjs   beside them: the WASM backend
//                         fetches and starts them from its own URL (src/backends/wasm/)
//
//   node web/build.mjs    (npm run build:web; builds the kernels first when stale)
//
// The bundle must reach no `node:` module at its top level. Dynamic `import('node:…')`
// (only run behind isNode()) stays as it is; a static import is a build error.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { rawPlugin } from '../scripts/raw-plugin.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const webDir = join(root, 'web');
export const outDir = join(root, 'build', 'web');
const ASSETS = ['kernels.wasm', 'kernels-relaxed.wasm', 'wasm-worker.mjs'];

const nodeImports = {
  name: 'node-imports',
  setup(b) {
    b.onResolve({ filter: /^node:/ }, (args) => {
      if (args.kind === 'dynamic-import') return { path: args.path, external: true };
      const importer = relative(root, args.importer).split('\\').join('/');
      return { errors: [{ text: `${importer} imports ${args.path} at its top level: the browser bundle cannot (import it dynamically behind isNode())` }] };
    });
  },
};

export async function buildWeb() {
  execFileSync(process.execPath, [join(root, 'scripts/build-wasm.mjs'), '--if-stale'], { stdio: 'pipe' });
  mkdirSync(outDir, { recursive: true });
  await build({
    entryPoints: { app: join(webDir, 'app.ts'), 'model-worker': join(webDir, 'model-worker.ts'), 'chat-worker': join(webDir, 'chat-worker.ts'),
      explorer: join(webDir, 'explorer.ts'), 'explorer-worker': join(webDir, 'explorer-worker.ts') },
    outdir: outDir,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    sourcemap: true,
    plugins: [nodeImports, rawPlugin],
    logLevel: 'error',
  });
  for (const page of ['index.html', 'explorer.html']) copyFileSync(join(webDir, page), join(outDir, page));
  for (const file of ASSETS) copyFileSync(join(root, 'build', file), join(outDir, file));
  return outDir;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  buildWeb().then(
    (dir) => console.log(`build-web: ${dir} (serve it with \`node web/serve.mjs\`)`),
    (error) => {
      console.error(error.message);
      process.exitCode = 1;
    },
  );
}
