import { writeTextAtomic } from '../io/atomic-file.js';
import { explainPromptReport } from '../explain/report.js';
import { loadLlama } from '../llama.js';
import { intFlag, numberFlag, parseCommand, stringFlag } from './options.js';

const help = `usage: llama-ts explain [--model FILE] [--tokenizer FILE] --prompt TEXT --out report.html [options]

Writes one self-contained HTML file (inline SVG, no script, nothing fetched) that explains one
step of the model on the prompt: the next-token distribution and how the sampling settings
reshape it, attention of one head (linear and log scale) and all heads of the layer, the logit
lens, RMSNorm, RoPE, SwiGLU's gate and the residual stream at one position, each view with
the reference code that computed it. Runs the readable reference (reference/model.ts).

  --model FILE       GGUF, llama2.c checkpoint or Hugging Face folder (default: the embedded model)
  --tokenizer FILE   tokenizer, for a llama2.c model
  --prompt TEXT      the text (BOS is put first)
  --out FILE         the HTML file to write
  --layer L          attention and internals of layer L (default: the last)
  --head H           attention of head H (default 0)
  --position P       internals at position P (default: the last)
  --temperature T    the distribution view's sampling settings (default 0: greedy)
  --top-k K, --top-p P, --min-p P
  --seed S           the draw of the sampled token (default 1)
`;

export async function explainCommand(argv: string[]): Promise<number> {
  const args = parseCommand(argv, {
    model: { type: 'string' }, tokenizer: { type: 'string' }, prompt: { type: 'string' }, out: { type: 'string' },
    layer: { type: 'string' }, head: { type: 'string' }, position: { type: 'string' },
    temperature: { type: 'string' }, 'top-k': { type: 'string' }, 'top-p': { type: 'string' }, 'min-p': { type: 'string' }, seed: { type: 'string' },
  }, help);
  if (!args) return 0;
  const v = args.values;
  const prompt = stringFlag(v, 'prompt');
  const out = stringFlag(v, 'out');
  if (prompt === undefined || !out) throw new Error('explain needs --prompt and --out (see llama-ts explain --help)');
  const llama = await loadLlama({ model: stringFlag(v, 'model'), tokenizer: stringFlag(v, 'tokenizer'), backend: 'ts' });
  try {
    const html = explainPromptReport(llama.model, llama.tokenizer, prompt, {
      layer: intFlag(v, 'layer'),
      head: intFlag(v, 'head'),
      position: intFlag(v, 'position'),
      sampling: { temperature: numberFlag(v, 'temperature') ?? 0, topK: intFlag(v, 'top-k') ?? 0, topP: numberFlag(v, 'top-p') ?? 1, minP: numberFlag(v, 'min-p') ?? 0 },
      seed: intFlag(v, 'seed'),
    });
    writeTextAtomic(out, html);
  } finally {
    await llama.close();
  }
  process.stderr.write(`wrote ${out}\n`);
  return 0;
}
