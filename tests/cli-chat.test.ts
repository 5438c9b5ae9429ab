// llama-ts chat and generate --chat as a user runs them (the built dist/cli.js), on the
// embedded models/kjv.gguf (a SentencePiece vocabulary and no template of its own, so a
// built-in template is picked with --chat-template), greedy.
import { spawn, spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { describe, expect, test } from 'vitest';
import { loadLlama } from '../src/llama.js';

const root = resolve(__dirname, '..');
const cli = (args: string[], input?: string) =>
  spawnSync(process.execPath, [join(root, 'dist/cli.js'), ...args], { encoding: 'utf8', input, timeout: 120_000 });
const GREEDY = ['--chat-template', 'llama-2', '--temperature', '0', '--max-tokens', '16', '--threads', '1'];

// What the library replies to the conversation, for the CLI to match.
async function libraryReply(messages: { role: string; content: string }[]): Promise<string> {
  const llama = await loadLlama({ chatTemplate: 'llama-2', threads: 1 });
  let reply = '';
  for await (const text of llama.chat(messages, { temperature: 0, maxTokens: 16 })) reply += text;
  await llama.close();
  return reply;
}

describe('generate --chat', () => {
  test("prints the assistant's reply to the prompt as a user's message, deterministically, as the library's chat", async () => {
    const args = ['generate', '--chat', '--system', 'You are a prophet.', '--prompt', 'Who made the heaven?', ...GREEDY];
    const r = cli(args);
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/16 tokens in .* tok\/s/);
    const reply = await libraryReply([{ role: 'system', content: 'You are a prophet.' }, { role: 'user', content: 'Who made the heaven?' }]);
    expect(reply.length).toBeGreaterThan(10);
    expect(r.stdout).toBe(`${reply}\n`);
    expect(cli(args).stdout).toBe(r.stdout);
  });

  test('flags that need --chat or a template are clear errors', () => {
    expect(cli(['generate', '--system', 'x']).stderr).toMatch(/--system and --context-shift need --chat/);
    expect(cli(['generate', '--chat', '--prompt', 'hi']).stderr).toMatch(/this model has no chat template .*--chat-template/);
    expect(cli(['generate', '--chat', '--chat-template', 'alpaca']).stderr).toMatch(/unknown chat template "alpaca" \(built-in: llama-2, llama-3, chatml, zephyr\)/);
  });
});

describe('llama-ts chat through stdin', () => {
  const statsOf = (stderr: string) => [...stderr.matchAll(/turn (\d+): (\d+) new tokens? evaluated, (\d+) reused; (\d+) tokens? in/g)]
    .map((m) => ({ turn: Number(m[1]), evaluated: Number(m[2]), reused: Number(m[3]), generated: Number(m[4]) }));

  test('two turns, /reset and one more: replies stream on stdout, the cache is reused, the stats line says how much', async () => {
    const r = cli(['chat', '--system', 'You are a prophet.', ...GREEDY], 'Who made the heaven?\nAnd the earth?\n/reset\nWho made the heaven?\n/exit\n');
    expect(r.status).toBe(0);
    const [turn1, turn2, turn3] = statsOf(r.stderr);
    expect(turn1).toMatchObject({ turn: 1, reused: 0, generated: 16 });
    // turn 2 evaluates only what turn 1 did not leave in the cache: at least its prompt is reused
    expect(turn2.turn).toBe(2);
    expect(turn2.reused).toBeGreaterThanOrEqual(turn1.evaluated);
    expect(turn2.evaluated).toBeLessThan(turn2.reused);
    // after /reset the same first question: all of it is in the cache but its last token
    expect(turn3).toMatchObject({ turn: 3, evaluated: 1, reused: turn1.evaluated - 1 });
    expect(r.stderr).toContain('(conversation reset)');

    const first = await libraryReply([{ role: 'system', content: 'You are a prophet.' }, { role: 'user', content: 'Who made the heaven?' }]);
    const replies = r.stdout.split('> ').filter((s) => s.trim() !== '');
    expect(replies).toHaveLength(3);
    expect(replies[0]).toBe(`${first}\n`);
    expect(replies[2]).toBe(`${first}\n`); // the same conversation again gives the same reply
    expect(replies[1]).not.toBe(replies[0]);
  });

  test('/system sets the system message; Ctrl-D ends; a conversation outgrowing the context is an error, or shifts with --context-shift', () => {
    const r = cli(['chat', ...GREEDY, '--context', '64'], '/system Be brief.\nWho made the heaven and the earth?\nAnd the sea?\n');
    expect(r.status).toBe(0);
    expect(r.stderr).toContain('(system message set)');
    expect(r.stderr).toMatch(/turn 1: \d+ new tokens evaluated, 0 reused/);
    expect(r.stderr).toMatch(/error: the conversation is \d+ tokens long: too long for the context of 64 tokens/);
    expect(r.stderr).not.toMatch(/turn 2/);

    const shifted = cli(['chat', ...GREEDY, '--context', '64', '--context-shift'], 'Who made the heaven and the earth?\nAnd the sea?\nAnd the stars?\n');
    expect(shifted.status).toBe(0);
    expect(shifted.stderr).not.toMatch(/error/);
    expect(shifted.stderr).toMatch(/turn 3: \d+ new tokens evaluated, \d+ reused, 2 oldest messages dropped/);
  });

  test('a model without a template is a clear error', () => {
    const r = cli(['chat'], 'hi\n');
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/has no chat template: pick a built-in one with --chat-template llama-2\|llama-3\|chatml\|zephyr/);
  });
});

describe('Ctrl-C in llama-ts chat', () => {
  test('stops the reply being written, not the program: the next message still gets its turn', async () => {
    const STORIES = resolve(root, '../shared/data/stories260K/stories260K.gguf');
    const args = ['--model', STORIES, '--chat-template', 'zephyr', '--temperature', '0', '--max-tokens', '400', '--backend', 'ts'];
    // the same turn uninterrupted, for its length
    const llama = await loadLlama({ model: STORIES, chatTemplate: 'zephyr', backend: 'ts' });
    let full = 0;
    for await (const chunk of llama.chatChunks([{ role: 'user', content: 'Tell me a story.' }], { temperature: 0, maxTokens: 400 })) {
      if (chunk.stats) full = chunk.stats.generated;
    }
    await llama.close();
    expect(full).toBeGreaterThan(100);

    const child = spawn(process.execPath, [join(root, 'dist/cli.js'), 'chat', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let interrupted = false;
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      // a few words of the reply are out: Ctrl-C, then the next message and the end of input
      if (!interrupted && stdout.replace(/^> /, '').length > 20) {
        interrupted = true;
        child.kill('SIGINT');
        child.stdin.end('And then?\n');
      }
    });
    child.stdin.write('Tell me a story.\n');
    const code = await new Promise<number | null>((done) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
      child.on('exit', (c) => (clearTimeout(timer), done(c)));
    });
    expect(interrupted).toBe(true);
    expect(code).toBe(0);
    const turns = [...stderr.matchAll(/turn (\d+): .*; (\d+) tokens? in/g)].map((m) => [Number(m[1]), Number(m[2])]);
    expect(turns).toHaveLength(2);
    expect(turns[0][1]).toBeLessThan(full); // the first reply was cut short
    expect(turns[1][0]).toBe(2); // and the program went on to the next message
  }, 180_000);
});
