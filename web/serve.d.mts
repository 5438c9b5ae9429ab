// Types of serve.mjs (plain JavaScript, so that `node web/serve.mjs` runs without a build).
export declare const ISOLATION_HEADERS: Record<string, string>;
export declare function serve(options?: { webDir?: string; dataDir?: string; port?: number; host?: string }): Promise<{ url: string; close(): Promise<void> }>;
