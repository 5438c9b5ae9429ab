// Native decode kernels timed for issue 17's bound (bench/native.ts runs this; see its header).
//
//   vecdot llama LIB TYPE N K WEIGHTS X TRIES   llama.cpp's own row dot (ggml_vec_dot_<type>_q8_*)
//                                               from LIB, one of the libggml-cpu-<variant>.so
//                                               builds node-llama-cpp ships
//   vecdot ours - q4_0 N K WEIGHTS X TRIES      llama-ts's q4_0 decode (assembly/qdecode.ts and
//                                               qgemm.ts) written again in C with 128-bit SSE
//                                               intrinsics: the same operations, compiled by gcc
//
// WEIGHTS holds the matrix W [N, K] as the GGUF stores it (blocks of TYPE, row after row), X
// the activation x [K] as f32. One try is one matrix-vector product out[N] = W·x including the
// quantization of x (as a decode step does it); the least time over TRIES tries is printed as
// JSON with the output, so the caller can check that every kernel computes the same product.
#define _GNU_SOURCE
#include <dlfcn.h>
#include <immintrin.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void fail(const char *what, const char *detail) {
  fprintf(stderr, "vecdot: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
  exit(1);
}

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static void *read_file(const char *path, size_t expected) {
  FILE *f = fopen(path, "rb");
  if (!f) fail("cannot open", path);
  void *data = aligned_alloc(64, (expected + 63) & ~(size_t)63);
  if (!data) fail("out of memory reading", path);
  if (fread(data, 1, expected, f) != expected) fail("short file", path);
  fclose(f);
  return data;
}

// ---- llama.cpp's kernels --------------------------------------------------------------------
//
// Their signatures as ggml-cpu/quants.h declares them. The activation x is quantized by the
// type's partner (q8_0 for the 32-value types, q8_1 for those with a min, q8_K for the
// K-quants), as ggml_mul_mat does.

typedef void (*vec_dot_fn)(int n, float *s, size_t bs, const void *vx, size_t bx, const void *vy, size_t by, int nrc);
typedef void (*quantize_fn)(const float *x, void *y, int64_t k);

struct llama_type {
  const char *name, *dot, *quantize;
  int block;      // values per block
  int bytes;      // bytes per weight block
  int act_block;  // values per activation block
  int act_bytes;  // bytes per activation block
};

static const struct llama_type LLAMA_TYPES[] = {
  {"q4_0", "ggml_vec_dot_q4_0_q8_0", "quantize_row_q8_0", 32, 18, 32, 34},
  {"q8_0", "ggml_vec_dot_q8_0_q8_0", "quantize_row_q8_0", 32, 34, 32, 34},
  {"q4_k", "ggml_vec_dot_q4_K_q8_K", "quantize_row_q8_K", 256, 144, 256, 292},
  {"q5_k", "ggml_vec_dot_q5_K_q8_K", "quantize_row_q8_K", 256, 176, 256, 292},
  {"q6_k", "ggml_vec_dot_q6_K_q8_K", "quantize_row_q8_K", 256, 210, 256, 292},
  {"q4_1", "ggml_vec_dot_q4_1_q8_1", "quantize_row_q8_1", 32, 20, 32, 36},
  {"q5_0", "ggml_vec_dot_q5_0_q8_0", "quantize_row_q8_0", 32, 22, 32, 34},
  {"q5_1", "ggml_vec_dot_q5_1_q8_1", "quantize_row_q8_1", 32, 24, 32, 36},
  {"iq4_nl", "ggml_vec_dot_iq4_nl_q8_0", "quantize_row_q8_0", 32, 18, 32, 34},
  {"q2_k", "ggml_vec_dot_q2_K_q8_K", "quantize_row_q8_K", 256, 84, 256, 292},
  {"q3_k", "ggml_vec_dot_q3_K_q8_K", "quantize_row_q8_K", 256, 110, 256, 292},
};

static const struct llama_type *llama_type(const char *name) {
  for (size_t i = 0; i < sizeof LLAMA_TYPES / sizeof LLAMA_TYPES[0]; i++)
    if (strcmp(LLAMA_TYPES[i].name, name) == 0) return &LLAMA_TYPES[i];
  fail("unknown type", name);
  return NULL;
}

static void *symbol(void *lib, const char *name) {
  void *f = dlsym(lib, name);
  if (!f) fail("symbol not found", name);
  return f;
}

// ---- llama-ts's q4_0 decode in SSE ------------------------------------------------------------
//
// One function per function of qgemm.ts / qdecode.ts, the same operations in the same order
// (x86 names: relaxed SIMD's i16x8.relaxed_dot_i8x16_i7x16_s is pmaddubsw, i32x4.dot_i16x8_s
// pmaddwd, relaxed_madd an FMA). Left out: the store qdecode.ts places between a pair's two
// blocks, which only orders V8's loads (gcc schedules them itself).

#define QK 32
#define Q4_0_BYTES 18

static int padded_blocks(int K) { return ((K / QK) + 1) & ~1; }

// The activation buffer of qgemm.ts's quantizePrompt, for one token: quants [nb2, 32] i8,
// scales [nb2, 2] f32 (d_x twice), corrections [nb2, 2] i32 (8·Σq twice)
static void quantize_x(int8_t *q, float *scales, int32_t *corr, const float *x, int K) {
  const int nb = K / QK, nb2 = padded_blocks(K);
  const __m128 sign = _mm_castsi128_ps(_mm_set1_epi32(0x7fffffff));
  for (int b = 0; b < nb2; b++) {
    if (b == nb) {
      memset(q + b * QK, 0, QK);
      scales[2 * b] = scales[2 * b + 1] = 0;
      corr[2 * b] = corr[2 * b + 1] = 0;
      continue;
    }
    __m128 v[8];
    __m128 m = _mm_setzero_ps();
    for (int i = 0; i < 8; i++) {
      v[i] = _mm_loadu_ps(x + b * QK + 4 * i);
      m = _mm_max_ps(m, _mm_and_ps(v[i], sign));
    }
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_shuffle_ps(m, m, 1));
    const float d = _mm_cvtss_f32(m) / 127;
    const __m128 inv = _mm_set1_ps(d > 0 ? 1 / d : 0);
    __m128i r[8];
    for (int i = 0; i < 8; i++) r[i] = _mm_cvtps_epi32(_mm_mul_ps(v[i], inv)); // rounds to nearest even
    _mm_storeu_si128((__m128i *)(q + b * QK), _mm_packs_epi16(_mm_packs_epi32(r[0], r[1]), _mm_packs_epi32(r[2], r[3])));
    _mm_storeu_si128((__m128i *)(q + b * QK + 16), _mm_packs_epi16(_mm_packs_epi32(r[4], r[5]), _mm_packs_epi32(r[6], r[7])));
    __m128i s = _mm_add_epi32(_mm_add_epi32(_mm_add_epi32(r[0], r[1]), _mm_add_epi32(r[2], r[3])),
                              _mm_add_epi32(_mm_add_epi32(r[4], r[5]), _mm_add_epi32(r[6], r[7])));
    int32_t lanes[4];
    _mm_storeu_si128((__m128i *)lanes, s);
    scales[2 * b] = scales[2 * b + 1] = d;
    corr[2 * b] = corr[2 * b + 1] = 8 * (lanes[0] + lanes[1] + lanes[2] + lanes[3]);
  }
}

// simd.ts halvesToF32x4: four halves zero-extended in i32 lanes -> f32, with integer operations
static inline __m128 halves_to_f32(__m128i h) {
  const __m128i magnitude = _mm_slli_epi32(_mm_and_si128(h, _mm_set1_epi32(0x7fff)), 13);
  __m128 f = _mm_mul_ps(_mm_castsi128_ps(magnitude), _mm_set1_ps(5.192296858534828e33f)); // 2^112
  const __m128i inf_nan = _mm_cmpeq_epi32(_mm_and_si128(h, _mm_set1_epi32(0x7c00)), _mm_set1_epi32(0x7c00));
  f = _mm_or_ps(f, _mm_castsi128_ps(_mm_and_si128(inf_nan, _mm_set1_epi32(0x7f800000))));
  return _mm_or_ps(f, _mm_castsi128_ps(_mm_slli_epi32(_mm_and_si128(h, _mm_set1_epi32(0x8000)), 16)));
}

static inline uint16_t half_at(const uint8_t *p) { uint16_t h; memcpy(&h, p, 2); return h; }

// qdecode.ts scales2: d_w of rows u, v for blocks b, b+1 -> [u_b, v_b, u_b+1, v_b+1]
static inline __m128 scales2(const uint8_t *bu, const uint8_t *bv, int last) {
  __m128i h = _mm_insert_epi16(_mm_setzero_si128(), half_at(bu), 0);
  h = _mm_insert_epi16(h, half_at(bv), 2);
  if (!last) {
    h = _mm_insert_epi16(h, half_at(bu + Q4_0_BYTES), 4);
    h = _mm_insert_epi16(h, half_at(bv + Q4_0_BYTES), 6);
  }
  return halves_to_f32(h);
}

// qgemm.ts halfSums
static inline __m128i half_sums(__m128i ul, __m128i uh, __m128i vl, __m128i vh, const int8_t *xb) {
  const __m128i xl = _mm_loadu_si128((const __m128i *)xb), xh = _mm_loadu_si128((const __m128i *)(xb + 16));
  const __m128i pu = _mm_add_epi16(_mm_maddubs_epi16(ul, xl), _mm_maddubs_epi16(uh, xh));
  const __m128i pv = _mm_add_epi16(_mm_maddubs_epi16(vl, xl), _mm_maddubs_epi16(vh, xh));
  return _mm_add_epi16(_mm_unpacklo_epi32(pu, pv), _mm_unpackhi_epi32(pu, pv));
}

// qdecode.ts packedSums: the nibbles split with an and, and a shift and an and (i8x16.shr_u)
static inline __m128i packed_sums(const uint8_t *bu, const uint8_t *bv, const int8_t *xb, __m128i low) {
  const __m128i pu = _mm_loadu_si128((const __m128i *)(bu + 2));
  const __m128i pv = _mm_loadu_si128((const __m128i *)(bv + 2));
  return half_sums(_mm_and_si128(pu, low), _mm_and_si128(_mm_srli_epi16(pu, 4), low),
                   _mm_and_si128(pv, low), _mm_and_si128(_mm_srli_epi16(pv, 4), low), xb);
}

// qgemm.ts blockTotals
static inline __m128i block_totals(__m128i h0, __m128i h1, __m128i ones) {
  return _mm_madd_epi16(_mm_add_epi16(_mm_unpacklo_epi64(h0, h1), _mm_unpackhi_epi64(h0, h1)), ones);
}

// qgemm.ts accumulate
static inline __m128 accumulate(__m128 acc, __m128i tot, __m128 dw, const float *s, const int32_t *c) {
  const __m128 t = _mm_cvtepi32_ps(_mm_sub_epi32(tot, _mm_loadu_si128((const __m128i *)c)));
  return _mm_fmadd_ps(t, _mm_mul_ps(dw, _mm_loadu_ps(s)), acc);
}

// qdecode.ts rowPair: rows u, v (at wu, wv) -> out[nu], out[nv]
static void row_pair(float *out, int nu, int nv, const uint8_t *wu, const uint8_t *wv, const int8_t *xq,
                     const float *xs, const int32_t *xc, int nb) {
  const __m128i ones = _mm_set1_epi16(1), low = _mm_set1_epi8(0x0f);
  __m128 acc = _mm_setzero_ps();
  int b = 0;
  for (; b + 2 <= nb; b += 2) {
    const uint8_t *bu = wu + b * Q4_0_BYTES, *bv = wv + b * Q4_0_BYTES;
    const int8_t *xb = xq + b * QK;
    const __m128i h0 = packed_sums(bu, bv, xb, low);
    const __m128i h1 = packed_sums(bu + Q4_0_BYTES, bv + Q4_0_BYTES, xb + QK, low);
    acc = accumulate(acc, block_totals(h0, h1, ones), scales2(bu, bv, 0), xs + 2 * b, xc + 2 * b);
  }
  if (b < nb) {
    const uint8_t *bu = wu + b * Q4_0_BYTES, *bv = wv + b * Q4_0_BYTES;
    const __m128i h0 = packed_sums(bu, bv, xq + b * QK, low);
    acc = accumulate(acc, block_totals(h0, _mm_setzero_si128(), ones), scales2(bu, bv, 1), xs + 2 * b, xc + 2 * b);
  }
  float lanes[4];
  _mm_storeu_ps(lanes, acc);
  out[nu] = lanes[0] + lanes[2];
  out[nv] = lanes[1] + lanes[3];
}

// qdecode.ts matmulQ4_0I8 for one token over all rows: pairs half the range apart
static void ours_q4_0(float *out, const uint8_t *w, int8_t *xq, float *xs, int32_t *xc, const float *x, int N, int K) {
  quantize_x(xq, xs, xc, x, K);
  const int nb = K / QK, half = (N + 1) >> 1;
  const size_t row = (size_t)nb * Q4_0_BYTES;
  for (int n = 0; n < half; n++) {
    const int m = n + half < N ? n + half : n;
    row_pair(out, n, m, w + n * row, w + m * row, xq, xs, xc, nb);
  }
}

// ---- timing ------------------------------------------------------------------------------------

int main(int argc, char **argv) {
  if (argc != 9) fail("usage: vecdot llama|ours LIB TYPE N K WEIGHTS X TRIES", NULL);
  const int ours = strcmp(argv[1], "ours") == 0;
  if (!ours && strcmp(argv[1], "llama") != 0) fail("mode is llama or ours, not", argv[1]);
  const char *type = argv[3];
  const int N = atoi(argv[4]), K = atoi(argv[5]), tries = atoi(argv[8]);
  if (N <= 0 || K <= 0 || tries <= 0) fail("N, K and TRIES must be positive", NULL);
  if (ours && strcmp(type, "q4_0") != 0) fail("ours: only q4_0 is written in C, not", type);
  const struct llama_type *t = llama_type(type);
  if (K % t->block != 0) fail("K is not whole blocks of", type);
  const size_t row_bytes = (size_t)(K / t->block) * t->bytes;
  const uint8_t *w = read_file(argv[6], row_bytes * N);
  const float *x = read_file(argv[7], (size_t)K * 4);
  float *out = aligned_alloc(64, ((size_t)N * 4 + 63) & ~(size_t)63);

  vec_dot_fn dot = NULL;
  quantize_fn quantize = NULL;
  void *xq = NULL;
  float *xs = NULL;
  int32_t *xc = NULL;
  if (ours) {
    const int nb2 = padded_blocks(K);
    xq = aligned_alloc(64, (size_t)nb2 * QK);
    xs = aligned_alloc(64, (size_t)nb2 * 8);
    xc = aligned_alloc(64, (size_t)nb2 * 8);
  } else {
    void *lib = dlopen(argv[2], RTLD_NOW | RTLD_LOCAL);
    if (!lib) fail("dlopen", dlerror());
    ((void (*)(void))symbol(lib, "ggml_cpu_init"))(); // the f16 tables some variants read
    dot = (vec_dot_fn)symbol(lib, t->dot);
    quantize = (quantize_fn)symbol(lib, t->quantize);
    xq = aligned_alloc(64, ((size_t)(K / t->act_block) * t->act_bytes + 63) & ~(size_t)63);
  }

  // Enough products per try for ~20 ms, so the clock's resolution does not matter
  const double work = (double)N * K;
  const int reps = work > 2e7 ? 1 : (int)(2e7 / work);
  double best = 1e300;
  for (int i = 0; i < tries; i++) {
    const double t0 = now_ms();
    for (int r = 0; r < reps; r++) {
      if (ours) {
        ours_q4_0(out, w, xq, xs, xc, x, N, K);
      } else {
        quantize(x, xq, K);
        for (int n = 0; n < N; n++) dot(K, out + n, 0, w + n * row_bytes, 0, xq, 0, 1);
      }
    }
    const double ms = (now_ms() - t0) / reps;
    if (ms < best) best = ms;
  }
  printf("{\"ms\":%.6f,\"out\":[", best);
  for (int n = 0; n < N; n++) printf(n ? ",%.9g" : "%.9g", out[n]);
  printf("]}\n");
  return 0;
}
