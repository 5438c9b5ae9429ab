#!/usr/bin/env python3
"""A starting point for a LLaMA port in another language: read a golden case, run YOUR model,
write a dump that `llama-ts conform CASE DUMP` reads. Python 3 + NumPy only; nothing here
imports the golden generator (golden/torch/), and nothing here is a model.

    python3 golden/port-kit/dump_writer.py mha-shared out.safetensors            # your model
    python3 golden/port-kit/dump_writer.py mha-shared out.safetensors --copy-expected
    llama-ts conform mha-shared out.safetensors [--only forward,decode]

--copy-expected writes the golden values themselves through the same writer: the kit's own
check that names, shapes and dtypes are right (conform must say PASS). For your port, replace
`run_my_port` below: call `dump.put(name, array)` for each tensor you compute (any order).
"""
import argparse
import json
import os
import struct
import sys

import numpy as np

GOLDEN = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # golden/
REPO_ROOT = os.path.dirname(GOLDEN)  # weights.external.path and tokenizer models resolve from here
PARTS = ("forward", "loss", "decode", "grad", "adamw")
F64_NAMES = ("loss", "adamw.losses", "adamw.grad_norms")  # scalars and short series: float64
INT_NAMES = ("tokens", "targets")  # int32 (any integer dtype is accepted)


# ---- safetensors: u64 LE header length, JSON header, raw little-endian data ----------------

DTYPES = {"F32": "<f4", "F64": "<f8", "I32": "<i4", "I64": "<i8", "U8": "u1"}  # U8: raw ggml blocks


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    data = raw[8 + n:]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        out[name] = np.frombuffer(data[begin:end], dtype=DTYPES[info["dtype"]]).reshape(info["shape"])
    return out


def write_safetensors(path, tensors):
    """tensors: list of (name, dtype name, array)."""
    header, chunks, offset = {}, [], 0
    for name, dtype, array in tensors:
        data = np.ascontiguousarray(array, dtype=DTYPES[dtype]).tobytes()
        header[name] = {"dtype": dtype, "shape": list(np.shape(array)), "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    header["__metadata__"] = {"producer": "golden/port-kit/dump_writer.py"}
    text = json.dumps(header).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(chunks))


# ---- a case: config, weights, tokens, the names and shapes conform expects ----------------

def load_case(name):
    with open(os.path.join(GOLDEN, "manifest.json")) as f:
        manifest = json.load(f)
    for case in manifest["cases"]:
        if case["name"] == name:
            return case
    sys.exit(f"no case {name!r} in golden/manifest.json (cases: {', '.join(c['name'] for c in manifest['cases'])})")


def load_weights(case):
    """Meta's state_dict names -> float32 arrays. External weights (stories260K) are llama2.c files."""
    if "file" in case["weights"] and "blocks" in case["weights"]:
        return decode_blocks(case, read_safetensors(os.path.join(GOLDEN, case["weights"]["file"])))
    if "file" in case["weights"]:
        return read_safetensors(os.path.join(GOLDEN, case["weights"]["file"]))
    path = os.path.join(REPO_ROOT, case["weights"]["external"]["path"])
    return read_llama2c(path, case["config"])


def decode_blocks(case, tensors):
    """The *-blocks cases store matrices as U8 rows of ggml blocks (weights.blocks names the type):
    decoded here with the generator's NumPy decoders (golden/torch/quants.py, NumPy only), so a
    port can start from float weights; a port that multiplies blocks directly reads the U8 rows."""
    sys.dont_write_bytecode = True  # no __pycache__ in golden/torch
    sys.path.insert(0, os.path.join(GOLDEN, "torch"))
    import quants
    kind = case["weights"]["blocks"]
    values = quants.BLOCKS[kind][0]
    out = {}
    for name, t in tensors.items():
        if name in case["weights"]["stored_as_blocks"]:
            rows = t.shape[0]
            cols = t.shape[1] // quants.BLOCKS[kind][1] * values
            out[name] = quants.dequantize(kind, t, rows, cols)
        else:
            out[name] = t
    return out


def read_llama2c(path, config):
    raw = np.fromfile(path, dtype="<f4")
    dim, hidden, n_layers, n_heads, n_kv, vocab, seq_len = np.frombuffer(raw[:7].tobytes(), dtype="<i4")
    shared, vocab = vocab > 0, abs(vocab)
    hd, at = dim // n_heads, 7
    w = {}

    def take(shape):
        nonlocal at
        n = int(np.prod(shape))
        block = raw[at:at + n].reshape(shape)
        at += n
        return block

    w["tok_embeddings.weight"] = take((vocab, dim))
    per_layer = [("attention_norm.weight", (dim,)), ("attention.wq.weight", (n_heads * hd, dim)),
                 ("attention.wk.weight", (n_kv * hd, dim)), ("attention.wv.weight", (n_kv * hd, dim)),
                 ("attention.wo.weight", (dim, n_heads * hd)), ("ffn_norm.weight", (dim,)),
                 ("feed_forward.w1.weight", (hidden, dim)), ("feed_forward.w2.weight", (dim, hidden)),
                 ("feed_forward.w3.weight", (hidden, dim))]
    for suffix, shape in per_layer:  # llama2.c stores each kind for all layers together
        for layer in range(n_layers):
            w[f"layers.{layer}.{suffix}"] = take(shape)
    w["norm.weight"] = take((dim,))
    at += seq_len * hd  # freq_cis real and imaginary halves: skipped
    if not shared:
        w["output.weight"] = take((vocab, dim))
    return w


def part_of(name):
    if name in INT_NAMES:
        return "inputs"
    if name == "loss":
        return "loss"
    if name == "decode_logits":
        return "decode"
    if name.startswith("grad."):
        return "grad"
    if name.startswith("adamw."):
        return "adamw"
    return "forward"


def expected_shape(case, weights, name):
    """The golden shape of a tensor, from the config alone (no expected.safetensors needed)."""
    c, T = case["config"], len(case["tokens"])
    hd = c["dim"] // c["n_heads"]
    if name in INT_NAMES:
        return (T,)
    T -= case.get("rows_from", 0)  # long-positions keeps the rows of positions rows_from.. only
    if name == "loss":
        return ()
    if name in ("adamw.losses", "adamw.grad_norms"):
        return (case["adamw"]["steps"],)
    if name in ("logits", "decode_logits"):
        return (T, c["vocab_size"])
    if name.startswith("grad.") or name.startswith("adamw."):
        param = name.split(".", 1)[1] if name.startswith("grad.") else name.split(".", 2)[2]
        param = param[2:] if param.startswith(("m.", "v.")) else param
        return weights[param].shape
    if name.startswith("layers.") and name.split(".")[2] in ("q", "attn"):
        return (T, c["n_heads"] * hd)
    if name.startswith("layers.") and name.split(".")[2] in ("k", "v"):
        return (T, c["n_kv_heads"] * hd)
    return (T, c["dim"])


class Dump:
    """Collects a port's tensors, checking each name and shape as it comes, and writes them."""

    def __init__(self, case, weights, parts):
        self.case, self.weights, self.parts = case, weights, parts
        self.tensors = {}

    def put(self, name, array):
        if name not in self.case["tensors"]:
            raise KeyError(f"{name!r} is not a tensor of case {self.case['name']} (see its 'tensors' in manifest.json)")
        array = np.asarray(array)
        want = tuple(expected_shape(self.case, self.weights, name))
        if array.shape != want:
            raise ValueError(f"{name}: shape {array.shape}, golden is {want}")
        self.tensors[name] = array

    def required(self):
        needs_targets = any(p in self.parts for p in ("loss", "grad", "adamw"))
        return [n for n in self.case["tensors"]
                if (n == "tokens" or (n == "targets" and needs_targets) or part_of(n) in self.parts)]

    def write(self, path):
        missing = [n for n in self.required() if n not in self.tensors]
        if missing:
            raise ValueError(f"{len(missing)} tensors missing, first {missing[0]!r}: put them, or pass --only with fewer parts")
        order = [n for n in self.case["tensors"] if n in self.tensors]  # data-flow order (any order is read)
        write_safetensors(path, [(n, "I32" if n in INT_NAMES else "F64" if n in F64_NAMES else "F32", self.tensors[n]) for n in order])


# ---- your port goes here ------------------------------------------------------------------

def run_my_port(case, weights, dump):
    """Run your model on case['tokens'] with the case's config and weights, and dump.put() every
    tensor of the parts you implement: 'embedding', f'layers.{l}.attention_norm', ..., 'norm',
    'logits', 'loss' (against case['targets'], -1 = ignored), 'decode_logits', 'grad.<param>',
    'adamw.<step>.<param>', ... (golden/FORMAT.md)."""
    dump.put("tokens", np.array(case["tokens"], dtype=np.int32))
    dump.put("targets", np.array(case["targets"], dtype=np.int32))
    raise NotImplementedError("run_my_port: put your model here (or run with --copy-expected to check the writer)")


def copy_expected(case, weights, dump):
    golden = read_safetensors(os.path.join(GOLDEN, case["expected"]))
    for name in dump.required():
        dump.put(name, golden[name])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("case")
    ap.add_argument("out")
    ap.add_argument("--only", default=",".join(PARTS), help="parts you implement: " + ", ".join(PARTS))
    ap.add_argument("--copy-expected", action="store_true", help="write the golden values (checks the writer)")
    a = ap.parse_args()
    parts = [p for p in a.only.split(",") if p]
    unknown = [p for p in parts if p not in PARTS]
    if unknown:
        sys.exit(f"--only: unknown part {unknown[0]!r} (parts: {', '.join(PARTS)})")
    case = load_case(a.case)
    weights = load_weights(case)
    dump = Dump(case, weights, [p for p in parts if any(part_of(n) == p for n in case["tensors"])])
    (copy_expected if a.copy_expected else run_my_port)(case, weights, dump)
    dump.write(a.out)
    print(f"wrote {len(dump.tensors)} tensors to {a.out}")


if __name__ == "__main__":
    main()
