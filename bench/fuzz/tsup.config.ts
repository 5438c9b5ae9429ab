import { defineConfig } from 'tsup';

// The fuzzer, bundled to build/fuzz/ (gitignored) so that plain `node` runs it and its
// workers: fuzz.js (the runner) starts fuzz-worker.js beside it.
export default defineConfig({
  entry: { fuzz: 'bench/fuzz/fuzz.ts', 'fuzz-worker': 'bench/fuzz/worker.ts' },
  outDir: 'build/fuzz',
  format: ['esm'],
  target: 'node20',
  platform: 'node',
  sourcemap: true,
  clean: true,
  skipNodeModulesBundle: true,
});
