// Changing the storage type of a model's matrices: the one model-level quantizer, used by
// convert, quantize and the GGUF writer (src/quant/ has the block maths it calls).
// Conversion to the type a matrix already has keeps it as it is (no copy, bit-identical).
import { BLOCK_VALUES, QK, toF32, type DType, type WeightTensor } from '../../reference/tensor.js';
import { atSlot, LAYER_MATRICES, parameterSlots, type LayerMatrix, type LayerWeights, type LlamaModel } from '../../reference/weights.js';
import { quantize } from '../quant/quantize.js';
import { LAYER_ROLE, mixtureType, type MixtureName, type TensorRole } from './mixtures.js';


// Every matrix of the model with its Meta name, in Meta's order (a shared classifier once).
export function namedMatrices(model: LlamaModel): [string, WeightTensor][] {
  const out: [string, WeightTensor][] = [];
  for (const slot of parameterSlots(model.config)) {
    const t = atSlot<WeightTensor | Float32Array>(model.weights, slot);
    if (!(t instanceof Float32Array)) out.push([slot.name, t]);
  }
  return out;
}

// What llama.cpp stores instead of a K-quant (256-value blocks) when a matrix's rows are
// not whole blocks of 256 (src/llama-quant.cpp, tensor_type_fallback): a 32-value type of
// about as many bits. (Q8_K is no file type in llama.cpp; Q8_0 is its nearest.)
export const KQUANT_FALLBACK: Partial<Record<DType, DType>> = {
  q2_k: 'q4_0', q3_k: 'q4_0', q4_k: 'q5_0', q5_k: 'q5_1', q6_k: 'q8_0', q8_k: 'q8_0',
};

// The type a matrix is stored as when `dtype` is asked for: `dtype`, except that a matrix
// whose rows are not whole blocks of that type cannot be quantized to it: a K-quant falls
// back to its 32-value type (KQUANT_FALLBACK), and rows not whole blocks of 32 become f16.
export function storedType(t: WeightTensor, dtype: DType): DType {
  if (t.cols % BLOCK_VALUES[dtype] === 0) return dtype;
  const fallback = KQUANT_FALLBACK[dtype];
  return fallback && t.cols % BLOCK_VALUES[fallback] === 0 ? fallback : 'f16';
}

// The model with every matrix stored as `dtype`; norms stay f32, a shared classifier
// stays shared. Quantized types need rows of whole blocks (32 or 256 values).
// A matrix whose rows are not whole blocks cannot be quantized to `dtype`: it is stored as
// llama.cpp falls back (storedType), and `notes` says which.
export function quantizeModel(model: LlamaModel, dtype: DType, notes: string[] = []): LlamaModel {
  const typeOf = (t: WeightTensor): DType => storedType(t, dtype);
  const named = namedMatrices(model);
  const fallback = KQUANT_FALLBACK[dtype];
  const demoted = fallback ? named.filter(([, t]) => typeOf(t) === fallback).map(([name]) => name) : [];
  if (demoted.length) {
    notes.push(`stored as ${fallback} instead of ${dtype} (as llama.cpp falls back), rows not a multiple of ${BLOCK_VALUES[dtype]} values: ${demoted.join(', ')}`);
  }
  const f16 = named.filter(([, t]) => typeOf(t) === 'f16' && dtype !== 'f16').map(([name]) => name);
  if (f16.length) notes.push(`stored as f16, rows not a multiple of ${QK} values: ${f16.join(', ')}`);
  return storeAs(model, typeOf);
}

// Every matrix with the type llama.cpp's mixture asks for it (mixtures.ts) and the type it is
// stored as after the per-tensor fallback for rows that are not whole blocks (storedType).
export function mixturePlan(model: LlamaModel, mixture: MixtureName): { name: string; tensor: WeightTensor; asked: DType; stored: DType }[] {
  const plan = [];
  for (const slot of parameterSlots(model.config)) {
    const tensor = atSlot<WeightTensor | Float32Array>(model.weights, slot);
    if (tensor instanceof Float32Array) continue;
    const role: TensorRole = slot.layer === null
      ? (slot.field === 'output' ? 'output' : 'token_embd')
      : LAYER_ROLE[slot.field as LayerMatrix];
    const asked = mixtureType(mixture, role, slot.layer ?? 0, tensor.cols, model.config);
    plan.push({ name: slot.name, tensor, asked, stored: storedType(tensor, asked) });
  }
  return plan;
}

// The model stored as llama.cpp's mixture `mixture` (Q4_K_M etc.) makes it; norms stay f32, a
// shared classifier stays shared. `notes` names each matrix that fell back, with why.
export function quantizeModelMixture(model: LlamaModel, mixture: MixtureName, notes: string[] = []): LlamaModel {
  const plan = mixturePlan(model, mixture);
  const fellBack = new Map<string, string[]>();
  for (const { name, tensor, asked, stored } of plan) {
    if (stored === asked) continue;
    const why = `stored as ${stored} instead of ${asked} (as llama.cpp falls back), rows of ${tensor.cols} values are not whole blocks of ${BLOCK_VALUES[asked]}`;
    fellBack.set(why, [...(fellBack.get(why) ?? []), name]);
  }
  for (const [why, names] of fellBack) notes.push(`${why}: ${names.join(', ')}`);
  const typeOf = new Map(plan.map((p) => [p.tensor, p.stored]));
  return storeAs(model, (t) => typeOf.get(t) ?? t.dtype);
}

// The model with each matrix t stored as typeOf(t) (kept as it is when it has that type).
function storeAs(model: LlamaModel, typeOf: (t: WeightTensor) => DType): LlamaModel {
  const done = new Map<WeightTensor, WeightTensor>();
  const convert = (t: WeightTensor): WeightTensor => {
    const target = typeOf(t);
    if (t.dtype === target) return t;
    let out = done.get(t);
    if (!out) {
      out = quantize(toF32(t), t.rows, t.cols, target);
      done.set(t, out);
    }
    return out;
  };
  const w = model.weights;
  const layers: LayerWeights[] = w.layers.map((l) => {
    const copy = { ...l };
    for (const f of LAYER_MATRICES) copy[f] = convert(l[f]);
    return copy;
  });
  return {
    config: model.config,
    weights: { tokenEmbedding: convert(w.tokenEmbedding), layers, norm: w.norm, output: convert(w.output) },
  };
}
