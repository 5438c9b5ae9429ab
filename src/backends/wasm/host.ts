// Where the kernels run: Node, a browser page, or a Web Worker. The WASM backend is also
// bundled for browsers (src/browser.ts, web/), so nothing here or in the backend imports a
// `node:` module at the top level: Node modules are reached only behind isNode().

export function isNode(): boolean {
  return typeof process !== 'undefined' && process.versions?.node !== undefined;
}

// A browser's main thread (a page, not a worker): Atomics.wait throws there, so the kernel
// threads (pool.ts), which block in it, cannot be driven from it.
export function isBrowserMainThread(): boolean {
  return !isNode() && typeof document !== 'undefined';
}

// Logical processors: os.availableParallelism() in Node (imported when asked, as every
// node: module here), navigator.hardwareConcurrency in a browser.
export async function hardwareThreads(): Promise<number> {
  if (isNode()) return (await import('node:os')).availableParallelism();
  return typeof navigator !== 'undefined' && navigator.hardwareConcurrency ? navigator.hardwareConcurrency : 1;
}

// Browsers hand out SharedArrayBuffer (and shared WASM memory, which the kernels import)
// only to cross-origin isolated pages and their workers.
export function checkSharedMemory(): void {
  if (typeof SharedArrayBuffer === 'undefined') {
    throw new Error(
      'wasm kernels: SharedArrayBuffer is unavailable; in a browser the page must be cross-origin isolated ' +
        '(served with Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp)',
    );
  }
}
