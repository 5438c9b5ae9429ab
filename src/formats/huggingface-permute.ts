// The q/k row order of Hugging Face LLaMA checkpoints.
//
// Meta's model.py applies RoPE to adjacent pairs (2i, 2i+1) of each head. Hugging Face's
// LlamaAttention rotates halves instead (i with i + hd/2, `rotate_half`), so their
// conversion script (transformers convert_llama_weights_to_hf.py, `permute`) reorders the
// rows of wq and wk within every head:
//
//   w.view(n_heads, hd/2, 2, dim).transpose(1, 2).reshape(n_heads*hd, dim)
//
// i.e. Meta row  h·hd + 2i + j   (i < hd/2, j ∈ {0, 1})
//  becomes HF row h·hd + j·hd/2 + i.
// Both conventions compute the same attention once the rows match their RoPE. wk uses
// the number of key/value heads. Reading a HF checkpoint applies the inverse; writing one
// applies the permutation. Works on any storage type, since it only moves whole rows.
import { rowBytes, type WeightTensor } from '../../reference/tensor.js';

// The Meta row that HF row `r` holds, for heads of `hd` rows.
function metaRowOfHfRow(r: number, hd: number): number {
  const head = Math.floor(r / hd);
  const within = r % hd;
  const half = hd / 2;
  const j = Math.floor(within / half);
  const i = within % half;
  return head * hd + 2 * i + j;
}

function checkHeads(w: WeightTensor, nHeads: number, what: string): number {
  if (!Number.isInteger(nHeads) || nHeads <= 0 || w.rows % nHeads !== 0) {
    throw new Error(`${what}: ${w.rows} rows do not split into ${nHeads} heads`);
  }
  const hd = w.rows / nHeads;
  if (hd % 2 !== 0) throw new Error(`${what}: head dimension ${hd} is odd; RoPE needs pairs`);
  return hd;
}

// Moves whole rows: out row `to(r)` = in row r. Returns a new tensor of the same type.
function moveRows(w: WeightTensor, to: (r: number) => number): WeightTensor {
  const rb = rowBytes(w.dtype, w.cols);
  const src = new Uint8Array(w.data.buffer, w.data.byteOffset, w.data.byteLength); // [rows, rb] bytes
  const dst = new Uint8Array(src.length); // [rows, rb] bytes, rows reordered
  for (let r = 0; r < w.rows; r++) dst.set(src.subarray(r * rb, (r + 1) * rb), to(r) * rb);
  const data =
    w.dtype === 'f32' ? new Float32Array(dst.buffer)
    : w.dtype === 'f16' ? new Uint16Array(dst.buffer)
    : dst;
  return { dtype: w.dtype, rows: w.rows, cols: w.cols, data };
}

// HF row order → Meta row order (what reading a HF checkpoint needs).
export function unpermuteFromHuggingFace(w: WeightTensor, nHeads: number, what = 'unpermute'): WeightTensor {
  const hd = checkHeads(w, nHeads, what);
  return moveRows(w, (r) => metaRowOfHfRow(r, hd));
}

// Meta row order → HF row order (what writing a HF checkpoint needs).
export function permuteForHuggingFace(w: WeightTensor, nHeads: number, what = 'permute'): WeightTensor {
  const hd = checkHeads(w, nHeads, what);
  const hfRowOfMetaRow = new Int32Array(w.rows); // [rows] inverse of metaRowOfHfRow
  for (let r = 0; r < w.rows; r++) hfRowOfMetaRow[metaRowOfHfRow(r, hd)] = r;
  return moveRows(w, (r) => hfRowOfMetaRow[r]);
}
