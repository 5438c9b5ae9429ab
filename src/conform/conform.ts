// `llama-ts conform`: a port's dump against a golden case, tensor by tensor in data-flow
// order, naming the first tensor out of tolerance (where the port first goes wrong) and the
// first tensor clearly above float32 noise (where a small bug first shows).
import type { Kernels } from '../../reference/kernels.js';
import type { LlamaModel } from '../../reference/weights.js';
import { readFileBytes } from '../io/read-file.js';
import { parseSafetensors, tensorToFloat64, type SafeTensor, type TensorToWrite } from '../formats/safetensors.js';
import { compareTensor, toleranceFor, type TensorComparison } from './compare.js';
import { dumpAdamW, dumpForward, dumpForwardAsync, type DeviceTraining } from './dump.js';
import { caseModel, readExpected, type GoldenCase, type GoldenManifest } from './golden.js';
import { ABOVE_NOISE, noiseMultiple, readNoise, scaledTolerance, toleranceScale, type NoiseTable } from './noise.js';
import { casePartsOf, didYouMean, needsTargets, partOf, type Part } from './parts.js';
import { PER_POSITION, tensorPosition } from './position.js';

export interface UnknownTensor {
  name: string;
  didYouMean?: string;
}

export interface ConformReport {
  case: string;
  ok: boolean;
  compared: TensorComparison[]; // in data-flow order; a required tensor the dump lacks is one with a problem
  firstFailure: string | null;
  firstAboveNoise: { name: string; times: number } | null; // first tensor ≥ ABOVE_NOISE × its float32 noise
  checked: Part[]; // the parts compared
  notChecked: Part[]; // parts the case has that were not asked for (--only)
  missing: string[]; // required tensors the dump does not have
  unknown: UnknownTensor[]; // dump tensors that are not this case's: each fails
  unchecked: string[]; // golden tensors in the dump, of parts not asked for (not compared)
}

const MISSING = 'missing from the dump';

type DumpTensors = Map<string, { shape: number[]; values: Float64Array }>;

export interface ConformOptions {
  only?: readonly Part[]; // the parts the port implements; default every part the case has
  noise?: NoiseTable; // float32 noise per tensor; default golden/accuracy.json beside the manifest
}

export function conformTensors(manifest: GoldenManifest, c: GoldenCase, dump: DumpTensors, options: ConformOptions = {}): ConformReport {
  const expected = readExpected(manifest, c);
  const noise = options.noise ?? readNoise(manifest.root);
  const caseParts = casePartsOf(c);
  const checked = caseParts.filter((p) => !options.only || options.only.includes(p));
  const headDim = (c.config.dim as number) / (c.config.n_heads as number);
  const compared: TensorComparison[] = [];
  const missing: string[] = [];
  const unchecked: string[] = [];
  for (const name of c.tensors) {
    const golden = expected.tensors.get(name);
    if (!golden) throw new Error(`${manifest.root}/${c.expected}: no tensor "${name}", which the manifest lists for case ${c.name}`);
    const part = partOf(name);
    const required = part === 'inputs' ? name === 'tokens' || needsTargets(checked) : checked.includes(part);
    const ours = dump.get(name);
    if (!required) {
      if (ours && part !== 'inputs') unchecked.push(name);
      if (!ours || part !== 'inputs') continue; // targets given though not needed: still compared
    }
    if (!ours) {
      missing.push(name);
      compared.push(missingTensor(name, golden.shape, toleranceFor(name, manifest.tolerances).kind));
      continue;
    }
    compared.push(compareOne(name, ours, { shape: golden.shape, values: tensorToFloat64(golden) }, manifest, noise, headDim));
  }
  const known = new Set(c.tensors);
  const unknown = [...dump.keys()].filter((n) => !known.has(n)).map((name) => ({ name, didYouMean: didYouMean(name, c.tensors) }));
  const first = compared.find((r) => !r.ok);
  const above = compared.find((r) => (r.aboveNoise ?? 0) >= ABOVE_NOISE || (!r.ok && r.problem !== MISSING));
  return {
    case: c.name,
    ok: !first && unknown.length === 0,
    compared,
    firstFailure: first ? first.name : unknown.length ? `unknown tensor "${unknown[0].name}"` : null,
    firstAboveNoise: above ? { name: above.name, times: above.aboveNoise ?? Infinity } : null,
    checked,
    notChecked: caseParts.filter((p) => !checked.includes(p)),
    missing,
    unknown,
    unchecked,
  };
}

function compareOne(
  name: string, ours: { shape: number[]; values: Float64Array }, golden: { shape: number[]; values: Float64Array },
  manifest: GoldenManifest, noise: NoiseTable, headDim: number,
): TensorComparison {
  const kindTolerance = toleranceFor(name, manifest.tolerances);
  const measured = noise.get(name);
  const scale = toleranceScale(kindTolerance, measured);
  const r = compareTensor(name, ours.values, ours.shape, golden.values, golden.shape, scaledTolerance(kindTolerance, scale));
  if (r.worstIndex >= 0) r.worstAt = tensorPosition(name, golden.shape, r.worstIndex, headDim);
  if (r.problem?.endsWith(`at element ${r.worstIndex}`)) r.problem = r.problem.replace(`at element ${r.worstIndex}`, `at ${r.worstAt}`);
  if (kindTolerance.kind === 'index') {
    if (!r.ok && !r.problem) r.problem = `${name} differ at position ${r.worstIndex}: ${ours.values[r.worstIndex]} vs ${golden.values[r.worstIndex]}`;
    return r;
  }
  r.toleranceScale = scale;
  r.noise = measured;
  r.aboveNoise = noiseMultiple(r.usage * scale, measured); // usage against the kind's tolerance
  return r;
}

function missingTensor(name: string, shape: number[], kind: string): TensorComparison {
  return {
    name, kind, shape, maxAbsError: Infinity, maxRelError: Infinity, usage: Infinity,
    outliers: 0, allowedOutliers: 0, worstIndex: -1, ok: false, problem: MISSING,
  };
}

export function conformDumpFile(manifest: GoldenManifest, c: GoldenCase, dumpPath: string, options: ConformOptions = {}): ConformReport {
  const file = parseSafetensors(readFileBytes(dumpPath), dumpPath);
  return conformTensors(manifest, c, fromSafetensors(file.tensors), options);
}

// Runs a golden case through llama-ts itself: forward, loss, gradients and AdamW steps.
export function conformSelf(manifest: GoldenManifest, c: GoldenCase, kernels: Kernels): ConformReport {
  const model = caseModel(manifest, c);
  const targets = c.targets?.length === c.tokens.length ? c.targets : undefined;
  const tensors = dumpForward(model, kernels, c.tokens, { targets, gradients: c.tensors.some((n) => n.startsWith('grad.')) });
  if (targets && c.adamw) {
    tensors.push(...dumpAdamW(model, kernels, c.tokens, targets, { lr: c.adamw.lr, steps: c.adamw.steps, savedSteps: c.adamw.saved_steps }));
  }
  return conformTensors(manifest, c, fromWritten(keepCaseRows(c, tensors)));
}

// A long case stores only the rows of positions rows_from.. of its [T, ·] tensors: a dump of the
// whole sequence cut alike.
export function keepCaseRows(c: GoldenCase, tensors: Array<[string, TensorToWrite]>): Array<[string, TensorToWrite]> {
  const rowsFrom = c.rows_from ?? 0;
  if (rowsFrom === 0) return tensors;
  return tensors.map(([name, t]) => {
    if (!PER_POSITION.test(name) || t.shape.length !== 2) return [name, t];
    const [rows, width] = t.shape;
    return [name, { ...t, shape: [rows - rowsFrom, width], data: (t.data as Float32Array).subarray(rowsFrom * width) }];
  });
}

// conformSelf for kernels made per model (WebGPU holds the case's weights on the GPU) and
// run asynchronously: the forward pass and the one-token decodes through forwardAsync, with
// every traced tensor read back from the device. Gradients and AdamW steps run on the device
// where the kernels train there (deviceTraining), else on the readable TypeScript kernels.
export async function conformSelfAsync(
  manifest: GoldenManifest, c: GoldenCase, makeKernels: (model: LlamaModel) => Promise<Kernels>, close: (k: Kernels) => Promise<void>,
  only?: readonly Part[], // the parts to run and check (default all: forward, loss, decode, grad, adamw)
): Promise<ConformReport> {
  const model = caseModel(manifest, c);
  const wants = (p: Part) => !only || only.includes(p);
  const targets = c.targets?.length === c.tokens.length && (wants('loss') || wants('grad') || wants('adamw')) ? c.targets : undefined;
  const kernels = await makeKernels(model);
  try {
    const training = (kernels as { deviceTraining?: () => DeviceTraining }).deviceTraining?.();
    const noGradients = async () => [];
    const gradients = wants('grad') && c.tensors.some((n) => n.startsWith('grad.'));
    const tensors = await dumpForwardAsync(model, kernels, c.tokens, { targets, decode: wants('decode'), gradients }, gradients ? training?.gradients : noGradients);
    if (targets && c.adamw && wants('adamw')) {
      const o = { lr: c.adamw.lr, steps: c.adamw.steps, savedSteps: c.adamw.saved_steps };
      tensors.push(...(training ? await training.adamw(c.tokens, targets, o) : dumpAdamW(model, kernels, c.tokens, targets, o)));
    }
    return conformTensors(manifest, c, fromWritten(keepCaseRows(c, tensors)), { only });
  } finally {
    await close(kernels);
  }
}

export function fromSafetensors(tensors: Map<string, SafeTensor>): DumpTensors {
  const out: DumpTensors = new Map();
  for (const [name, t] of tensors) out.set(name, { shape: t.shape, values: tensorToFloat64(t) });
  return out;
}

export function fromWritten(tensors: Array<[string, TensorToWrite]>): DumpTensors {
  const out: DumpTensors = new Map();
  for (const [name, t] of tensors) out.set(name, { shape: t.shape, values: Float64Array.from(t.data as ArrayLike<number>) });
  return out;
}

export { formatReport, reportJson } from './report.js';
