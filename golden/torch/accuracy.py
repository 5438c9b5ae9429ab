"""Tolerances, and the measurements that justify them.

A float32 port is compared with the float64 truth per element: |a - b| <= atol + rtol·|b|
(b = golden). Each tensor belongs to a kind with its own (atol, rtol). The generator checks the
tolerances two ways on every case: our own model run in float32 must use at most a tenth of them
(`usage` <= 0.1, i.e. >= 10x headroom for ports that sum in another order), and each common bug,
run in float64, must break them by far (usage >> 1) at the first tensor it touches.
"""
import re

import numpy as np
import torch

import cases
import model
import train

# Checked in order; the first pattern that matches a tensor name gives its kind.
# outliers: AdamW divides each gradient element by its own RMS, so an element whose gradient is
# within float32 noise of zero (|g| <~ 1e-8, Adam's eps) steps by up to ±lr either way in any
# float32 port, and the trajectory carries that on. So up to max(1, floor(fraction·n)) elements
# of an AdamW tensor may exceed atol + rtol·|b|, as long as they stay within outlier_atol + rtol·|b|.
TOLERANCES = [
    {"kind": "index", "pattern": r"^(tokens|targets)$", "atol": 0, "rtol": 0,
     "why": "integer inputs: must be equal"},
    {"kind": "activation", "pattern": r"^(embedding|norm|layers\.\d+\.\w+)$", "atol": 5e-5, "rtol": 5e-4,
     "why": "RMSNorm keeps activations O(1); float32 forward errors are ~1e-6 (worst seen 5e-6)"},
    {"kind": "logits", "pattern": r"^(logits|decode_logits)$", "atol": 5e-5, "rtol": 5e-4,
     "why": "values of a few units after a dot product of length C; float32 errors are ~1e-6 (worst seen 7e-6)"},
    {"kind": "loss", "pattern": r"^(loss|adamw\.losses)$", "atol": 1e-5, "rtol": 1e-5,
     "why": "a mean of log-probabilities of size ~1-5: float32 errors are ~1e-6 or less"},
    {"kind": "grad_norm", "pattern": r"^adamw\.grad_norms$", "atol": 1e-5, "rtol": 1e-4,
     "why": "global 2-norm of all gradients (~1-10): float32 relative error ~1e-6"},
    {"kind": "grad", "pattern": r"^grad\.", "atol": 1e-5, "rtol": 1e-3,
     "why": "gradients are ~1e-4..1e-1; float32 backward errors are ~1e-7 absolute"},
    {"kind": "adamw_m", "pattern": r"^adamw\.\d+\.m\.", "atol": 1e-5, "rtol": 1e-3,
     "outlier_fraction": 1e-2, "outlier_atol": 1e-3,
     "why": "first moment (running mean of clipped gradients, |m| < 1): float32 errors are ~1e-8..1e-6"},
    {"kind": "adamw_v", "pattern": r"^adamw\.\d+\.v\.", "atol": 1e-8, "rtol": 1e-3,
     "outlier_fraction": 1e-2, "outlier_atol": 1e-5,
     "why": "second moment (running mean of squared gradients, ~1e-8..1e-3): float32 errors ~1e-10..1e-8"},
    {"kind": "adamw_weight", "pattern": r"^adamw\.\d+\.", "atol": 2e-5, "rtol": 1e-5,
     "outlier_fraction": 1e-2, "outlier_atol": 2e-3,
     "why": "weights after AdamW steps of up to lr = 1e-3; float32 errors are ~1e-8..2e-6 except the "
            "near-zero-gradient outliers (up to ~2e-4), hence the outlier allowance of 2·lr"},
]


def tolerance_of(name):
    for tol in TOLERANCES:
        if re.match(tol["pattern"], name):
            return tol
    raise KeyError(f"no tolerance kind for tensor {name}")


def compare(name, got, want):
    """Errors of one tensor against the golden `want`: max abs, max relative (|a-b| / |b|), and
    usage, the fraction of the tolerance used (<= 1 passes): the largest |a-b| / (atol + rtol|b|)
    once the allowed outliers are set aside, or the largest outlier's share of its own looser
    bound if that is bigger."""
    tol = tolerance_of(name)
    a = np.asarray(got, dtype=np.float64).ravel()
    b = np.asarray(want, dtype=np.float64).ravel()
    if a.shape != b.shape:
        return {"kind": tol["kind"], "max_abs": float("inf"), "max_rel": float("inf"), "usage": float("inf")}
    if a.size == 0:
        return {"kind": tol["kind"], "max_abs": 0.0, "max_rel": 0.0, "usage": 0.0}
    diff = np.abs(a - b)
    with np.errstate(divide="ignore", invalid="ignore"):
        def share(atol):
            bound = atol + tol["rtol"] * np.abs(b)
            return np.where(bound > 0, diff / bound, np.where(diff > 0, np.inf, 0.0))
        ratios = np.sort(share(tol["atol"]))[::-1]
        allowed = max(1, int(tol["outlier_fraction"] * a.size)) if "outlier_fraction" in tol else 0
        usage = float(ratios[allowed]) if allowed < a.size else 0.0
        if allowed:
            usage = max(usage, float(share(tol["outlier_atol"]).max()))
        rel = float(np.max(np.where(b != 0, diff / np.abs(b), np.where(diff > 0, np.inf, 0.0))))
    return {"kind": tol["kind"], "max_abs": float(diff.max()), "max_rel": rel, "usage": usage}


def as_numpy(tensors):
    return {n: t.detach().to(torch.float64).numpy() for n, t in tensors}


def float32_errors(case, expected):
    """Runs the same model and AdamW in float32 and compares every tensor with the float64 truth.
    RoPE angles in float32 too (as llama2.c), except on a long case: there float32 angles are a
    bug (ANGLE_BUG), so its float32 run computes them in float64 as a port must."""
    variant = model.Variant(angle_dtype=torch.float64) if case.rows_from else model.TRUTH
    got = as_numpy(train.run_case(case.config, case.weights, case.tokens, case.targets, case.lr, case.steps, dtype=torch.float32,
                                  variant=variant, gradients=case.gradients))
    return [(name, compare(name, cases.keep_rows(case, name, got[name]), want)) for name, want in expected.items() if name in got]


def angle_errors(case):
    """How far RoPE angles pos·θ_i land from the float64 ones when computed in float32 or float16
    (θ_i and the product rounded), over the positions the case keeps: max over positions and pairs."""
    positions = np.arange(case.rows_from, len(case.tokens), dtype=np.float64)[:, None]
    freqs = np.array(model.rope_frequencies(case.config))
    exact = positions * freqs
    out = {}
    for name, dt in (("float32", np.float32), ("float16", np.float16)):
        with np.errstate(over="ignore"):
            rounded = (positions.astype(dt) * freqs.astype(dt)).astype(np.float64)
        out[f"{name}_max_error_rad"] = float(f"{np.abs(rounded - exact).max():.3g}")
    out["max_angle_rad"] = float(f"{exact.max():.6g}")
    return out


def _no_gqa_difference(cfg):
    return all(model.kv_head_of(cfg, h) == model.kv_head_of(cfg, h, model.Variant(kv_map="modulo")) for h in range(cfg.n_heads))


ANGLE_BUG = "RoPE angle pos·θ_i computed in float32"
# (label, model variant, optimizer variant, reason the bug cannot show on a case or None)
BUGS = [
    ("rotate-half RoPE (pairs i, i+hd/2) instead of adjacent pairs (2i, 2i+1)", model.Variant(rope="rotate_half"), train.ADAMW,
     lambda c: "T = 1: position 0 does not rotate" if len(c.tokens) == 1 else None),
    ("kv head h % n_kv_heads instead of h // (n_heads / n_kv_heads)", model.Variant(kv_map="modulo"), train.ADAMW,
     lambda c: "h // group equals h % n_kv_heads when n_kv_heads is 1 or n_heads" if _no_gqa_difference(c.config) else None),
    ("RMSNorm without its gain", model.Variant(norm_gain=False), train.ADAMW, lambda c: None),
    ("norm_eps 1e-6 instead of 1e-5", model.Variant(norm_eps=1e-6), train.ADAMW,
     lambda c: "this case's eps is 1e-6" if c.config.norm_eps == 1e-6 else None),
    ("norm_eps 1e-5 instead of 1e-6", model.Variant(norm_eps=1e-5), train.ADAMW,
     lambda c: "this case's eps is 1e-5" if c.config.norm_eps == 1e-5 else None),
    ("rope_scaling ignored (θ_i unscaled)", model.Variant(rope_scaling=False), train.ADAMW,
     lambda c: "the case has no rope_scaling" if c.config.rope_scaling is None else None),
    (ANGLE_BUG, model.Variant(angle_dtype=torch.float32), train.ADAMW,
     lambda c: None if c.rows_from else "short positions: a float32 angle is within float32 noise"),
    ("AdamW without bias correction", model.TRUTH, train.Optimizer(bias_correction=False), None),
    ("AdamW without weight decay", model.TRUTH, train.Optimizer(weight_decay=0.0), None),
    ("AdamW weight decay on norm gains too", model.TRUTH, train.Optimizer(decay_gains=True), None),
    ("no gradient clipping", model.TRUTH, train.Optimizer(clip=False), None),
]


def bug_errors(case, expected):
    """For each bug that changes this case's maths: the first tensor (data-flow order) out of
    tolerance and its errors, the tensor that breaks it most, and the errors on logits. All in float64, so only the bug differs.
    Optimizer bugs are run only on cases with AdamW vectors."""
    results = []
    for label, variant, opt, skip in BUGS:
        is_optimizer_bug = skip is None
        if is_optimizer_bug and case.steps == 0:
            continue
        reason = None if is_optimizer_bug else skip(case)
        if case.rows_from and variant.angle_dtype is None and not reason:
            reason = "not run on the long case (slow there; the short cases show it)"
        if reason:
            results.append({"bug": label, "applies": False, "why": reason})
            continue
        steps = case.steps if is_optimizer_bug else 0
        got = as_numpy(train.run_case(case.config, case.weights, case.tokens, case.targets, case.lr, steps, variant=variant, opt=opt,
                                         gradients=case.gradients))
        rows = [(name, compare(name, cases.keep_rows(case, name, got[name]), want)) for name, want in expected.items() if name in got]
        failing = [(n, e) for n, e in rows if e["usage"] > 1]
        entry = {"bug": label, "applies": True, "detected": bool(failing)}
        if failing:
            entry["first_tensor"], entry["first"] = failing[0]
            entry["worst_tensor"], entry["worst"] = max(failing, key=lambda row: row[1]["usage"])
        entry["logits"] = dict(rows)["logits"]
        results.append(entry)
    return results


def summarize_float32(per_case):
    """Worst float32 error per kind over all cases: {kind: {max_abs, max_rel, usage, tensor, case}}."""
    worst = {}
    for case_name, rows in per_case.items():
        for name, e in rows:
            w = worst.get(e["kind"])
            if w is None or e["usage"] > w["usage"]:
                worst[e["kind"]] = dict(e, tensor=name, case=case_name)
    return worst
