// `import text from './file.ts?raw'`: a file's text, inlined at build time (Vite does it in the
// tests; tsup.config.ts and web/build.mjs give esbuild the same rule), so the explorer and
// `llama-ts explain` can show the reference code that computed each view.
declare module '*?raw' {
  const text: string;
  export default text;
}
