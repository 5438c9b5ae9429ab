// The explorer page: a prompt, generated token by token, and for the current step the views
// of src/explain (distribution and sampling, attention, logit lens, layer internals), each
// with the reference code that computed it. The model and its trace live in a Web Worker
// (explorer-worker.ts); the page keeps only the current step and draws.
// URL parameters: ?model=URL&tokenizer=URL&prompt=TEXT (default: the embedded models/kjv.gguf).
// window.explorer exposes the state for tests (tests/browser-explorer.test.ts).
import { Rng } from '../reference/random.js';
import {
  alternativesHtml, attentionView, distributionView, EXPLAIN_CSS, headsGridView, lensView, residualView, rmsnormView, ropeView, showPiece, swigluView,
  type ExplainStep, type SamplingSettings, type StepShape,
} from '../src/explain/index.js';
import type { ExplorerReply, ExplorerRequest } from './explorer-protocol.js';

type Reply<T extends ExplorerReply['type']> = Extract<ExplorerReply, { type: T }>;

// The page's side of the worker: each request resolves with its reply, in order.
class ExplorerClient {
  private readonly worker = new Worker(new URL('./explorer-worker.js', import.meta.url), { type: 'module' });
  private readonly waiting: { resolve(r: ExplorerReply): void; reject(e: Error): void }[] = [];
  constructor() {
    this.worker.onmessage = (e: MessageEvent<ExplorerReply>) => {
      const w = this.waiting.shift();
      if (e.data.type === 'error') w?.reject(new Error(e.data.message));
      else w?.resolve(e.data);
    };
    this.worker.onerror = (e) => {
      for (const w of this.waiting.splice(0)) w.reject(new Error(`explorer worker: ${e.message ?? 'failed to load'}`));
    };
  }
  request<T extends ExplorerReply['type']>(r: ExplorerRequest): Promise<Reply<T>> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve: resolve as (r: ExplorerReply) => void, reject });
      this.worker.postMessage(r);
    });
  }
}

interface State {
  shape?: StepShape;
  pieces: string[];
  endIds: Set<number>;
  contextLength: number;
  tokens: number[];
  promptLength: number;
  alternatives: string[]; // per generated token: the bars of its step's top alternatives
  step?: ExplainStep; // the current step: the next token after `tokens`
  sampled?: number; // the token the current settings draw at this step
  ended: boolean;
}

const state: State = { pieces: [], endIds: new Set(), contextLength: 0, tokens: [], promptLength: 0, alternatives: [], ended: false };
const client = new ExplorerClient();
const $ = <T extends HTMLElement = HTMLInputElement>(id: string): T => document.getElementById(id) as T;
const piece = (t: number): string => state.pieces[t] ?? `⟨${t}⟩`;
let busy = false;

function settings(): SamplingSettings {
  return { temperature: Number($('temperature').value), topK: Number($('top-k').value), topP: Number($('top-p').value), minP: Number($('min-p').value) };
}

// The uniform draw of step n: the n-th of Rng(seed), as Sampler({ seed }) draws them, so with
// settings left alone the page writes what `generate --seed` writes.
function uniform(n: number): number {
  const rng = new Rng(Number($('seed').value) >>> 0);
  let u = rng.nextFloat();
  for (let i = 0; i < n; i++) u = rng.nextFloat();
  return u;
}

function setStatus(text: string): void {
  $('status').textContent = text;
}

function fillSelect(id: string, n: number, label: (i: number) => string, keep: number): void {
  const select = $<HTMLSelectElement>(id);
  select.replaceChildren(...Array.from({ length: n }, (_, i) => new Option(label(i), String(i))));
  select.value = String(Math.min(Math.max(keep, 0), n - 1));
}

function renderText(): void {
  const text = $('text');
  text.replaceChildren(...state.tokens.map((t, i) => {
    const span = document.createElement('span');
    const generated = i >= state.promptLength;
    span.className = `tok${generated ? ' generated' : ''}`;
    span.textContent = showPiece(piece(t));
    span.dataset.index = String(i);
    span.dataset.token = String(t);
    if (generated) {
      span.tabIndex = 0; // hover has a keyboard twin: focus
      span.setAttribute('aria-label', `generated token ${i}: ${piece(t)}; alternatives on focus`);
    }
    return span;
  }));
}

function showTooltip(span: HTMLElement): void {
  const i = Number(span.dataset.index) - state.promptLength;
  const tip = $('tooltip');
  if (!(i >= 0 && state.alternatives[i])) return;
  tip.innerHTML = `<div>step ${span.dataset.index}: the model's top alternatives</div>${state.alternatives[i]}`;
  const box = span.getBoundingClientRect();
  tip.style.left = `${box.left + window.scrollX}px`;
  tip.style.top = `${box.bottom + window.scrollY + 4}px`;
  tip.hidden = false;
}

function render(): void {
  const step = state.step;
  if (!step) return;
  const ctx = { step, piece };
  const layer = Number($<HTMLSelectElement>('layer').value);
  const head = Number($<HTMLSelectElement>('head').value);
  const pos = Number($<HTMLSelectElement>('position').value);
  const log = $('log-scale').checked;
  for (const id of ['temperature', 'top-k', 'top-p', 'min-p']) $(`${id}-out`).textContent = $(id).value;
  const dist = distributionView(ctx, settings(), uniform(state.tokens.length - state.promptLength));
  state.sampled = dist.sampled;
  $('views').innerHTML = [
    dist.html,
    `<div class="grid2">${attentionView(ctx, layer, head, log)}${headsGridView(ctx, layer, log, head)}</div>`,
    lensView(ctx),
    `<div class="grid2">${rmsnormView(ctx, layer, pos)}${ropeView(ctx, pos)}${swigluView(ctx, layer, pos)}${residualView(ctx, pos)}</div>`,
  ].join('');
  const more = !state.ended && !busy && state.tokens.length < state.contextLength;
  $<HTMLButtonElement>('next').disabled = !more;
  $<HTMLButtonElement>('next10').disabled = !more;
}

// Explains the step after the current tokens (the worker runs the forward pass).
async function explainCurrent(): Promise<void> {
  const reply = await client.request<'step'>({ type: 'step', tokens: state.tokens });
  state.step = reply.step;
  const T = state.tokens.length;
  const posSelect = $<HTMLSelectElement>('position');
  const followLast = posSelect.options.length === 0 || Number(posSelect.value) >= posSelect.options.length - 1;
  fillSelect('position', T, (i) => `${i} ${showPiece(piece(state.tokens[i]))}`, followLast ? T - 1 : Number(posSelect.value));
  renderText();
  render();
  setStatus(`step ${T - state.promptLength}: ${T} tokens through the reference forward pass in ${reply.ms.toFixed(0)} ms${state.ended ? '; generation ended' : ''}`);
}

async function start(event?: Event): Promise<void> {
  event?.preventDefault();
  busy = true;
  try {
    setStatus('loading the model…');
    const loaded = await client.request<'loaded'>({ type: 'load', modelUrl: $('model').value, tokenizerUrl: $('tokenizer').value || undefined });
    Object.assign(state, { shape: loaded.shape, pieces: loaded.pieces, endIds: new Set(loaded.endIds), contextLength: loaded.contextLength, alternatives: [], ended: false });
    fillSelect('layer', loaded.shape.nLayers, (i) => `layer ${i}`, loaded.shape.nLayers - 1);
    fillSelect('head', loaded.shape.nHeads, (i) => `head ${i} (KV ${Math.floor(i / (loaded.shape.nHeads / loaded.shape.nKvHeads))})`, 0);
    const encoded = await client.request<'encoded'>({ type: 'encode', prompt: $('prompt').value });
    state.tokens = encoded.tokens;
    state.promptLength = encoded.tokens.length;
    $<HTMLSelectElement>('position').replaceChildren();
    busy = false;
    await explainCurrent();
  } catch (error) {
    setStatus(`error: ${(error as Error).message}`);
  } finally {
    busy = false;
    render();
  }
}

// Appends the token drawn at the current step, then explains the next one.
async function next(count: number): Promise<void> {
  if (busy || !state.step) return;
  busy = true;
  try {
    for (let i = 0; i < count && !state.ended && state.tokens.length < state.contextLength; i++) {
      const token = state.sampled!;
      if (state.endIds.has(token)) {
        state.ended = true;
        break;
      }
      state.alternatives.push(alternativesHtml(state.step.logits, token, piece));
      state.tokens.push(token);
      await explainCurrent();
    }
  } catch (error) {
    setStatus(`error: ${(error as Error).message}`);
  } finally {
    busy = false;
    render();
  }
}

function setUp(): void {
  const style = document.createElement('style');
  style.textContent = EXPLAIN_CSS;
  document.head.append(style);
  const params = new URLSearchParams(location.search);
  for (const id of ['model', 'tokenizer', 'prompt']) if (params.has(id)) $(id).value = params.get(id)!;
  $('model-form').addEventListener('submit', (e) => void start(e));
  $('next').addEventListener('click', () => void next(1));
  $('next10').addEventListener('click', () => void next(10));
  for (const id of ['temperature', 'top-k', 'top-p', 'min-p', 'seed', 'layer', 'head', 'position', 'log-scale']) $(id).addEventListener('input', render);
  // a head of the grid picks the head of the big heatmap
  $('views').addEventListener('click', (e) => {
    const button = (e.target as Element).closest<HTMLElement>('button.head');
    if (!button) return;
    $<HTMLSelectElement>('head').value = button.dataset.head!;
    render();
    document.querySelector<HTMLElement>(`button.head[data-head="${button.dataset.head}"]`)?.focus();
  });
  const text = $('text');
  const hide = (): void => void ($('tooltip').hidden = true);
  for (const [on, off] of [['mouseover', 'mouseout'], ['focusin', 'focusout']] as const) {
    text.addEventListener(on, (e) => {
      const span = (e.target as Element).closest<HTMLElement>('.tok.generated');
      if (span) showTooltip(span);
    });
    text.addEventListener(off, hide);
  }
  (globalThis as unknown as { explorer: unknown }).explorer = {
    state: () => ({ tokens: [...state.tokens], promptLength: state.promptLength, sampled: state.sampled, busy, ended: state.ended }),
    step: () => state.step,
    start: () => start(),
    next: (n = 1) => next(n),
  };
  void start();
}

setUp();
