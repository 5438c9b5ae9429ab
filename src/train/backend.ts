// The kernels training runs on: `wasm` (src/backends/wasm/training.ts, SIMD; the default)
// or `ts` (reference/ts-kernels.ts, the readable reference).
import { DEFAULT_NORM_EPS, DEFAULT_ROPE_THETA, type LlamaConfig } from '../../reference/config.js';
import { randomModel } from '../../reference/init.js';
import type { TrainingKernels } from '../../reference/kernels.js';
import { createGradients, gradientArrays } from '../../reference/gradients.js';
import { lossAndGradients } from '../../reference/train-model.js';
import { tsTrainingKernels } from '../../reference/ts-kernels.js';
import type { LlamaModel } from '../../reference/weights.js';
import { createWasmTrainingKernels, type WasmTrainingKernels } from '../backends/wasm/training.js';

export type TrainBackend = 'ts' | 'wasm';

export interface TrainingBackend {
  name: TrainBackend;
  kernels: TrainingKernels;
  // The model as the kernels want it (WASM: parameters moved into its memory, so no call
  // copies them); train this one.
  place(model: LlamaModel): LlamaModel;
  close(): Promise<void>; // stops worker threads
  note?: string; // why the backend differs from the default
}

export function parseTrainBackend(name: string | undefined): TrainBackend | undefined {
  if (name === undefined) return undefined;
  if (name !== 'ts' && name !== 'wasm') throw new Error(`unknown backend "${name}" (known: wasm, ts)`);
  return name;
}

const tsBackend = (note?: string): TrainingBackend => ({
  name: 'ts', kernels: tsTrainingKernels, place: (m) => m, close: async () => {}, note,
});

// Loss and gradients of a tiny random model on both backends, so that a kernels.wasm out of
// step with its TypeScript (a stale build) is caught before it trains garbage. A few ms.
function selfCheck(kernels: TrainingKernels, place: (m: LlamaModel) => LlamaModel): void {
  const config: LlamaConfig = {
    dim: 16, nLayers: 1, nHeads: 2, nKvHeads: 1, hiddenDim: 32, vocabSize: 32, maxSeqLen: 8,
    normEps: DEFAULT_NORM_EPS, ropeTheta: DEFAULT_ROPE_THETA, sharedClassifier: false,
  };
  const batch = { tokens: Array.from({ length: 16 }, (_, i) => (i * 7) % 32), targets: Array.from({ length: 16 }, (_, i) => (i * 7 + 3) % 32), B: 2, T: 8 };
  const reference = createGradients(config);
  const tested = createGradients(config);
  const lossRef = lossAndGradients(randomModel(config, 1), tsTrainingKernels, batch, reference);
  const loss = lossAndGradients(place(randomModel(config, 1)), kernels, batch, tested);
  const ref = gradientArrays(reference);
  const got = gradientArrays(tested);
  const worst = Math.max(...ref.map((r, i) => relativeError(got[i], r)));
  if (!(Math.abs(loss - lossRef) < 1e-4) || !(worst < 1e-3)) {
    throw new Error(`self-check against the ts kernels failed (loss ${loss} vs ${lossRef}, gradient error ${worst}); rebuild with \`npm run build\``);
  }
}

// max |a − b| / max |b|
function relativeError(a: Float32Array, b: Float32Array): number {
  let diff = 0;
  let scale = 1e-12;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return diff / scale;
}

// `requested` undefined: wasm when it loads (kernels.wasm built) and passes the self-check,
// else ts with a note.
export async function createTrainingBackend(requested?: TrainBackend, threads?: number): Promise<TrainingBackend> {
  if (requested === 'ts') return tsBackend();
  let wasm: WasmTrainingKernels | undefined;
  try {
    wasm = await createWasmTrainingKernels({ threads });
    const kernels = wasm;
    selfCheck(kernels, (m) => kernels.placeModel(m));
    return { name: 'wasm', kernels, place: (m) => kernels.placeModel(m), close: () => kernels.close() };
  } catch (e) {
    await wasm?.close();
    if (requested === 'wasm') throw new Error(`--backend wasm: ${(e as Error).message}`);
    return tsBackend(`WASM training kernels unavailable (${(e as Error).message}); training on the ts backend`);
  }
}
