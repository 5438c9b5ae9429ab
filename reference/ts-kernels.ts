// The readable TypeScript implementation of the kernel interface: the reference every
// faster backend (WASM SIMD, WebGPU) is checked against.
import { attention, attentionBackward } from './attention.js';
import type { Kernels, TrainingKernels } from './kernels.js';
import { matmul, matmulBackward } from './matmul.js';
import { rmsnorm, rmsnormBackward } from './rmsnorm.js';
import { rope, ropeBackward } from './rope.js';
import { swiglu, swigluBackward } from './swiglu.js';

export const tsKernels: Kernels = {
  name: 'ts',
  matmul,
  rmsnorm,
  rope,
  attention,
  swiglu,
};

// The same forward kernels with their backward passes, for training.
export const tsTrainingKernels: TrainingKernels = {
  ...tsKernels,
  matmulBackward,
  rmsnormBackward,
  ropeBackward,
  attentionBackward,
  swigluBackward,
};
