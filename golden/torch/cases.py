"""The golden cases: each one a config, weights (seeded random, or the real stories260K), tokens
and targets, chosen so that together they cover the places where ports go quietly wrong.

Random weights come from numpy's PCG64 generator with a fixed seed, are rounded to float32 (what
weights.safetensors stores), and the truth is computed from exactly those float32 values.
"""
import hashlib
import os
import re
import struct
from dataclasses import dataclass, field

import numpy as np
import torch

import quant_cases
import quants
from model import Config, parameter_names, parameter_shapes

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
STORIES_BIN = "../shared/data/stories260K/stories260K.bin"  # relative to the repository root
STORIES_TOKENIZER = "../shared/data/stories260K/tok512.model"


@dataclass
class Case:
    name: str
    description: str
    config: Config
    tokens: list
    targets: list
    weights: dict  # name -> float64 tensor holding float32-representable values
    lr: float = 1e-3
    steps: int = 10  # AdamW steps; 0 = no training vectors
    external: dict = field(default=None)  # {"path", "sha256"} when the weights are not ours to copy
    gradients: bool = True  # False: no grad.* vectors (weights stored as blocks are not trained)
    blocks: str = None  # a block type (quants.BLOCKS): every matrix is stored as rows of such blocks
    stored: dict = field(default=None)  # name -> uint8 [rows, row bytes] of the matrices stored as blocks
    rows_from: int = 0  # > 0: expected [T, ·] tensors hold only the rows of positions rows_from..T-1


# The tensors with one row per position (a long case keeps only its last rows of these)
PER_POSITION = re.compile(r"^(embedding|norm|logits|decode_logits|layers\.\d+\.\w+)$")


def keep_rows(case, name, array):
    """The rows of a [T, ·] tensor the case stores: all, or those of positions rows_from..T-1."""
    return array[case.rows_from:] if case.rows_from and PER_POSITION.match(name) else array


def random_weights(cfg, seed, matrix_std=0.1, embed_std=0.02, output_std=0.2, gain_spread=0.2):
    """Matrices ~ N(0, matrix_std²); the classifier ~ N(0, output_std²) so the logits spread over a
    few units; embeddings small (std 0.02, as in trained LLaMAs) so that the first RMSNorm's eps
    matters and a wrong eps shows (a shared classifier uses output_std for both); norm gains
    1 + N(0, gain_spread²) so a forgotten gain shows."""
    rng = np.random.default_rng(seed)
    weights = {}
    for name, shape in parameter_shapes(cfg).items():
        if len(shape) == 1:
            w = 1.0 + gain_spread * rng.standard_normal(shape)
        elif name == "output.weight" or (name == "tok_embeddings.weight" and cfg.shared_classifier):
            w = output_std * rng.standard_normal(shape)
        elif name == "tok_embeddings.weight":
            w = embed_std * rng.standard_normal(shape)
        else:
            w = matrix_std * rng.standard_normal(shape)
        weights[name] = torch.from_numpy(w.astype(np.float32).astype(np.float64))
    return weights


def random_sequence(seed, vocab_size, length):
    """length + 1 random token ids: tokens are the first `length`, targets the next-token shift."""
    rng = np.random.default_rng(seed)
    seq = [int(t) for t in rng.integers(0, vocab_size, length + 1)]
    return seq[:-1], seq[1:]


def random_case(name, description, cfg, seed, length, ignore=(), weight_kw=None, **kw):
    tokens, targets = random_sequence(seed + 1, cfg.vocab_size, length)
    for t in ignore:
        targets[t] = -1
    return Case(name, description, cfg, tokens, targets, random_weights(cfg, seed, **(weight_kw or {})), **kw)


def blocks_case(name, description, cfg, seed, length, type_name):
    """A random case whose matrices are stored as `type_name` blocks: the weights the truth runs on
    are what those blocks decode to (quants.py), exactly as a port reading the file sees them.
    Norm gains stay float32. No gradients or AdamW: a quantized model is not trained."""
    case = random_case(name, description, cfg, seed, length, steps=0, gradients=False)
    case.blocks, case.stored = type_name, {}
    for n, w in case.weights.items():
        if w.dim() == 2:
            rows, cols = w.shape
            stored = quant_cases.QUANTIZERS[type_name](w.numpy())
            case.stored[n] = stored
            case.weights[n] = torch.from_numpy(quants.dequantize(type_name, stored, rows, cols).astype(np.float64))
    return case


def sha256_of(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def load_llama2c_v0(path):
    """llama2.c's version-0 checkpoint: 7 int32 (dim, hidden_dim, n_layers, n_heads, n_kv_heads,
    vocab_size — negative when the classifier is separate — and seq_len), then float32 arrays
    token_embedding [V,C], rms_att [L,C], wq [L,C,C], wk [L,kv*hd,C], wv [L,kv*hd,C], wo [L,C,C],
    rms_ffn [L,C], w1 [L,H,C], w2 [L,C,H], w3 [L,H,C], rms_final [C], freq_cis real and imag
    [seq_len, hd/2] each (skipped: we compute RoPE), then wcls [V,C] when not shared."""
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 28:
        raise ValueError(f"{path}: {len(raw)} bytes is shorter than the 28-byte header")
    dim, hidden, n_layers, n_heads, n_kv, vocab, seq_len = struct.unpack_from("<7i", raw, 0)
    cfg = Config(dim, n_layers, n_heads, n_kv, hidden, abs(vocab), seq_len, 1e-5, 10000.0, vocab > 0)
    C, H, L, V, hd = dim, hidden, n_layers, abs(vocab), dim // n_heads
    kv = n_kv * hd
    layout = [("tok_embeddings", [V, C]), ("attention_norm", [L, C]), ("wq", [L, C, C]), ("wk", [L, kv, C]),
              ("wv", [L, kv, C]), ("wo", [L, C, C]), ("ffn_norm", [L, C]), ("w1", [L, H, C]), ("w2", [L, C, H]),
              ("w3", [L, H, C]), ("norm", [C]), ("freq_cis_real", [seq_len, hd // 2]), ("freq_cis_imag", [seq_len, hd // 2])]
    if not cfg.shared_classifier:
        layout.append(("output", [V, C]))
    need = 28 + 4 * sum(int(np.prod(s)) for _, s in layout)
    if need != len(raw):
        raise ValueError(f"{path}: header {cfg} needs {need} bytes, the file has {len(raw)}")
    arrays, offset = {}, 28
    for key, shape in layout:
        count = int(np.prod(shape))
        arrays[key] = np.frombuffer(raw, dtype="<f4", count=count, offset=offset).reshape(shape).astype(np.float64)
        offset += 4 * count
    weights = {"tok_embeddings.weight": arrays["tok_embeddings"]}
    for l in range(L):
        p = f"layers.{l}."
        weights[p + "attention_norm.weight"] = arrays["attention_norm"][l]
        for w in ("wq", "wk", "wv", "wo"):
            weights[p + f"attention.{w}.weight"] = arrays[w][l]
        weights[p + "ffn_norm.weight"] = arrays["ffn_norm"][l]
        for w in ("w1", "w2", "w3"):
            weights[p + f"feed_forward.{w}.weight"] = arrays[w][l]
    weights["norm.weight"] = arrays["norm"]
    if not cfg.shared_classifier:
        weights["output.weight"] = arrays["output"]
    assert list(weights) == parameter_names(cfg)
    return cfg, {n: torch.from_numpy(np.ascontiguousarray(a)) for n, a in weights.items()}


def stories_case(length=32):
    """The real trained stories260K. Tokens: BOS + "Once upon a time" (1, 403, 407, 261, 378, as
    run.c encodes it) followed by the model's own greedy continuation, so that the logits' argmax
    reproduces the story llama2.c prints (checked in generate.py)."""
    import model
    path = os.path.join(REPO, STORIES_BIN)
    cfg, weights = load_llama2c_v0(path)
    prompt = [1, 403, 407, 261, 378]
    params = {n: w.clone() for n, w in weights.items()}
    seq = list(prompt)
    key_cache = [torch.zeros(cfg.max_seq_len, cfg.n_kv_heads, cfg.head_dim, dtype=torch.float64) for _ in range(cfg.n_layers)]
    value_cache = [torch.zeros_like(c) for c in key_cache]
    with torch.no_grad():
        pos = 0
        while len(seq) < length + 1:  # greedy, one token at a time, as run.c -t 0
            logits = model.decode_step(cfg, params, seq[pos], pos, key_cache, value_cache)
            if pos + 1 >= len(seq):
                seq.append(int(torch.argmax(logits)))
            pos += 1
    return Case(
        "stories260K",
        "The real stories260K weights (trained, 8 heads, 4 kv heads, shared classifier, dims 64/172/512): "
        "prompt 'Once upon a time' with BOS and the model's greedy continuation. No AdamW vectors: "
        "the trained weights would be almost copied into them.",
        cfg, seq[:-1], seq[1:], weights, steps=0,
        external={"path": STORIES_BIN, "sha256": sha256_of(path), "format": "llama2.c version 0 (run.c)"},
    )


def all_cases():
    """Config(dim, n_layers, n_heads, n_kv_heads, hidden_dim, vocab_size, max_seq_len, norm_eps, rope_theta, shared)."""
    return [
        random_case(
            "mha-shared", "Multi-head attention (n_kv_heads = n_heads = 4), shared classifier, power-of-two dims.",
            Config(32, 2, 4, 4, 96, 64, 32, 1e-5, 10000.0, True), seed=101, length=16),
        random_case(
            "gqa1-full-context",
            "Grouped KV with a single kv head (multi-query), separate classifier, dims that are not powers of "
            "two (C 48, head_dim 8, H 136, V 97), T = max_seq_len = 24, rope_theta 500000, norm_eps 1e-6.",
            Config(48, 2, 6, 1, 136, 97, 24, 1e-6, 500000.0, False), seed=202, length=24),
        random_case(
            "gqa-half-ignore",
            "Grouped KV with n_kv_heads = n_heads/2 (6 heads, 3 kv heads: h // 2 and h % 3 differ), separate "
            "classifier, C 72 (head_dim 12), H 136, V 131, targets -1 at positions 0, 7, 8 and 19 (ignored).",
            Config(72, 2, 6, 3, 136, 131, 40, 1e-5, 10000.0, False), seed=303, length=20, ignore=(0, 7, 8, 19)),
        random_case(
            "one-token", "Edge case T = 1 (attention over itself only), 2 heads, 1 kv head, shared classifier.",
            Config(16, 1, 2, 1, 40, 33, 8, 1e-5, 10000.0, True), seed=404, length=1),
        random_case(
            "llama3-rope-tied",
            "Llama 3.2 style: rope_theta 500000 with Llama 3.1 RoPE scaling (rope_scaling rope_type llama3: "
            "factor 32, low_freq_factor 1, high_freq_factor 4, original_max_position_embeddings 64, small so "
            "that a head of 16 has all three kinds of pair: pair 0 kept (wavelength 6.3 < 16), pair 1 blended "
            "(32.8), pairs 2-7 divided by 32 (> 64)), tied embeddings, 4 heads over 2 kv heads, C 64, H 96, V 80.",
            Config(64, 2, 4, 2, 96, 80, 32, 1e-5, 500000.0, True, LLAMA3_SCALING), seed=505, length=24),
        stories_case(),
    ] + [
        blocks_case(
            f"{t.lower()}-blocks",
            f"Every matrix stored as {t} blocks (U8 rows of blocks in weights.safetensors; norm gains F32), "
            "the truth run on the values the blocks decode to: checks a port's decoder and its quantized matmul "
            "end to end. 4 heads over 2 kv heads, C 64, H 96, V 80, separate classifier; no gradients or AdamW.",
            Config(64, 2, 4, 2, 96, 80, 32, 1e-5, 10000.0, False), seed=606, length=16, type_name=t)
        for t in ("Q8_0", "Q4_0")
    ] + [
        random_case(
            "long-positions",
            f"Positions up to {LONG_T - 1}: a prompt of {LONG_T} random tokens with a full KV cache, of which the "
            f"expected [T, ·] tensors keep the rows of positions {LONG_FROM}..{LONG_T - 1} (rows_from). There a RoPE "
            "angle pos·θ_i computed in float32 is off by up to ~2.4e-4 rad, which q and k show. 2 heads over 1 kv head, "
            "head_dim 16, C 32, H 64, V 48, one layer; no gradients or AdamW.",
            Config(32, 1, 2, 1, 64, 48, LONG_T, 1e-5, 10000.0, False), seed=707, length=LONG_T,
            steps=0, gradients=False, rows_from=LONG_FROM),
    ]


LONG_T, LONG_FROM = 4128, 4096  # the long-positions case: tokens, first position kept

# Hugging Face config.json's rope_scaling for the llama3-rope-tied case.
LLAMA3_SCALING = {"rope_type": "llama3", "factor": 32.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                  "original_max_position_embeddings": 64}
