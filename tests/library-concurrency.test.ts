// The library's other doors (issue 19 item 4): two generations on one model at once, and
// close() in the middle of a generation. Neither may corrupt the KV cache or hang.
import { describe, expect, test } from 'vitest';
import { loadLlama } from '../src/llama.js';

const model = '../shared/data/stories260K/stories260K.bin';
const tokenizer = '../shared/data/stories260K/tok512.bin';
const greedy = { temperature: 0, maxTokens: 40 };

async function collect(gen: AsyncGenerator<string>): Promise<string> {
  let text = '';
  for await (const t of gen) text += t;
  return text;
}

describe('one model, concurrent callers', () => {
  test('a second generation while one runs is refused, and the first one finishes unharmed', async () => {
    const llama = await loadLlama({ model, tokenizer, threads: 2 });
    try {
      const alone = await collect(llama.generate('Once upon a time', greedy));
      const first = llama.generate('Once upon a time', greedy);
      let text = (await first.next()).value as string; // the first one now holds the KV cache
      await expect(collect(llama.generate('The cat', greedy))).rejects.toThrow(/already generating/);
      text += await collect(first);
      expect(text).toBe(alone);
      // and once it is done, the model takes the next one
      expect(await collect(llama.generate('Once upon a time', greedy))).toBe(alone);
    } finally {
      await llama.close();
    }
  }, 120_000);

  test('close() during a generation ends it at the next token, and later calls say the model is closed', async () => {
    for (const threads of [1, 2]) {
      const llama = await loadLlama({ model, tokenizer, threads });
      const gen = llama.generate('Once upon a time', { temperature: 0, maxTokens: 200 });
      const first = (await gen.next()).value as string;
      expect(first.length).toBeGreaterThan(0);
      await llama.close();
      const rest = collect(gen);
      const outcome = await Promise.race([rest, new Promise<'hang'>((r) => setTimeout(() => r('hang'), 10_000))]);
      expect(outcome).toBe(''); // nothing after close(), and no hang
      await expect(collect(llama.generate('The cat', greedy))).rejects.toThrow(/closed/);
      await llama.close(); // twice is harmless
    }
  }, 120_000);
});
