// esbuild's side of `import text from './file.ts?raw'` (Vite, and so vitest, has it built in):
// the file's text as a string module. tsup.config.ts and web/build.mjs use it, so the
// explorer and `llama-ts explain` carry the reference code they show (src/explain/sources.ts).
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

export const rawPlugin = {
  name: 'raw',
  setup(build) {
    build.onResolve({ filter: /\?raw$/ }, (args) => ({ path: resolve(args.resolveDir, args.path.slice(0, -'?raw'.length)), namespace: 'raw' }));
    build.onLoad({ filter: /.*/, namespace: 'raw' }, (args) => ({ contents: readFileSync(args.path, 'utf8'), loader: 'text' }));
  },
};
