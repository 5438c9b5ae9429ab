import { defineConfig } from 'tsup';
import { rawPlugin } from './scripts/raw-plugin.mjs';

// Three builds: the library (ESM + CJS + .d.ts), the CLI (ESM, with a shebang), and the
// browser entry (ESM + .d.ts; src/browser.ts), which finds kernels*.wasm and wasm-worker.mjs
// beside it in dist/ and reaches Node modules only through dynamic imports behind isNode().
export default defineConfig([
  {
    entry: { index: 'src/index.ts' },
    format: ['esm', 'cjs'],
    dts: true,
    shims: true, // import.meta.url in the CJS build (finding golden/ and kernels.wasm)
    sourcemap: true,
    clean: true,
    target: 'node20',
    esbuildPlugins: [rawPlugin], // `?raw` imports: src/explain shows reference code
  },
  {
    entry: { cli: 'src/cli/main.ts' },
    format: ['esm'],
    sourcemap: true,
    target: 'node20',
    banner: { js: '#!/usr/bin/env node' },
    esbuildPlugins: [rawPlugin],
  },
  {
    entry: { browser: 'src/browser.ts' },
    format: ['esm'],
    dts: true,
    sourcemap: true,
    platform: 'browser',
    target: 'es2022',
    external: [/^node:/],
    removeNodeProtocol: false, // keep `node:` on the dynamic imports, so no bundler looks for npm 'fs'
    esbuildPlugins: [rawPlugin],
  },
]);
