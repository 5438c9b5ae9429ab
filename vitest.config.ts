import { existsSync } from 'node:fs';
import { defineConfig } from 'vitest/config';

// The WebGPU tests run Dawn (the `webgpu` package) on SwiftShader, Chromium's CPU Vulkan,
// where the machine has no GPU driver. The dynamic linker and the Vulkan loader read these
// when a process starts, so they are set here, before vitest forks its test workers.
const SWIFTSHADER = '/usr/lib/chromium/vk_swiftshader_icd.json';
if (!process.env.VK_ICD_FILENAMES && existsSync(SWIFTSHADER)) {
  process.env.VK_ICD_FILENAMES = SWIFTSHADER;
  process.env.LD_LIBRARY_PATH = ['/usr/lib/chromium', process.env.LD_LIBRARY_PATH].filter(Boolean).join(':');
}

export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
