// The explorer's Web Worker: loads a model from its URL, encodes prompts, and explains one
// step at a time (src/explain: the reference forward pass with its trace, over the whole
// sequence so far). Only the current step's trace is kept, in the reply.
import { explainStep, loadExplainerFromBytes, type Explainer } from '../src/explain/index.js';
import type { ExplorerReply, ExplorerRequest } from './explorer-protocol.js';

const scope = globalThis as unknown as {
  onmessage: ((e: MessageEvent<ExplorerRequest>) => void) | null;
  postMessage(message: ExplorerReply): void;
};

let explainer: Explainer | undefined;
let queue = Promise.resolve();

async function fetchBytes(url: string): Promise<Uint8Array> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

async function handle(r: ExplorerRequest): Promise<ExplorerReply> {
  if (r.type === 'load') {
    explainer = undefined;
    const [model, tokenizer] = await Promise.all([fetchBytes(r.modelUrl), r.tokenizerUrl ? fetchBytes(r.tokenizerUrl) : undefined]);
    explainer = loadExplainerFromBytes(model, r.modelUrl, tokenizer, r.tokenizerUrl);
    const c = explainer.model.config;
    return {
      type: 'loaded', pieces: explainer.pieces, endIds: explainer.endIds, contextLength: c.maxSeqLen,
      shape: { nLayers: c.nLayers, nHeads: c.nHeads, nKvHeads: c.nKvHeads, headDim: c.dim / c.nHeads, dim: c.dim, hiddenDim: c.hiddenDim, vocabSize: c.vocabSize, normEps: c.normEps },
    };
  }
  if (!explainer) throw new Error('explorer: no model loaded');
  if (r.type === 'encode') return { type: 'encoded', tokens: explainer.tokenizer.encode(r.prompt, { bos: true }) };
  const start = performance.now();
  const step = explainStep(explainer.model, r.tokens);
  return { type: 'step', step, ms: performance.now() - start };
}

scope.onmessage = (e) => {
  queue = queue.then(() => handle(e.data).then(
    (out) => scope.postMessage(out),
    (error: Error) => scope.postMessage({ type: 'error', message: error.message }),
  ));
};
