// Changing the storage type of a model's matrices: the one model-level quantizer, used by
// convert, quantize and the GGUF writer (src/quant/ has the block maths it calls).
// Conversion to the type a matrix already has keeps it as it is (no copy, bit-identical).
import { QK, toF32, type DType, type WeightTensor } from '../../reference/tensor.js';
import { atSlot, LAYER_MATRICES, parameterSlots, type LayerWeights, type LlamaModel } from '../../reference/weights.js';
import { quantize } from '../quant/quantize.js';


// Every matrix of the model with its Meta name, in Meta's order (a shared classifier once).
export function namedMatrices(model: LlamaModel): [string, WeightTensor][] {
  const out: [string, WeightTensor][] = [];
  for (const slot of parameterSlots(model.config)) {
    const t = atSlot<WeightTensor | Float32Array>(model.weights, slot);
    if (!(t instanceof Float32Array)) out.push([slot.name, t]);
  }
  return out;
}

// The type a matrix is stored as when `dtype` is asked for: `dtype`, except that a matrix
// whose rows are not whole blocks of 32 cannot be quantized and becomes f16 instead.
export function storedType(t: WeightTensor, dtype: DType): DType {
  return (dtype === 'q8_0' || dtype === 'q4_0') && t.cols % QK !== 0 ? 'f16' : dtype;
}

// The model with every matrix stored as `dtype`; norms stay f32, a shared classifier
// stays shared. Quantized types need rows of whole 32-value blocks.
// A matrix whose rows are not whole blocks cannot be quantized: it is stored as f16 instead
// (as llama.cpp falls back), and `notes` says which.
export function quantizeModel(model: LlamaModel, dtype: DType, notes: string[] = []): LlamaModel {
  const typeOf = (t: WeightTensor): DType => storedType(t, dtype);
  const fallback = namedMatrices(model).filter(([, t]) => typeOf(t) !== dtype).map(([name]) => name);
  if (fallback.length) notes.push(`stored as f16, rows not a multiple of ${QK} values: ${fallback.join(', ')}`);
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
