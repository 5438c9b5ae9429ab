// Types of build.mjs (plain JavaScript, so that `node web/build.mjs` runs without a build).
export declare const outDir: string;
export declare function buildWeb(): Promise<string>;
