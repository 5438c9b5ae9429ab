/// <reference types="@webgpu/types" />
// The whole LLaMA forward pass on the GPU (the same data flow as reference/model.ts forward):
// weights uploaded once in their file types, the KV cache and every activation in GPU
// buffers, and each call recorded as ONE command buffer whose only readback is the logits
// (or, for greedy decoding, the 4-byte argmax). A prompt longer than `batch` tokens runs in
// chunks of `batch` (one command buffer each), which bounds the activation and attention
// scratch buffers; only the last chunk's logits are read unless all are asked for.
import { headDim, kvDim } from '../../../reference/config.js';
import type { KVCache, Trace } from '../../../reference/model.js';
import { readRow, type WeightTensor } from '../../../reference/tensor.js';
import type { LlamaModel } from '../../../reference/weights.js';
import { modelRopeFrequencies } from '../../../reference/rope.js';
import { Recorder } from './gpu.js';
import { GpuOps, ropeTable, uploadWeight, type GpuWeight } from './ops.js';

interface GpuLayer {
  attentionNorm: GPUBuffer; ffnNorm: GPUBuffer;
  wq: GpuWeight; wk: GpuWeight; wv: GpuWeight; wo: GpuWeight; w1: GpuWeight; w2: GpuWeight; w3: GpuWeight;
}

// One KV cache on the GPU, with what depends on its capacity S.
interface GpuCache {
  k: GPUBuffer[]; // L × [S, kvDim]
  v: GPUBuffer[];
  rope: GPUBuffer; // cos/sin table for positions 0..S-1 (ops.ts ropeTable)
  scores: GPUBuffer; // attention scratch [batch, nHeads, S]
}

export interface GpuForwardOptions {
  allLogits?: boolean; // logits for every position (default: the last one only)
  // Every intermediate tensor by its golden/ name, as reference/model.ts traces them: each is
  // copied, in the same command buffer, to a buffer of its own that is read after it runs.
  trace?: Trace;
}

// A traced tensor of one chunk: rows × width floats copied out for reading.
interface Tap { name: string; staging: GPUBuffer; rows: number; width: number }

export class GpuModel {
  private readonly layers: GpuLayer[];
  private readonly norm: GPUBuffer;
  private readonly output: GpuWeight;
  private readonly caches = new WeakMap<KVCache, GpuCache>();
  private readonly act: Record<'h' | 'xn' | 'q' | 'k' | 'v' | 'att' | 'proj' | 'gate' | 'up' | 'last' | 'logits' | 'token', GPUBuffer>;

  constructor(
    private readonly ops: GpuOps, readonly model: LlamaModel, readonly batch = 32,
  ) {
    const { config: c, weights: w } = model;
    const gpu = ops.gpu;
    const uploaded = new Map<WeightTensor, GpuWeight>(); // a shared classifier is uploaded once
    const matrix = (name: string, t: WeightTensor): GpuWeight => {
      let g = uploaded.get(t);
      if (!g) uploaded.set(t, (g = uploadWeight(gpu, name, t)));
      return g;
    };
    this.layers = w.layers.map((lw, l) => ({
      attentionNorm: gpu.upload(`layers.${l}.attention_norm`, lw.attentionNorm),
      ffnNorm: gpu.upload(`layers.${l}.ffn_norm`, lw.ffnNorm),
      wq: matrix(`layers.${l}.wq`, lw.wq), wk: matrix(`layers.${l}.wk`, lw.wk), wv: matrix(`layers.${l}.wv`, lw.wv),
      wo: matrix(`layers.${l}.wo`, lw.wo), w1: matrix(`layers.${l}.w1`, lw.w1), w2: matrix(`layers.${l}.w2`, lw.w2),
      w3: matrix(`layers.${l}.w3`, lw.w3),
    }));
    this.norm = gpu.upload('norm', w.norm);
    this.output = matrix('output', w.output);
    const B = batch;
    const f = (name: string, floats: number) => gpu.storage(name, floats * 4);
    const qDim = c.nHeads * headDim(c);
    this.act = {
      h: f('h', B * c.dim), xn: f('xn', B * c.dim), q: f('q', B * qDim), k: f('k', B * kvDim(c)), v: f('v', B * kvDim(c)),
      att: f('att', B * qDim), proj: f('proj', B * c.dim), gate: f('gate', B * c.hiddenDim), up: f('up', B * c.hiddenDim),
      last: f('last row', c.dim), logits: f('logits', B * c.vocabSize), token: f('argmax', 1),
    };
  }

  private gpuCache(cache: KVCache): GpuCache {
    let g = this.caches.get(cache);
    if (!g) {
      const c = this.model.config;
      const S = cache.capacity;
      const gpu = this.ops.gpu;
      const layer = (kind: string, l: number) => gpu.storage(`KV cache ${kind} of layer ${l} (${S} positions)`, S * kvDim(c) * 4);
      g = {
        k: Array.from({ length: c.nLayers }, (_, l) => layer('k', l)),
        v: Array.from({ length: c.nLayers }, (_, l) => layer('v', l)),
        rope: gpu.upload('rope table', ropeTable(S, modelRopeFrequencies(c))),
        scores: gpu.storage(`attention scores (${this.batch} × ${c.nHeads} heads × ${S} positions)`, this.batch * c.nHeads * S * 4),
      };
      this.caches.set(cache, g);
    }
    return g;
  }

  // Runs T tokens at positions pos0 .. pos0+T-1 (appending to the cache); resolves to the
  // logits [T, V] with allLogits, else [V] of the last position.
  async forward(cache: KVCache, tokens: ArrayLike<number>, pos0: number, options: GpuForwardOptions = {}): Promise<Float32Array> {
    const V = this.model.config.vocabSize;
    const T = this.checkCall(cache, tokens, pos0);
    const all = options.allLogits ? new Float32Array(T * V) : undefined;
    const traced = new Map<string, { width: number; parts: Float32Array[] }>(); // in data-flow order
    let last = new Float32Array(0);
    for (let t0 = 0; t0 < T; t0 += this.batch) {
      const n = Math.min(this.batch, T - t0);
      const chunk = Array.from({ length: n }, (_, i) => tokens[t0 + i]);
      const isLast = t0 + n === T;
      const taps: Tap[] | undefined = options.trace ? [] : undefined;
      if (!all && !isLast) {
        this.record(cache, chunk, pos0 + t0, 'none', taps);
      } else {
        const rec = this.record(cache, chunk, pos0 + t0, all ? 'all' : 'last', taps);
        const rows = all ? n : 1;
        last = new Float32Array(await this.ops.gpu.submitAndRead(rec.end(), this.act.logits, 0, rows * V * 4));
        all?.set(last, t0 * V);
      }
      for (const tap of taps ?? []) {
        await tap.staging.mapAsync(GPUMapMode.READ);
        const data = new Float32Array(tap.staging.getMappedRange().slice(0));
        tap.staging.destroy();
        const entry = traced.get(tap.name) ?? { width: tap.width, parts: [] };
        entry.parts.push(data);
        traced.set(tap.name, entry);
      }
    }
    if (options.trace) {
      for (const [name, { width, parts }] of traced) {
        const data = new Float32Array(T * width);
        parts.forEach((p, i) => data.set(p, i * this.batch * width));
        options.trace(name, data, [T, width]);
      }
      if (all) options.trace('logits', all, [T, V]);
    }
    return all ?? last;
  }

  // Greedy decoding: the argmax of the last position's logits, computed on the GPU.
  async forwardArgmax(cache: KVCache, tokens: ArrayLike<number>, pos0: number): Promise<number> {
    const T = this.checkCall(cache, tokens, pos0);
    let rec: Recorder | undefined;
    for (let t0 = 0; t0 < T; t0 += this.batch) {
      const n = Math.min(this.batch, T - t0);
      const isLast = t0 + n === T;
      rec = this.record(cache, Array.from({ length: n }, (_, i) => tokens[t0 + i]), pos0 + t0, isLast ? 'last' : 'none');
    }
    this.ops.argmax(rec!, this.act.token, this.act.logits, this.model.config.vocabSize);
    return new Uint32Array(await this.ops.gpu.submitAndRead(rec!.end(), this.act.token, 0, 4))[0];
  }

  private checkCall(cache: KVCache, tokens: ArrayLike<number>, pos0: number): number {
    const T = tokens.length;
    if (T === 0) throw new Error('forward: no tokens');
    if (pos0 < 0 || pos0 + T > cache.capacity) {
      throw new Error(`forward: positions ${pos0}..${pos0 + T - 1} do not fit the context of ${cache.capacity}`);
    }
    const V = this.model.config.vocabSize;
    for (let t = 0; t < T; t++) {
      const token = tokens[t];
      if (!Number.isInteger(token) || token < 0 || token >= V) {
        throw new Error(`forward: token ${token} at index ${t} is outside the vocabulary of ${V}`);
      }
    }
    return T;
  }

  // Records one chunk of T ≤ batch tokens; submits it at once unless its logits are wanted
  // (then the caller submits it together with the readback).
  private record(cache: KVCache, tokens: number[], pos0: number, logits: 'none' | 'last' | 'all', taps?: Tap[]): Recorder {
    const { config: c } = this.model;
    const { ops, act } = this;
    const gpu = ops.gpu;
    const T = tokens.length;
    const C = c.dim;
    const hd = headDim(c);
    const kvD = kvDim(c);
    const g = this.gpuCache(cache);

    // Token embedding, row by row on the CPU (T rows of C), written before the command buffer runs.
    const h = new Float32Array(T * C);
    const row = new Float32Array(C);
    tokens.forEach((token, t) => {
      readRow(this.model.weights.tokenEmbedding, token, row);
      h.set(row, t * C);
    });
    gpu.device.queue.writeBuffer(act.h, 0, h);
    const step = ops.step(T, pos0);

    const rec = new Recorder(gpu);
    // With a trace: the tensor as it is now, copied out (later operations reuse the buffer).
    const tap = (name: string, buffer: GPUBuffer, width: number): void => {
      if (!taps) return;
      const staging = gpu.device.createBuffer({ size: T * width * 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
      rec.copy(buffer, 0, staging, 0, T * width * 4);
      taps.push({ name, staging, rows: T, width });
    };
    const qDim = c.nHeads * hd;
    tap('embedding', act.h, C);
    this.layers.forEach((lw, l) => {
      const p = `layers.${l}.`;
      // h += wo · attention(rope(wq x), rope(wk x), wv x), x = RMSNorm(h); the new keys and
      // values are copied into the cache rows pos0 .. pos0+T-1 (copies need only 4-byte offsets).
      ops.rmsnorm(rec, act.xn, act.h, lw.attentionNorm, T, C, c.normEps);
      tap(p + 'attention_norm', act.xn, C);
      ops.matmul(rec, act.q, act.xn, lw.wq, T);
      ops.matmul(rec, act.k, act.xn, lw.wk, T);
      ops.matmul(rec, act.v, act.xn, lw.wv, T);
      ops.rope(rec, step, act.q, g.rope, T, c.nHeads, hd);
      ops.rope(rec, step, act.k, g.rope, T, c.nKvHeads, hd);
      tap(p + 'q', act.q, qDim);
      tap(p + 'k', act.k, kvD);
      tap(p + 'v', act.v, kvD);
      rec.copy(act.k, 0, g.k[l], pos0 * kvD * 4, T * kvD * 4);
      rec.copy(act.v, 0, g.v[l], pos0 * kvD * 4, T * kvD * 4);
      ops.attention(rec, step, act.att, act.q, g.k[l], g.v[l], g.scores, T, c.nHeads, c.nKvHeads, hd, cache.capacity);
      tap(p + 'attn', act.att, qDim);
      ops.matmul(rec, act.proj, act.att, lw.wo, T);
      tap(p + 'attn_out', act.proj, C);
      ops.add(rec, step, act.h, act.proj, T, C);
      tap(p + 'h', act.h, C);
      // h += w2 · (silu(w1 x) ⊙ w3 x), x = RMSNorm(h)
      ops.rmsnorm(rec, act.xn, act.h, lw.ffnNorm, T, C, c.normEps);
      tap(p + 'ffn_norm', act.xn, C);
      ops.matmul(rec, act.gate, act.xn, lw.w1, T);
      ops.matmul(rec, act.up, act.xn, lw.w3, T);
      ops.swiglu(rec, step, act.gate, act.up, T, c.hiddenDim);
      ops.matmul(rec, act.proj, act.gate, lw.w2, T);
      tap(p + 'ffn_out', act.proj, C);
      ops.add(rec, step, act.h, act.proj, T, C);
      tap(p + 'out', act.h, C);
    });
    ops.rmsnorm(rec, act.xn, act.h, this.norm, T, C, c.normEps);
    tap('norm', act.xn, C);
    if (logits === 'all') {
      ops.matmul(rec, act.logits, act.xn, this.output, T);
    } else if (logits === 'last') {
      rec.copy(act.xn, (T - 1) * C * 4, act.last, 0, C * 4);
      ops.matmul(rec, act.logits, act.last, this.output, 1);
    } else {
      gpu.device.queue.submit([rec.end().finish()]);
    }
    return rec;
  }
}
