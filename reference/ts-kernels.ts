// The readable TypeScript implementation of the kernel interface: the reference every
// faster backend (WASM SIMD, WebGPU) is checked against.
import { attention } from './attention.js';
import type { Kernels } from './kernels.js';
import { matmul } from './matmul.js';
import { rmsnorm } from './rmsnorm.js';
import { rope } from './rope.js';
import { swiglu } from './swiglu.js';

export const tsKernels: Kernels = {
  name: 'ts',
  matmul,
  rmsnorm,
  rope,
  attention,
  swiglu,
};
