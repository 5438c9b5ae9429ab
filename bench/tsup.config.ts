import { copyFileSync, existsSync } from 'node:fs';
import { defineConfig } from 'tsup';

// The benches, bundled to build/bench/*.js (gitignored) so that plain `node` runs them.
// Packages stay external: node-llama-cpp loads native binaries relative to itself.
// The WASM backend looks for its assets (kernels .wasm, the worker script) beside the
// bundle, so the current builds from build/ are copied there.
const ASSETS = ['kernels.wasm', 'kernels-relaxed.wasm', 'wasm-worker.mjs'];

export default defineConfig({
  entry: { e2e: 'bench/e2e.ts', kernels: 'bench/kernels.ts', train: 'bench/train.ts', perplexity: 'bench/perplexity.ts', 'quant-quality': 'bench/quant-quality.ts', disasm: 'bench/disasm.ts', native: 'bench/native.ts', memory: 'bench/memory.ts' },
  outDir: 'build/bench',
  format: ['esm'],
  target: 'node20',
  platform: 'node',
  sourcemap: true,
  clean: false, // build/bench/ may hold other files (scale-7b's output)
  skipNodeModulesBundle: true,
  onSuccess: async () => {
    for (const file of ASSETS) if (existsSync(`build/${file}`)) copyFileSync(`build/${file}`, `build/bench/${file}`);
  },
});
