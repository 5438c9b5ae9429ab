// Shared by the browser tests: build the page (web/build.mjs → build/web/), serve it and a data
// folder cross-origin isolated (web/serve.mjs, 127.0.0.1 only), and open it in Debian's
// Chromium headless through playwright-core (.ci/run installs /usr/bin/chromium; no skip).
import { chromium, type Browser, type Page } from 'playwright-core';
import { buildWeb } from '../web/build.mjs';
import { serve } from '../web/serve.mjs';

export const CHROMIUM = '/usr/bin/chromium';

// ../shared/data/README.md: llama2.c's run.c, greedy, on stories260K with tok512 (also
// asserted of the CLI in tests/cli.test.ts, which prints a final newline after it).
export const STORY =
  'Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red ball. She wanted to play with it, but it was too high.\nLily';

export interface OpenPage {
  page: Page;
  url: string;
  pageErrors: string[]; // every uncaught error on the page
  close(): Promise<void>;
}

// The page, loaded until `ready` (a global the page defines) exists; `dataDir` is served at
// /data/ (default ../shared/data), `flags` go to Chromium, `path` is the page (default index.html).
export async function openPage(ready: string, options: { dataDir?: string; flags?: string[]; path?: string } = {}): Promise<OpenPage> {
  await buildWeb();
  const server = await serve(options.dataDir ? { dataDir: options.dataDir } : {});
  let browser: Browser | undefined;
  try {
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-dev-shm-usage', ...(options.flags ?? [])] });
    const page = await browser.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await page.goto(server.url + (options.path ?? ''));
    await page.waitForFunction((name) => name in globalThis, ready);
    const opened = browser;
    return { page, url: server.url, pageErrors, close: async () => { await opened.close(); await server.close(); } };
  } catch (error) {
    await browser?.close();
    await server.close();
    throw error;
  }
}
