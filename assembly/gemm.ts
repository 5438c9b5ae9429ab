// The f32 matrix product of training, C[M, P] (+)= A[M, R] · B[R, P], and the transpose
// that puts operands in its layout. One product serves every training matmul:
//
//   forward   out[T, N]  = x[T, K]    · Wᵀ[K, N]     (W [N, K] transposed first)
//   backward  dx[T, K]  += dout[T, N] · W[N, K]
//             dW[N, K]  += doutᵀ[N, T] · x[T, K]    (dout transposed first)
//
// and, on strided row-major views (one head's columns of q, k, v), attention's products.
//
// The inner step is an outer product: a row of B (eight floats, two f32x4) times four
// broadcast floats of A (one per row of the tile) feeds eight accumulators that stay in
// registers for the whole sum over R. So each output is one f32 add chain in the order
// r = 0, 1, ..., R-1, starting from C's old value when accumulating: its error is at most
// γ_(R+1)·(|C| + Σ_r |A·B|). Columns go in panels of eight (a B panel of R·32 bytes stays in
// L1 while every row tile passes over it); column ranges p0..p1 let threads split a product.
// (Reading doutᵀ in place, by columns of dout, was tried: it lost to transposing first.)
//
// Strides are in bytes: row m of A starts at a + m·aRow, and so on; elements are contiguous.
import { madd } from './simd';

// Four rows × eight columns of C from rows a, a+aRow, a+2aRow, a+3aRow of A and B's panel at b
function tile4x8(c: usize, cRow: usize, a: usize, aRow: usize, b: usize, bRow: usize, R: i32, accumulate: bool): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0), c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0), c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  if (accumulate) {
    c00 = v128.load(c); c01 = v128.load(c, 16);
    c10 = v128.load(c + cRow); c11 = v128.load(c + cRow, 16);
    c20 = v128.load(c + 2 * cRow); c21 = v128.load(c + 2 * cRow, 16);
    c30 = v128.load(c + 3 * cRow); c31 = v128.load(c + 3 * cRow, 16);
  }
  let ar = a;
  let br = b;
  for (let r = 0; r < R; r++) {
    const b0 = v128.load(br);
    const b1 = v128.load(br, 16);
    const a0 = v128.load32_splat(ar);
    c00 = madd(a0, b0, c00); c01 = madd(a0, b1, c01);
    const a1 = v128.load32_splat(ar + aRow);
    c10 = madd(a1, b0, c10); c11 = madd(a1, b1, c11);
    const a2 = v128.load32_splat(ar + 2 * aRow);
    c20 = madd(a2, b0, c20); c21 = madd(a2, b1, c21);
    const a3 = v128.load32_splat(ar + 3 * aRow);
    c30 = madd(a3, b0, c30); c31 = madd(a3, b1, c31);
    ar += 4;
    br += bRow;
  }
  v128.store(c, c00); v128.store(c, c01, 16);
  v128.store(c + cRow, c10); v128.store(c + cRow, c11, 16);
  v128.store(c + 2 * cRow, c20); v128.store(c + 2 * cRow, c21, 16);
  v128.store(c + 3 * cRow, c30); v128.store(c + 3 * cRow, c31, 16);
}

// One row × eight columns (the M mod 4 rows left over)
function tile1x8(c: usize, a: usize, b: usize, bRow: usize, R: i32, accumulate: bool): void {
  let c0 = accumulate ? v128.load(c) : f32x4.splat(0);
  let c1 = accumulate ? v128.load(c, 16) : f32x4.splat(0);
  let br = b;
  for (let r = 0; r < R; r++) {
    const ar = v128.load32_splat(a + (<usize>r << 2));
    c0 = madd(ar, v128.load(br), c0);
    c1 = madd(ar, v128.load(br, 16), c1);
    br += bRow;
  }
  v128.store(c, c0);
  v128.store(c, c1, 16);
}

// Four rows × four columns (a P mod 8 panel of four)
function tile4x4(c: usize, cRow: usize, a: usize, aRow: usize, b: usize, bRow: usize, R: i32, accumulate: bool): void {
  let c0 = accumulate ? v128.load(c) : f32x4.splat(0);
  let c1 = accumulate ? v128.load(c + cRow) : f32x4.splat(0);
  let c2 = accumulate ? v128.load(c + 2 * cRow) : f32x4.splat(0);
  let c3 = accumulate ? v128.load(c + 3 * cRow) : f32x4.splat(0);
  let br = b;
  for (let r = 0; r < R; r++) {
    const ar = a + (<usize>r << 2);
    const b4 = v128.load(br);
    c0 = madd(v128.load32_splat(ar), b4, c0);
    c1 = madd(v128.load32_splat(ar + aRow), b4, c1);
    c2 = madd(v128.load32_splat(ar + 2 * aRow), b4, c2);
    c3 = madd(v128.load32_splat(ar + 3 * aRow), b4, c3);
    br += bRow;
  }
  v128.store(c, c0);
  v128.store(c + cRow, c1);
  v128.store(c + 2 * cRow, c2);
  v128.store(c + 3 * cRow, c3);
}

// One row × four columns
function tile1x4(c: usize, a: usize, b: usize, bRow: usize, R: i32, accumulate: bool): void {
  let c0 = accumulate ? v128.load(c) : f32x4.splat(0);
  let br = b;
  for (let r = 0; r < R; r++) {
    c0 = madd(v128.load32_splat(a + (<usize>r << 2)), v128.load(br), c0);
    br += bRow;
  }
  v128.store(c, c0);
}

// One output C[m, p], scalar (the last P mod 4 columns), same order of additions
function single(c: usize, a: usize, b: usize, bRow: usize, R: i32, accumulate: bool): void {
  let sum: f32 = accumulate ? load<f32>(c) : 0;
  let br = b;
  for (let r = 0; r < R; r++) {
    sum += load<f32>(a + (<usize>r << 2)) * load<f32>(br);
    br += bRow;
  }
  store<f32>(c, sum);
}

// Which part of a product is needed, for attention's triangular matrices over one sequence:
export const FULL = 0;
export const LOWER_C = 1; // only C[m, p] with p ≤ m (tiles reaching the diagonal are computed whole)
export const LOWER_A = 2; // A[m, r] = 0 for r > m: row m sums r ≤ m only
export const UPPER_A = 3; // A[m, r] = 0 for r < m: row m sums r ≥ m only

// C (+)= A · B over strided views, columns p0 ≤ p < p1, the part given by `shape`.
export function product(
  c: usize, cRow: usize, a: usize, aRow: usize, b: usize, bRow: usize,
  M: i32, R: i32, p0: i32, p1: i32, accumulate: bool, shape: i32,
): void {
  let p = p0;
  for (; p < p1; ) {
    const width = p + 8 <= p1 ? 8 : p + 4 <= p1 ? 4 : 1; // panel of 8, then 4, then single columns
    // LOWER_C: row tiles wholly above the panel's first column are skipped
    let m = shape == LOWER_C ? max(0, p - 3) & ~3 : 0;
    for (; m < M; m += m + 4 <= M ? 4 : 1) {
      const rows = m + 4 <= M ? 4 : 1;
      // the span of r the rows m .. m+rows-1 need (zeros of a triangular A skipped)
      const r0 = shape == UPPER_A ? min(m, R) : 0;
      const r1 = shape == LOWER_A ? min(m + rows, R) : R;
      const ct = c + <usize>m * cRow + (<usize>p << 2);
      const at = a + <usize>m * aRow + (<usize>r0 << 2);
      const bt = b + <usize>r0 * bRow + (<usize>p << 2);
      const n = r1 - r0;
      if (width == 8) {
        if (rows == 4) tile4x8(ct, cRow, at, aRow, bt, bRow, n, accumulate);
        else tile1x8(ct, at, bt, bRow, n, accumulate);
      } else if (width == 4) {
        if (rows == 4) tile4x4(ct, cRow, at, aRow, bt, bRow, n, accumulate);
        else tile1x4(ct, at, bt, bRow, n, accumulate);
      } else {
        for (let i = 0; i < rows; i++) single(ct + <usize>i * cRow, at + <usize>i * aRow, bt, bRow, n, accumulate);
      }
    }
    p += width;
  }
}

// C[M, P] = A[M, R] · B[R, P] (accumulate 0) or C += A · B (accumulate 1), dense row-major,
// columns p0 ≤ p < p1. C must not overlap A or B.
export function gemmF32(c: usize, a: usize, b: usize, M: i32, R: i32, P: i32, p0: i32, p1: i32, accumulate: bool): void {
  product(c, <usize>P << 2, a, <usize>R << 2, b, <usize>P << 2, M, R, p0, p1, accumulate, FULL);
}

// dst[cols, rows] = srcᵀ for src[rows, cols] whose rows are srcRow bytes apart: 4×4 blocks
// through registers (four rows loaded, shuffled into four columns), the edges one at a time.
export function transposeStrided(dst: usize, src: usize, srcRow: usize, rows: i32, cols: i32): void {
  const dstRow = <usize>rows << 2;
  let r = 0;
  for (; r + 4 <= rows; r += 4) {
    let c = 0;
    for (; c + 4 <= cols; c += 4) {
      const s = src + <usize>r * srcRow + (<usize>c << 2);
      const a = v128.load(s);
      const b = v128.load(s + srcRow);
      const e = v128.load(s + 2 * srcRow);
      const f = v128.load(s + 3 * srcRow);
      const ab01 = v128.shuffle<f32>(a, b, 0, 4, 1, 5); // a0 b0 a1 b1
      const ab23 = v128.shuffle<f32>(a, b, 2, 6, 3, 7); // a2 b2 a3 b3
      const ef01 = v128.shuffle<f32>(e, f, 0, 4, 1, 5);
      const ef23 = v128.shuffle<f32>(e, f, 2, 6, 3, 7);
      const d = dst + <usize>c * dstRow + (<usize>r << 2);
      v128.store(d, v128.shuffle<f32>(ab01, ef01, 0, 1, 4, 5)); // column c: a0 b0 e0 f0
      v128.store(d + dstRow, v128.shuffle<f32>(ab01, ef01, 2, 3, 6, 7));
      v128.store(d + 2 * dstRow, v128.shuffle<f32>(ab23, ef23, 0, 1, 4, 5));
      v128.store(d + 3 * dstRow, v128.shuffle<f32>(ab23, ef23, 2, 3, 6, 7));
    }
    for (; c < cols; c++) {
      for (let i = r; i < r + 4; i++) store<f32>(dst + <usize>c * dstRow + (<usize>i << 2), load<f32>(src + <usize>i * srcRow + (<usize>c << 2)));
    }
  }
  for (; r < rows; r++) {
    for (let c = 0; c < cols; c++) store<f32>(dst + <usize>c * dstRow + (<usize>r << 2), load<f32>(src + <usize>r * srcRow + (<usize>c << 2)));
  }
}

// dst[cols, rows] = srcᵀ for a dense src[rows, cols]
export function transposeF32(dst: usize, src: usize, rows: i32, cols: i32): void {
  transposeStrided(dst, src, <usize>cols << 2, rows, cols);
}
