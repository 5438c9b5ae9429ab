// The logit lens (nostalgebraist 2020): what the model would predict if it stopped after a
// layer. Each layer's residual stream goes through the final RMSNorm (recomputed on that
// layer's residual) and the classifier, exactly as the last layer's does in forward(); so
// the last row is the model's real prediction.
import { matmul } from '../../reference/matmul.js';
import { rmsnorm } from '../../reference/rmsnorm.js';
import type { LlamaModel } from '../../reference/weights.js';

export interface LensRow {
  label: string; // 'embedding', 'layer 0', …
  token: Int32Array; // [T] the most likely token at each position
  prob: Float32Array; // [T] its probability (softmax over the whole vocabulary)
}

// residual: the embedding and each layer's output, each [T, C]
export function logitLens(model: LlamaModel, residual: Float32Array[], T: number): LensRow[] {
  const { dim: C, vocabSize: V, normEps } = model.config;
  const xn = new Float32Array(T * C);
  const logits = new Float32Array(T * V);
  return residual.map((h, i) => {
    rmsnorm(xn, h, model.weights.norm, T, C, normEps);
    matmul(logits, xn, model.weights.output, T);
    const token = new Int32Array(T);
    const prob = new Float32Array(T);
    for (let t = 0; t < T; t++) {
      const row = logits.subarray(t * V, (t + 1) * V);
      let best = 0;
      for (let v = 1; v < V; v++) if (row[v] > row[best]) best = v;
      let sum = 0;
      for (let v = 0; v < V; v++) sum += Math.exp(row[v] - row[best]);
      token[t] = best;
      prob[t] = 1 / sum;
    }
    return { label: i === 0 ? 'embedding' : `layer ${i - 1}`, token, prob };
  });
}
