#!/usr/bin/env python3
"""Regenerates everything in golden/ except FORMAT.md and this folder.

    /usr/bin/python3 golden/torch/generate.py [--out DIR]     (npm run golden)

DIR defaults to golden/. Deterministic: the same inputs give the same bytes (check.py relies
on it). Before writing anything it checks itself: decode == forward, hand-written AdamW ==
torch.optim.AdamW, and the real stories260K reproduces the story llama2.c prints.
"""
import os
import sys

# Before torch loads: the portable (non-AVX) ATen kernels and one thread, so that reductions
# always sum in the same order and the bytes do not depend on the machine's CPU features.
os.environ["ATEN_CPU_CAPABILITY"] = "default"
os.environ["OMP_NUM_THREADS"] = "1"
sys.dont_write_bytecode = True  # no __pycache__ inside golden/torch

import argparse
import hashlib
import json

import numpy as np
import torch

torch.set_num_threads(1)
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import accuracy  # noqa: E402
import cases  # noqa: E402
import model  # noqa: E402
import quant_cases  # noqa: E402
import safetensors  # noqa: E402
import tokenizer_cases  # noqa: E402
import train  # noqa: E402

FORMAT_VERSION = 1
GOLDEN = os.path.dirname(HERE)
SCALAR_F64 = ("loss", "adamw.losses", "adamw.grad_norms")  # stored as F64, all other floats as F32
QUANT_BLOCKS = "quant/blocks.safetensors"
KNOWN_STORY = "Once upon a time, there was a little girl named Lily. She loved to play outside in the park."


def dtype_of(name):
    if name in ("tokens", "targets"):
        return "I32"
    return "F64" if name in SCALAR_F64 else "F32"


def expected_tensors(case):
    """[(name, dtype, numpy array)] of expected.safetensors in data-flow order, float64 values."""
    out = [("tokens", "I32", np.array(case.tokens)), ("targets", "I32", np.array(case.targets))]
    for name, t in train.run_case(case.config, case.weights, case.tokens, case.targets, case.lr, case.steps,
                                   gradients=case.gradients):
        out.append((name, dtype_of(name), cases.keep_rows(case, name, t.detach().numpy())))
    return out


def metadata(case, what):
    return {"format": f"llama-ts golden {FORMAT_VERSION}", "case": case.name, "contents": what}


# ---------------------------------------------------------------- self-checks


def check_decode_matches_forward(case, expected):
    gap = float(np.abs(expected["decode_logits"] - expected["logits"]).max())
    if gap > 1e-10:
        raise AssertionError(f"{case.name}: KV-cache decode differs from the full forward by {gap}")


def check_adamw_against_torch(case, steps=3):
    """Our hand-written clip + AdamW against torch.nn.utils.clip_grad_norm_ + torch.optim.AdamW."""
    ours = {n: w.clone().requires_grad_(True) for n, w in case.weights.items()}
    theirs = {n: w.clone().requires_grad_(True) for n, w in case.weights.items()}
    groups = [{"params": [p for p in theirs.values() if p.dim() == 2], "weight_decay": train.WEIGHT_DECAY},
              {"params": [p for p in theirs.values() if p.dim() == 1], "weight_decay": 0.0}]
    opt = torch.optim.AdamW(groups, lr=case.lr, betas=(train.BETA1, train.BETA2), eps=train.ADAM_EPS, foreach=False)
    m = {n: torch.zeros_like(p) for n, p in ours.items()}
    v = {n: torch.zeros_like(p) for n, p in ours.items()}
    for step in range(1, steps + 1):
        _, _, grads = train.loss_and_grads(case.config, ours, case.tokens, case.targets)
        train.adamw_step(ours, train.clip(grads, train.global_norm(grads)), m, v, step, case.lr)
        opt.zero_grad()
        model.cross_entropy(model.forward(case.config, theirs, case.tokens)[0], case.targets).backward()
        torch.nn.utils.clip_grad_norm_(list(theirs.values()), train.MAX_GRAD_NORM)
        opt.step()
    gap = max(float((ours[n] - theirs[n]).abs().max()) for n in ours)
    if gap > 1e-12:
        raise AssertionError(f"{case.name}: hand-written AdamW differs from torch.optim.AdamW by {gap}")


def check_stories_story(case):
    import sentencepiece
    sp = sentencepiece.SentencePieceProcessor(model_file=os.path.join(cases.REPO, cases.STORIES_TOKENIZER))
    text = sp.decode(case.tokens[1:] + case.targets[-1:])
    if not text.startswith(KNOWN_STORY):
        raise AssertionError(f"stories260K greedy text {text!r} is not llama2.c's {KNOWN_STORY!r}")


# ---------------------------------------------------------------- the files


def case_files(case):
    """{relative path: bytes} for one case, and its manifest entry and accuracy report."""
    tensors = expected_tensors(case)
    expected = {n: a for n, _, a in tensors}
    check_decode_matches_forward(case, expected)
    files, folder = {}, f"cases/{case.name}"
    entry = {"name": case.name, "description": case.description, "config": case.config.as_json()}
    if case.external:
        entry["weights"] = {"external": dict(case.external)}
    elif case.blocks:
        weights = [(n, "U8", case.stored[n]) if n in case.stored else (n, "F32", w.numpy()) for n, w in case.weights.items()]
        files[f"{folder}/weights.safetensors"] = safetensors.encode(weights, metadata(case, f"parameters, matrices as {case.blocks} blocks"))
        entry["weights"] = {"file": f"{folder}/weights.safetensors", "blocks": case.blocks,
                            "stored_as_blocks": list(case.stored)}
        entry["activations_8bit"] = quant_cases.eight_bit_activations(case, expected["decode_logits"])
    else:
        weights = [(n, "F32", w.numpy()) for n, w in case.weights.items()]
        files[f"{folder}/weights.safetensors"] = safetensors.encode(weights, metadata(case, "parameters"))
        entry["weights"] = {"file": f"{folder}/weights.safetensors"}
    files[f"{folder}/expected.safetensors"] = safetensors.encode(tensors, metadata(case, "inputs and float64 truth"))
    entry["expected"] = f"{folder}/expected.safetensors"
    entry["tokens"], entry["targets"] = case.tokens, case.targets
    entry["adamw"] = None if case.steps == 0 else {
        "lr": case.lr, "steps": case.steps, "saved_steps": [1, case.steps], "beta1": train.BETA1, "beta2": train.BETA2,
        "eps": train.ADAM_EPS, "weight_decay": {"2-D": train.WEIGHT_DECAY, "1-D": 0.0},
        "clip_grad_norm": train.MAX_GRAD_NORM, "schedule": "constant"}
    if case.rows_from:
        entry["rows_from"] = case.rows_from
        entry["rope_angles"] = accuracy.angle_errors(case)
    entry["tensors"] = [n for n, _, _ in tensors]
    floats = {n: a for n, a in expected.items() if n not in ("tokens", "targets")}
    report = {"float32": accuracy.float32_errors(case, floats), "bugs": accuracy.bug_errors(case, floats)}
    if case.rows_from:  # what float32 angles do to q here: the precision a port needs, in the manifest
        angle_bug = next(b for b in report["bugs"] if b["bug"] == accuracy.ANGLE_BUG)
        entry["rope_angles"]["float32_angles_q_max_abs"] = float(f"{angle_bug['first']['max_abs']:.3g}")
        entry["rope_angles"]["float32_angles_first_failure"] = angle_bug["first_tensor"]
        entry["rope_angles"]["why"] = ("compute pos·θ_i in float64 (or pos exact times θ_i in float64): in float32 the angle "
                                       "is off by float32_max_error_rad here and q, k by float32_angles_q_max_abs, beyond "
                                       "their tolerance; the error grows in proportion to the position")
    return files, entry, report


def rounded(x):
    """Floats in the accuracy report to 3 significant digits (readable, stable)."""
    if isinstance(x, float):
        return float(f"{x:.3g}") if np.isfinite(x) else str(x)
    if isinstance(x, dict):
        return {k: rounded(v) for k, v in x.items()}
    if isinstance(x, list):
        return [rounded(v) for v in x]
    return x


def accuracy_json(reports):
    """accuracy.json: the measurements behind the tolerances (see accuracy.py)."""
    doc = {
        "about": "float32: [tensor, max_abs, max_rel, usage] of our own model and AdamW run in float32 against the "
                 "float64 truth; bugs: each common bug run in float64 against the truth, with the first tensor out of "
                 "tolerance; usage = share of the tolerance used (> 1 fails). Made by golden/torch/accuracy.py.",
        "worst_float32_by_kind": accuracy.summarize_float32({c: r["float32"] for c, r in reports.items()}),
        "cases": {c: {"float32": [[n, e["max_abs"], e["max_rel"], e["usage"]] for n, e in r["float32"]], "bugs": r["bugs"]}
                  for c, r in reports.items()},
    }
    return (json.dumps(rounded(doc), indent=1, sort_keys=True) + "\n").encode("ascii")


def generic_tensor_order():
    return (["tokens", "targets", "embedding"]
            + [f"layers.{{l}}.{s}" for s in ("attention_norm", "q", "k", "v", "attn", "attn_out", "h", "ffn_norm", "ffn_out", "out")]
            + ["norm", "logits", "loss", "decode_logits", "grad.{param}",
               "adamw.1.{param}", "adamw.1.m.{param}", "adamw.1.v.{param}",
               "adamw.10.{param}", "adamw.10.m.{param}", "adamw.10.v.{param}", "adamw.losses", "adamw.grad_norms"])


def build():
    """{relative path under golden/: bytes} for every generated file."""
    files, entries, reports = {}, [], {}
    all_cases = cases.all_cases()
    check_adamw_against_torch(all_cases[0])
    for case in all_cases:
        if case.name == "stories260K":
            check_stories_story(case)
        case_bytes, entry, report = case_files(case)
        files.update(case_bytes)
        entries.append(entry)
        reports[case.name] = report
    texts = tokenizer_cases.texts()
    tokenizers = []
    for name, rel in tokenizer_cases.MODELS.items():
        path = f"tokenizer/{name}.json"
        files[path] = tokenizer_cases.tokenizer_json(name, rel, os.path.join(cases.REPO, rel), texts)
        tokenizers.append({"name": name, "model": rel, "file": path, "cases": len(texts)})
    files["accuracy.json"] = accuracy_json(reports)
    block_tensors, block_types = quant_cases.block_tensors()
    files[QUANT_BLOCKS] = safetensors.encode(block_tensors, {"format": f"llama-ts golden {FORMAT_VERSION}", "case": "quant-blocks",
                                                             "contents": "random blocks of each type (U8) and their decoded values (F32)"})
    manifest = {
        "format_version": FORMAT_VERSION,
        "about": "Golden vectors for LLaMA ports; see FORMAT.md. Regenerate: /usr/bin/python3 golden/torch/generate.py",
        "dtypes": {"F32": "every activation, logit, gradient and AdamW tensor", "F64": list(SCALAR_F64), "I32": ["tokens", "targets"],
                   "U8": "raw ggml blocks [rows, bytes of a row]: <TYPE>.blocks in quant/blocks.safetensors, the matrices of the *-blocks cases"},
        "comparison": "element-wise |ours - golden| <= atol + rtol * |golden|; for kinds with outlier_fraction, up to "
                      "max(1, floor(outlier_fraction * n)) elements may exceed that bound but not outlier_atol + rtol * |golden|",
        "tolerances": accuracy.TOLERANCES,
        "tensor_order": generic_tensor_order(),
        "parameter_order": ["tok_embeddings.weight"] + [f"layers.{{l}}.{s}.weight" for s in (
            "attention_norm", "attention.wq", "attention.wk", "attention.wv", "attention.wo", "ffn_norm",
            "feed_forward.w1", "feed_forward.w2", "feed_forward.w3")] + ["norm.weight", "output.weight (absent when shared_classifier)"],
        "cases": entries,
        "tokenizers": tokenizers,
        "accuracy": "accuracy.json",
        "quant_blocks": {
            "file": QUANT_BLOCKS,
            "about": "per block type: <TYPE>.blocks, U8 [rows, cols / block_values * block_bytes], rows of raw ggml blocks; "
                     "<TYPE>.values, F32 [rows, cols], what they decode to (ggml's float32 order). See FORMAT.md.",
            "tolerance": {"atol": 0, "rtol": 0, "why": "ggml defines each decode in float32 with one rounding per operation; "
                          "a decoder in that order gives these numbers exactly (±0 alike)"},
            "types": block_types,
        },
        "files": {path: hashlib.sha256(data).hexdigest() for path, data in sorted(files.items())},
    }
    files["manifest.json"] = (json.dumps(manifest, indent=1, sort_keys=False) + "\n").encode("ascii")
    return files


def write(files, out):
    for rel, data in sorted(files.items()):
        path = os.path.join(out, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=GOLDEN, help="folder to write into (default: golden/)")
    args = parser.parse_args()
    files = build()
    write(files, args.out)
    total = sum(len(d) for d in files.values())
    print(f"wrote {len(files)} files, {total / 1e6:.2f} MB, into {args.out}")


if __name__ == "__main__":
    main()
