// How the sampling settings reshape the next-token distribution, for the distribution view:
// the model's probabilities (softmax of the logits), the candidates after top-k, their
// probabilities at the temperature, which ones top-p and min-p drop, and the renormalized
// distribution the sampler draws from. Computed by the sampler's own truncate()
// (src/generate/sampler.ts), so the view shows what generation does.
import { argmax, drawFrom, truncate } from '../generate/sampler.js';

export interface SamplingSettings {
  temperature: number; // 0 = greedy
  topK: number; // 0 = off
  topP: number; // 1 = off
  minP: number; // 0 = off
}

export interface CandidateRow {
  token: number;
  modelProb: number; // softmax(logits), temperature 1
  tempProb: number; // softmax(logits / temperature) over the top-k candidates (0 when cut by top-k)
  finalProb: number; // what the sampler draws with: renormalized over the kept candidates
  droppedBy?: 'top-k' | 'top-p' | 'min-p' | 'greedy';
}

export interface Reshaped {
  rows: CandidateRow[]; // the `show` most likely tokens, by decreasing logit
  kept: number; // candidates the sampler may draw
  sampled: number; // the token drawn with the uniform u (greedy: the argmax)
}

export function checkSettings(s: SamplingSettings): void {
  if (!(s.temperature >= 0 && Number.isFinite(s.temperature))) throw new Error(`temperature must be ≥ 0, got ${s.temperature}`);
  if (!(Number.isInteger(s.topK) && s.topK >= 0)) throw new Error(`top-k must be a non-negative integer, got ${s.topK}`);
  if (!(s.topP > 0 && s.topP <= 1)) throw new Error(`top-p must be in (0, 1], got ${s.topP}`);
  if (!(s.minP >= 0 && s.minP <= 1)) throw new Error(`min-p must be in [0, 1], got ${s.minP}`);
}

// u: the uniform draw in [0, 1) of this step (fixed per step, so moving a slider shows how the
// same draw lands elsewhere).
export function reshape(logits: Float32Array, s: SamplingSettings, u: number, show = 12): Reshaped {
  checkSettings(s);
  const model = truncate(logits, { temperature: 1, topK: 0, topP: 1, minP: 0 }); // every token by logit
  const rows: CandidateRow[] = [];
  const n = Math.min(show, model.ids.length);
  if (s.temperature === 0) {
    const best = argmax(logits);
    for (let i = 0; i < n; i++) {
      const token = model.ids[i];
      rows.push({ token, modelProb: model.probs[i], tempProb: token === best ? 1 : 0, finalProb: token === best ? 1 : 0, droppedBy: token === best ? undefined : 'greedy' });
    }
    return { rows, kept: 1, sampled: best };
  }
  const t = truncate(logits, s);
  let keptMass = 0;
  for (let i = 0; i < t.n; i++) keptMass += t.probs[i];
  const floor = s.minP * t.probs[0];
  for (let i = 0; i < n; i++) {
    const token = model.ids[i];
    const row: CandidateRow = { token, modelProb: model.probs[i], tempProb: 0, finalProb: 0 };
    if (i >= t.ids.length) row.droppedBy = 'top-k'; // same order: ties broken by id in both
    else {
      row.tempProb = t.probs[i];
      if (i < t.n) row.finalProb = t.probs[i] / keptMass;
      else row.droppedBy = s.minP > 0 && t.probs[i] < floor ? 'min-p' : 'top-p';
    }
    rows.push(row);
  }
  return { rows, kept: t.n, sampled: drawFrom(t, u) };
}
