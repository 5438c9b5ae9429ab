"""LLaMA (Touvron et al. 2023) with Meta's model.py semantics, written for clarity, in float64.

This is the truth the golden vectors are made from, so it is written from the paper and Meta's
llama/model.py, not from any port. Every op is spelled out with elementwise products and sums
(no torch.matmul / nn.Linear) so that no BLAS library, whose kernel choice differs between
machines, takes part: with ATEN_CPU_CAPABILITY=default and one thread the bytes are
reproducible.

Shapes: T tokens, C = dim, hd = head_dim = C / n_heads, nh = n_heads, nkv = n_kv_heads,
H = hidden_dim, V = vocab_size. Matrices are [out, in] as in nn.Linear: y = x Wᵀ.

`Variant` switches on the common porting bugs so the generator can show how far each one lands
from the truth (it is never used for the committed vectors).
"""
import math
from dataclasses import dataclass, replace

import torch


@dataclass(frozen=True)
class Config:
    dim: int
    n_layers: int
    n_heads: int
    n_kv_heads: int
    hidden_dim: int
    vocab_size: int
    max_seq_len: int
    norm_eps: float
    rope_theta: float
    shared_classifier: bool
    rope_scaling: dict = None  # Hugging Face's config.json rope_scaling; None: RoPE unscaled

    @property
    def head_dim(self):
        return self.dim // self.n_heads

    def as_json(self):
        """The manifest's config; rope_scaling only where a case has it."""
        return {k: getattr(self, k) for k in self.__dataclass_fields__ if not (k == "rope_scaling" and self.rope_scaling is None)}


@dataclass(frozen=True)
class Variant:
    rope: str = "adjacent"  # "adjacent": pairs (2i, 2i+1), Meta/GGUF; "rotate_half": pairs (i, i+hd/2), a bug here
    kv_map: str = "group"  # "group": kv head = h // (nh/nkv), Meta's repeat_kv; "modulo": h % nkv, a bug
    norm_gain: bool = True  # False: forget to multiply RMSNorm by its gain, a bug
    norm_eps: float = None  # not None: use this eps instead of the config's, a bug
    rope_scaling: bool = True  # False: ignore the config's rope_scaling, a bug
    angle_dtype: object = None  # a torch dtype: compute RoPE angles in it (float32 at long positions: a bug); None: the model's


TRUTH = Variant()


def parameter_names(cfg):
    """Meta's state_dict names, in data-flow order."""
    names = ["tok_embeddings.weight"]
    for l in range(cfg.n_layers):
        p = f"layers.{l}."
        names += [
            p + "attention_norm.weight",
            p + "attention.wq.weight",
            p + "attention.wk.weight",
            p + "attention.wv.weight",
            p + "attention.wo.weight",
            p + "ffn_norm.weight",
            p + "feed_forward.w1.weight",
            p + "feed_forward.w2.weight",
            p + "feed_forward.w3.weight",
        ]
    names.append("norm.weight")
    if not cfg.shared_classifier:
        names.append("output.weight")
    return names


def parameter_shapes(cfg):
    C, H, V, hd = cfg.dim, cfg.hidden_dim, cfg.vocab_size, cfg.head_dim
    q_out, kv_out = cfg.n_heads * hd, cfg.n_kv_heads * hd
    shapes = {}
    for name in parameter_names(cfg):
        leaf = name.split(".")[-2] if name.count(".") > 1 else name.split(".")[0]
        shapes[name] = {
            "tok_embeddings": [V, C], "output": [V, C], "norm": [C],
            "attention_norm": [C], "ffn_norm": [C],
            "wq": [q_out, C], "wk": [kv_out, C], "wv": [kv_out, C], "wo": [C, q_out],
            "w1": [H, C], "w2": [C, H], "w3": [H, C],
        }[leaf]
    return shapes


def activation_names(cfg):
    """Forward tensors in data-flow order (the contract with dump/conform)."""
    names = ["embedding"]
    for l in range(cfg.n_layers):
        names += [f"layers.{l}.{s}" for s in ("attention_norm", "q", "k", "v", "attn", "attn_out", "h", "ffn_norm", "ffn_out", "out")]
    return names + ["norm", "logits", "loss", "decode_logits"]


# ---------------------------------------------------------------- building blocks


def linear(x, w):
    """x [..., in], w [out, in] -> x Wᵀ [..., out], as a plain sum of products (no BLAS)."""
    return (x.unsqueeze(-2) * w).sum(-1)


def rmsnorm(x, gain, eps, variant=TRUTH):
    """x [..., C] / sqrt(mean(x²) + eps) * gain [C]; eps inside the square root as in the paper."""
    if variant.norm_eps is not None:
        eps = variant.norm_eps
    y = x / torch.sqrt((x * x).mean(-1, keepdim=True) + eps)
    return y * gain if variant.norm_gain else y


def rope_frequencies(cfg):
    """θ_i = theta^(-2i/hd) for each pair i (Python floats), scaled as cfg.rope_scaling says:
    "linear" divides every θ_i by factor (positions divided by it); "llama3" is Meta's
    apply_scaling for Llama 3.1 (llama-models, and transformers' rope_type "llama3"): with
    wavelength λ = 2π/θ_i and the original context N, short waves (λ < N/high_freq_factor) are
    kept, long ones (λ > N/low_freq_factor) divided by factor, and in between blended by
    s = (N/λ − low_freq_factor)/(high_freq_factor − low_freq_factor): (1−s)·θ_i/factor + s·θ_i."""
    hd = cfg.head_dim
    freqs = [cfg.rope_theta ** (-(2 * i) / hd) for i in range(hd // 2)]
    s = cfg.rope_scaling
    if s is None:
        return freqs
    if s["rope_type"] == "linear":
        return [f / s["factor"] for f in freqs]
    if s["rope_type"] != "llama3":
        raise ValueError(f"unknown rope_type {s['rope_type']}")
    factor, low, high, n = s["factor"], s["low_freq_factor"], s["high_freq_factor"], s["original_max_position_embeddings"]
    scaled = []
    for f in freqs:
        wavelen = 2 * math.pi / f
        if wavelen < n / high:
            scaled.append(f)
        elif wavelen > n / low:
            scaled.append(f / factor)
        else:
            smooth = (n / wavelen - low) / (high - low)
            scaled.append((1 - smooth) * f / factor + smooth * f)
    return scaled


def rope_cos_sin(cfg, positions, dtype, variant=TRUTH):
    """cos, sin [T, hd/2] of angle = pos · θ_i for pair i (rope_frequencies), in `dtype` throughout
    (a float32 run rounds the angles as a float32 port such as llama2.c does)."""
    angle_dtype = variant.angle_dtype or dtype
    freqs = torch.tensor(rope_frequencies(cfg if variant.rope_scaling else replace(cfg, rope_scaling=None)), dtype=angle_dtype)
    angles = torch.tensor(positions, dtype=angle_dtype).unsqueeze(-1) * freqs
    return torch.cos(angles).to(dtype), torch.sin(angles).to(dtype)


def rope(x, cos, sin, variant=TRUTH):
    """x [T, heads, hd] rotated per head. Adjacent pairs (x[2i], x[2i+1]) turn by angle i — Meta's
    view_as_complex(x.reshape(..., -1, 2)) * e^{i·angle}. cos, sin: [T, hd/2]."""
    T, heads, hd = x.shape
    c, s = cos.unsqueeze(1), sin.unsqueeze(1)  # [T, 1, hd/2], same angle for every head
    if variant.rope == "adjacent":
        pairs = x.reshape(T, heads, hd // 2, 2)
        x0, x1 = pairs[..., 0], pairs[..., 1]
        return torch.stack((x0 * c - x1 * s, x0 * s + x1 * c), dim=-1).reshape(T, heads, hd)
    if variant.rope == "rotate_half":  # Hugging Face's layout applied to Meta-layout weights: wrong here
        x0, x1 = x[..., : hd // 2], x[..., hd // 2 :]
        return torch.cat((x0 * c - x1 * s, x0 * s + x1 * c), dim=-1)
    raise ValueError(f"unknown rope variant {variant.rope}")


def kv_head_of(cfg, h, variant=TRUTH):
    """Which kv head query head h reads: consecutive query heads share one kv head (repeat_kv)."""
    if variant.kv_map == "group":
        return h // (cfg.n_heads // cfg.n_kv_heads)
    if variant.kv_map == "modulo":
        return h % cfg.n_kv_heads
    raise ValueError(f"unknown kv_map variant {variant.kv_map}")


ATTENTION_ROWS = 256  # query rows per step: a long sequence's [nh, rows, T, hd] products stay ~0.3 GB


def causal_attention(cfg, q, k, v, variant=TRUTH):
    """q [T, nh, hd], k and v [T, nkv, hd] -> softmax(q kᵀ/√hd + causal mask) v, as [T, nh*hd].
    Up to ATTENTION_ROWS queries in one step; longer sequences (long-positions) row block by row block."""
    T = q.shape[0]
    if T <= ATTENTION_ROWS:
        return attention_rows(cfg, q, k, v, 0, variant)
    return torch.cat([attention_rows(cfg, q[s : s + ATTENTION_ROWS], k, v, s, variant) for s in range(0, T, ATTENTION_ROWS)])


def attention_rows(cfg, q, k, v, first, variant=TRUTH):
    """Queries q [n, nh, hd] at positions first..first+n-1 over keys and values 0..first+n-1."""
    n, nh, hd = q.shape
    S = first + n
    kv_index = [kv_head_of(cfg, h, variant) for h in range(nh)]
    qh = q.permute(1, 0, 2)  # [nh, n, hd]
    kh = k[:S, kv_index, :].permute(1, 0, 2)  # [nh, S, hd], kv head repeated per query head
    vh = v[:S, kv_index, :].permute(1, 0, 2)  # [nh, S, hd]
    scores = (qh.unsqueeze(2) * kh.unsqueeze(1)).sum(-1) / math.sqrt(hd)  # [nh, n, S]
    future = torch.arange(S).unsqueeze(0) > (first + torch.arange(n)).unsqueeze(1)  # key after query
    probs = torch.softmax(scores.masked_fill(future, float("-inf")), dim=-1)  # [nh, n, S]
    out = (probs.unsqueeze(-1) * vh.unsqueeze(1)).sum(2)  # [nh, n, hd]
    return out.permute(1, 0, 2).reshape(n, nh * hd)


def silu(x):
    return x / (1 + torch.exp(-x))


def classifier(cfg, params):
    return params["tok_embeddings.weight"] if cfg.shared_classifier else params["output.weight"]


# ---------------------------------------------------------------- the full forward pass


def forward(cfg, params, tokens, variant=TRUTH):
    """All T positions at once (training-style). Returns (logits [T, V], activations: list of
    (name, tensor) in data-flow order, still attached to the autograd graph)."""
    acts = []
    T, hd = len(tokens), cfg.head_dim
    cos, sin = rope_cos_sin(cfg, list(range(T)), params["norm.weight"].dtype, variant)
    h = params["tok_embeddings.weight"][torch.tensor(tokens)]  # [T, C]
    acts.append(("embedding", h))
    for l in range(cfg.n_layers):
        p = lambda s: params[f"layers.{l}.{s}.weight"]
        xn = rmsnorm(h, p("attention_norm"), cfg.norm_eps, variant)  # [T, C]
        q = rope(linear(xn, p("attention.wq")).reshape(T, cfg.n_heads, hd), cos, sin, variant)  # [T, nh, hd]
        k = rope(linear(xn, p("attention.wk")).reshape(T, cfg.n_kv_heads, hd), cos, sin, variant)  # [T, nkv, hd]
        v = linear(xn, p("attention.wv")).reshape(T, cfg.n_kv_heads, hd)  # [T, nkv, hd]
        attn = causal_attention(cfg, q, k, v, variant)  # [T, nh*hd]
        attn_out = linear(attn, p("attention.wo"))  # [T, C]
        h = h + attn_out
        yn = rmsnorm(h, p("ffn_norm"), cfg.norm_eps, variant)  # [T, C]
        gate_up = silu(linear(yn, p("feed_forward.w1"))) * linear(yn, p("feed_forward.w3"))  # [T, H]
        ffn_out = linear(gate_up, p("feed_forward.w2"))  # [T, C]
        out = h + ffn_out
        acts += [(f"layers.{l}.{s}", t) for s, t in (
            ("attention_norm", xn), ("q", q.reshape(T, -1)), ("k", k.reshape(T, -1)), ("v", v.reshape(T, -1)),
            ("attn", attn), ("attn_out", attn_out), ("h", h), ("ffn_norm", yn), ("ffn_out", ffn_out), ("out", out))]
        h = out
    norm = rmsnorm(h, params["norm.weight"], cfg.norm_eps, variant)  # [T, C]
    logits = linear(norm, classifier(cfg, params))  # [T, V]
    acts += [("norm", norm), ("logits", logits)]
    return logits, acts


def cross_entropy(logits, targets):
    """Mean of -log softmax(logits[t])[targets[t]] over the positions whose target is not -1."""
    keep = [t for t, y in enumerate(targets) if y != -1]
    if not keep:
        raise ValueError("every target is -1: the loss is undefined")
    log_probs = logits - torch.logsumexp(logits, dim=-1, keepdim=True)  # [T, V]
    picked = log_probs[torch.tensor(keep), torch.tensor([targets[t] for t in keep])]
    return -picked.mean()


# ---------------------------------------------------------------- token-by-token decoding


def decode(cfg, params, tokens, variant=TRUTH):
    """Logits [T, V] computed one token at a time with a KV cache, as an inference port runs:
    a separate code path from `forward` (one position, loops over heads, no mask), so the
    two agreeing checks both. Cache layout per layer: [max_seq_len, nkv, hd]."""
    if len(tokens) > cfg.max_seq_len:
        raise ValueError(f"{len(tokens)} tokens do not fit max_seq_len {cfg.max_seq_len}")
    dtype, hd = params["norm.weight"].dtype, cfg.head_dim
    key_cache = [torch.zeros(cfg.max_seq_len, cfg.n_kv_heads, hd, dtype=dtype) for _ in range(cfg.n_layers)]
    value_cache = [torch.zeros(cfg.max_seq_len, cfg.n_kv_heads, hd, dtype=dtype) for _ in range(cfg.n_layers)]
    rows = []
    with torch.no_grad():
        for pos, token in enumerate(tokens):
            rows.append(decode_step(cfg, params, token, pos, key_cache, value_cache, variant))
    return torch.stack(rows)


def decode_step(cfg, params, token, pos, key_cache, value_cache, variant=TRUTH):
    """One token at position pos -> logits [V]; appends this position's k, v to the caches."""
    hd = cfg.head_dim
    cos, sin = rope_cos_sin(cfg, [pos], params["norm.weight"].dtype, variant)  # [1, hd/2]
    x = params["tok_embeddings.weight"][token]  # [C]
    for l in range(cfg.n_layers):
        p = lambda s: params[f"layers.{l}.{s}.weight"]
        xn = rmsnorm(x, p("attention_norm"), cfg.norm_eps, variant)  # [C]
        q = rope(linear(xn, p("attention.wq")).reshape(1, cfg.n_heads, hd), cos, sin, variant)[0]  # [nh, hd]
        key_cache[l][pos] = rope(linear(xn, p("attention.wk")).reshape(1, cfg.n_kv_heads, hd), cos, sin, variant)[0]
        value_cache[l][pos] = linear(xn, p("attention.wv")).reshape(cfg.n_kv_heads, hd)
        heads = []
        for h in range(cfg.n_heads):
            g = kv_head_of(cfg, h, variant)
            keys, values = key_cache[l][: pos + 1, g], value_cache[l][: pos + 1, g]  # [pos+1, hd]
            weights = torch.softmax((keys * q[h]).sum(-1) / math.sqrt(hd), dim=0)  # [pos+1]
            heads.append((weights.unsqueeze(-1) * values).sum(0))  # [hd]
        x = x + linear(torch.cat(heads), p("attention.wo"))  # [C]
        yn = rmsnorm(x, p("ffn_norm"), cfg.norm_eps, variant)
        x = x + linear(silu(linear(yn, p("feed_forward.w1"))) * linear(yn, p("feed_forward.w3")), p("feed_forward.w2"))
    return linear(rmsnorm(x, params["norm.weight"], cfg.norm_eps, variant), classifier(cfg, params))  # [V]
