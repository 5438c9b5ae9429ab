"""Loss gradients and AdamW, written out by hand with torch.optim.AdamW's semantics (decoupled
weight decay, bias-corrected moments, eps added after the square root), preceded by global
gradient-norm clipping as torch.nn.utils.clip_grad_norm_ does it. selftest.py checks this
against torch's own optimizer.

`run_case` produces every tensor of a case's expected.safetensors, in data-flow order.
"""
import math
from dataclasses import dataclass

import torch

import model

BETA1, BETA2, ADAM_EPS = 0.9, 0.95, 1e-8
WEIGHT_DECAY = 0.1  # on 2-D parameters (matrices, embeddings); 0 on the 1-D norm gains
MAX_GRAD_NORM = 1.0
CLIP_EPS = 1e-6  # clip_grad_norm_'s coef = max_norm / (total_norm + 1e-6)


def loss_and_grads(cfg, params, tokens, targets, variant=model.TRUTH):
    """Forward, mean cross-entropy, backward. Returns (loss, activations, grads) where grads maps
    each parameter name to d loss / d param (a shared embedding collects both of its uses)."""
    for p in params.values():
        p.grad = None
    logits, acts = model.forward(cfg, params, tokens, variant)
    loss = model.cross_entropy(logits, targets)
    loss.backward()
    # a parameter the variant never reads (RMSNorm without gain) has no gradient: zero
    grads = {n: p.grad.detach().clone() if p.grad is not None else torch.zeros_like(p) for n, p in params.items()}
    return loss.detach(), [(n, t.detach()) for n, t in acts], grads


def global_norm(grads):
    """sqrt of the sum of squares of every gradient element (the 2-norm of all of them)."""
    return torch.sqrt(sum((g * g).sum() for g in grads.values()))


def clip(grads, total_norm):
    """Scale all gradients by max_norm / (total_norm + 1e-6) when that is below 1."""
    coef = MAX_GRAD_NORM / (total_norm + CLIP_EPS)
    if coef < 1:
        return {name: g * coef for name, g in grads.items()}
    return grads


@dataclass(frozen=True)
class Optimizer:
    """The AdamW recipe. The defaults are the truth; the other settings are common bugs that
    accuracy.py measures (they never make the committed vectors)."""
    bias_correction: bool = True
    decay_gains: bool = False  # True: weight decay on the 1-D norm gains too (a bug)
    weight_decay: float = WEIGHT_DECAY
    clip: bool = True


ADAMW = Optimizer()


def adamw_step(params, grads, m, v, step, lr, opt=ADAMW):
    """One AdamW update in place (step counts from 1). m, v: first and second moments, stored
    without bias correction, exactly as torch's optimizer state exp_avg / exp_avg_sq."""
    with torch.no_grad():
        for name, p in params.items():
            g = grads[name]
            decay = opt.weight_decay if (p.dim() == 2 or opt.decay_gains) else 0.0
            p.mul_(1 - lr * decay)  # decoupled weight decay, applied before the Adam step
            m[name] = BETA1 * m[name] + (1 - BETA1) * g
            v[name] = BETA2 * v[name] + (1 - BETA2) * g * g
            bias1, bias2 = (1 - BETA1**step, 1 - BETA2**step) if opt.bias_correction else (1.0, 1.0)
            denom = torch.sqrt(v[name]) / math.sqrt(bias2) + ADAM_EPS
            p.sub_((lr / bias1) * m[name] / denom)


def run_case(cfg, weights, tokens, targets, lr, steps, dtype=torch.float64, variant=model.TRUTH, opt=ADAMW, save_steps=(1, 10),
             gradients=True):
    """weights: name -> tensor. Returns the ordered list of (name, tensor) of expected.safetensors
    (without tokens/targets): activations, loss, decode_logits, grads (gradients), then AdamW (steps > 0)."""
    if not gradients:
        params = {n: w.to(dtype) for n, w in weights.items()}
        with torch.no_grad():
            logits, acts = model.forward(cfg, params, tokens, variant)
            out = acts + [("loss", model.cross_entropy(logits, targets)), ("decode_logits", model.decode(cfg, params, tokens, variant))]
        return out
    params = {n: w.to(dtype).clone().requires_grad_(True) for n, w in weights.items()}
    loss, acts, grads = loss_and_grads(cfg, params, tokens, targets, variant)
    out = [(n, t) for n, t in acts]
    out.append(("loss", loss))
    out.append(("decode_logits", model.decode(cfg, params, tokens, variant)))
    out += [(f"grad.{n}", grads[n]) for n in params]
    if steps == 0:
        return out

    m = {n: torch.zeros_like(p) for n, p in params.items()}
    v = {n: torch.zeros_like(p) for n, p in params.items()}
    losses, norms = [], []
    for step in range(1, steps + 1):
        if step > 1:
            loss, _, grads = loss_and_grads(cfg, params, tokens, targets, variant)
        total = global_norm(grads)
        losses.append(loss)
        norms.append(total)
        adamw_step(params, clip(grads, total) if opt.clip else grads, m, v, step, lr, opt)
        if step in save_steps:
            out += [(f"adamw.{step}.{n}", p.detach().clone()) for n, p in params.items()]
            out += [(f"adamw.{step}.m.{n}", m[n].clone()) for n in params]
            out += [(f"adamw.{step}.v.{n}", v[n].clone()) for n in params]
    out.append(("adamw.losses", torch.stack(losses)))
    out.append(("adamw.grad_norms", torch.stack(norms)))
    return out
