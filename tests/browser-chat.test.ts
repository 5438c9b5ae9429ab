// The page's chat mode in Chromium (as tests/browser.test.ts drives the page): the chat
// worker keeps stories260K and the conversation, so turn 2 reuses the KV cache; replies
// equal Node's library chat, greedy; and the page's toggle, messages list and input work.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { ChatStats } from '../src/browser.js';
import { loadLlama } from '../src/llama.js';
import { outDir } from '../web/build.mjs';
import { openPage, type OpenPage } from './browser-helpers.js';

const MODEL = 'data/stories260K/stories260K.gguf';
const SYSTEM = 'You tell stories.';

let opened: OpenPage;
let page: Page;

beforeAll(async () => {
  opened = await openPage('llamaChat');
  page = opened.page;
}, 300_000);

afterAll(async () => {
  await opened?.close();
});

interface Turn { reply: string; stats: ChatStats }

// Node's replies to the same conversation, turn by turn.
async function nodeReplies(questions: string[]): Promise<string[]> {
  const llama = await loadLlama({ model: `../shared/data/stories260K/stories260K.gguf`, chatTemplate: 'zephyr', threads: 1 });
  const messages = [{ role: 'system', content: SYSTEM }];
  const replies: string[] = [];
  for (const q of questions) {
    messages.push({ role: 'user', content: q });
    let reply = '';
    for await (const text of llama.chat(messages, { temperature: 0, maxTokens: 20 })) reply += text;
    messages.push({ role: 'assistant', content: reply });
    replies.push(reply);
  }
  await llama.close();
  return replies;
}

describe("the page's chat mode in Chromium", () => {
  test('the chat worker bundle imports no node: module statically', () => {
    const code = readFileSync(join(outDir, 'chat-worker.js'), 'utf8');
    expect(code).not.toMatch(/^\s*import\b[^(]*["']node:/m);
  });

  test('window.llamaChat: two turns on one kept cache, then a reset; the replies Node gives', async () => {
    const r = await page.evaluate(async ([model, system]) => {
      type Client = { start(o: object): Promise<string>; say(t: string, o: object): Promise<Turn>; reset(): Promise<void>; close(): void };
      const chat = (globalThis as unknown as { llamaChat(): Client }).llamaChat();
      const options = { system, maxTokens: 20, temperature: 0 };
      const template = await chat.start({ modelUrl: model, chatTemplate: 'zephyr', threads: 1 });
      const turn1 = await chat.say('Tell me about Lily.', options);
      const turn2 = await chat.say('What did she see?', options);
      await chat.reset();
      const turn3 = await chat.say('Tell me about Lily.', options);
      chat.close();
      return { template, turn1, turn2, turn3 };
    }, [MODEL, SYSTEM] as const);
    expect(r.template).toBe('built-in zephyr');
    expect(r.turn1.stats).toMatchObject({ reused: 0, generated: 20 });
    expect(r.turn2.stats.reused).toBeGreaterThanOrEqual(r.turn1.stats.promptTokens);
    expect(r.turn2.stats.evaluated).toBeLessThan(r.turn2.stats.reused);
    expect(r.turn3.stats).toMatchObject({ evaluated: 1, reused: r.turn1.stats.promptTokens - 1 });
    expect([r.turn1.reply, r.turn2.reply]).toEqual(await nodeReplies(['Tell me about Lily.', 'What did she see?']));
    expect(r.turn3.reply).toBe(r.turn1.reply);
  });

  test('the toggle shows the chat; a message sent through the input gets its reply in the list; the default stays generate', async () => {
    expect(await page.isVisible('#generate')).toBe(true);
    expect(await page.isVisible('#chat')).toBe(false);
    await page.check('#chat-mode');
    expect(await page.isVisible('#generate')).toBe(false);
    await page.fill('#model', MODEL);
    await page.selectOption('#chat-template', 'zephyr');
    await page.fill('#system', SYSTEM);
    await page.fill('#max-tokens', '20');
    await page.fill('#temperature', '0');
    for (const message of ['Tell me about Lily.', 'What did she see?']) {
      // the turn is over when the status shows this turn's stats: the previous turn's also say
      // "reused", so the status must have changed since the message was sent
      const before = await page.textContent('#status');
      await page.fill('#chat-input', message);
      await page.click('#chat-send');
      await page.waitForFunction(([n, previous]) => {
        const status = document.getElementById('status')!.textContent!;
        return document.querySelectorAll('#messages li').length === n && status !== previous && /reused/.test(status);
      }, [message === 'Tell me about Lily.' ? 2 : 4, before] as const);
    }
    const items = await page.$$eval('#messages li', (lis) => lis.map((li) => [li.className, li.textContent]));
    const replies = await nodeReplies(['Tell me about Lily.', 'What did she see?']);
    expect(items).toEqual([['user', 'Tell me about Lily.'], ['assistant', replies[0]], ['user', 'What did she see?'], ['assistant', replies[1]]]);
    expect(await page.textContent('#status')).toMatch(/^\d+ new tokens evaluated, [1-9]\d* reused; 20 tokens generated$/);
    await page.click('#chat-reset');
    await page.waitForFunction(() => document.querySelectorAll('#messages li').length === 0);
    await page.uncheck('#chat-mode');
    expect(await page.isVisible('#generate')).toBe(true);
    expect(opened.pageErrors).toEqual([]);
  });
});
