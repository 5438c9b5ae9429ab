// Where in a tensor an error is, said as coordinates a port author can look up: the token
// position t and, for the per-head tensors, the head and the index inside it.
//
//   layers.l.{q,k,v,attn}  [T, heads*hd]  → "[t=3, head=2, i=17]"
//   other [T, X] tensors                  → "[t=3, i=17]"   (activations, logits, decode_logits)
//   parameters and their moments [R, C]   → "[row=3, col=17]"; 1-D → "[i=17]"; scalars → "[]"

const PER_HEAD = /^layers\.\d+\.(q|k|v|attn)$/;
export const PER_POSITION = /^(embedding|norm|logits|decode_logits|layers\.\d+\.\w+)$/; // [T, ·]: a row per position

export function tensorPosition(name: string, shape: readonly number[], flatIndex: number, headDim?: number): string {
  if (flatIndex < 0) return '[]';
  if (shape.length === 2 && PER_POSITION.test(name)) {
    const width = shape[1];
    const t = Math.floor(flatIndex / width);
    const i = flatIndex % width;
    if (headDim && PER_HEAD.test(name) && width % headDim === 0) {
      return `[t=${t}, head=${Math.floor(i / headDim)}, i=${i % headDim}]`;
    }
    return `[t=${t}, i=${i}]`;
  }
  if (shape.length === 1) return name === 'tokens' || name === 'targets' ? `[position ${flatIndex}]` : `[i=${flatIndex}]`;
  if (shape.length === 2) return `[row=${Math.floor(flatIndex / shape[1])}, col=${flatIndex % shape[1]}]`;
  // any other rank: plain row-major coordinates
  const coords: number[] = [];
  let rest = flatIndex;
  for (let d = shape.length - 1; d >= 0; d--) {
    coords.unshift(rest % shape[d]);
    rest = Math.floor(rest / shape[d]);
  }
  return `[${coords.join(', ')}]`;
}

// "1 element", "3 elements": counts in the report read as English.
export function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}
