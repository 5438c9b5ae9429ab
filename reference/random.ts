// The seeded random source of llama-ts: initialization (init.ts), the training data's batch
// positions (src/train/data.ts) and the sampler (src/generate/sampler.ts) all draw from here,
// so that one seed reproduces one run on every platform (Math.random cannot be seeded).
//
// Two generators, kept both on purpose: models initialized from a seed (golden/, tests, the
// default model's recipe) were made with mulberry32, and sampled text and training batches
// from a seed with xoshiro128**. One algorithm for all would change every seeded output, so
// each keeps its own stream of numbers.

// --- xoshiro128** (seeded through splitmix32): sampling and training batches ----------

export class Rng {
  private s = new Uint32Array(4); // [4] the 128-bit state

  constructor(seed: number) {
    // splitmix32 spreads any seed, 0 included, over the 128-bit state.
    let x = seed >>> 0;
    for (let i = 0; i < 4; i++) {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      this.s[i] = (z ^ (z >>> 16)) >>> 0;
    }
  }

  nextU32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1], 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  // Uniform in [0, 1) with 24 bits, like llama2.c's random_f32.
  nextFloat(): number {
    return (this.nextU32() >>> 8) / 16777216;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

// --- mulberry32: initialization ---------------------------------------------------------

// A tiny seeded uniform generator in [0, 1).
export function seededUniform(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Box–Muller normals from a seeded uniform generator.
export function seededNormal(seed: number): () => number {
  const uniform = seededUniform(seed);
  return () => {
    const u = 1 - uniform(); // (0, 1]: log(u) stays finite
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * uniform());
  };
}
