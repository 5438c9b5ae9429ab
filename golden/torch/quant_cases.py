"""The quantization cases: random blocks of every block type with their decoded values
(quant/blocks.safetensors), and the quantizers that store a model case's matrices as blocks.

Blocks are random bytes (so every bit pattern of quants and of packed scales shows up, the
6-bit scales and mins of K-quant sub-blocks 4..7 included), with their scales set from a cycle
of classes: ordinary, the largest half (±65504), the smallest ones (2^-24 subnormal, 2^-14, ±0)
and all-zero blocks. numpy PCG64 with a fixed seed: the same bytes every run.
"""
import numpy as np
import torch

import model
import quants

SEED = 1601
# (rows, blocks per row): legacy rows of 4 blocks (128 values); K-quant rows of 3 super-blocks
# (768 values), so a row crosses super-block boundaries.
SHAPES = {t: ((6, 4) if v == 32 else (4, 3)) for t, (v, _) in quants.BLOCKS.items()}

# byte offsets of each type's f16 scales (Q8_K's f32 scale is handled apart)
HALVES = {"Q8_0": [0], "Q4_0": [0], "Q4_1": [0, 2], "Q5_0": [0], "Q5_1": [0, 2], "IQ4_NL": [0],
          "Q2_K": [80, 82], "Q3_K": [108], "Q4_K": [0, 2], "Q5_K": [0, 2], "Q6_K": [208]}
HUGE = [0x7BFF, 0xFBFF]  # ±65504, the largest finite half
TINY = [0x0001, 0x8001, 0x0400]  # ±2^-24 (subnormal), 2^-14 (the smallest normal)
ZERO = [0x0000, 0x8000]  # ±0 with non-zero quants
# Q8_K keeps d as f32: its extremes stay finite after × ±128
F32_HUGE = [2.0 ** 120, -(2.0 ** 120)]
F32_TINY = [2.0 ** -149, -(2.0 ** -126)]
F32_ZERO = [0.0, -0.0]
# one class per block, cycling; within a class the special values cycle too (deterministic
# coverage even for the 12 super-blocks of a K-quant set)
CLASSES = ["ordinary", "huge", "tiny", "zero block", "ordinary", "zero scale", "any finite"]


def ordinary_half(rng):
    """A half of magnitude 2^-12 .. 2^2, random sign and mantissa (scales of real weights)."""
    return int(np.float16(rng.choice([-1.0, 1.0]) * 2.0 ** rng.uniform(-12, 2)).view(np.uint16))


def any_finite_half(rng):
    return int(rng.integers(0, 2)) << 15 | int(rng.integers(0, 31)) << 10 | int(rng.integers(0, 1024))


SPECIAL_HALVES = {"huge": HUGE, "tiny": TINY, "zero scale": ZERO}
SPECIAL_F32 = {"huge": F32_HUGE, "tiny": F32_TINY, "zero scale": F32_ZERO}


def scale_half(cls, turn, rng):
    """The half for a block of class `cls`; `turn` counts the blocks of that class so far."""
    if cls in SPECIAL_HALVES:
        return SPECIAL_HALVES[cls][turn % len(SPECIAL_HALVES[cls])]
    if cls == "any finite":
        return any_finite_half(rng)
    return ordinary_half(rng)


def scale_f32(cls, turn, rng):
    if cls in SPECIAL_F32:
        return SPECIAL_F32[cls][turn % len(SPECIAL_F32[cls])]
    if cls == "any finite":
        return float(rng.choice([-1.0, 1.0]) * 2.0 ** rng.uniform(-140, 119))
    return float(rng.choice([-1.0, 1.0]) * 2.0 ** rng.uniform(-12, 2))


def random_blocks(type_name, n_blocks, rng):
    """uint8 [n_blocks, block_bytes]: random bytes, scales by class (CLASSES, cycling)."""
    size = quants.BLOCKS[type_name][1]
    out = rng.integers(0, 256, size=(n_blocks, size), dtype=np.uint8)
    for b in range(n_blocks):
        cls, turn = CLASSES[b % len(CLASSES)], b // len(CLASSES)
        if cls == "zero block":
            out[b] = 0
        elif type_name == "Q8_K":
            out[b, 0:4] = np.frombuffer(np.float32(scale_f32(cls, turn, rng)).tobytes(), dtype=np.uint8)
        else:
            for i, o in enumerate(HALVES[type_name]):
                h = scale_half(cls, turn + i, rng)  # d and dmin of one block take different specials
                out[b, o], out[b, o + 1] = h & 0xFF, h >> 8
    return out


def block_tensors():
    """[(name, dtype, array)] of quant/blocks.safetensors and its manifest entry."""
    rng = np.random.default_rng(SEED)
    tensors, types = [], []
    for type_name, (values, size) in quants.BLOCKS.items():
        rows, per_row = SHAPES[type_name]
        cols = per_row * values
        blocks = random_blocks(type_name, rows * per_row, rng).reshape(rows, per_row * size)
        decoded = quants.dequantize(type_name, blocks, rows, cols)
        if not np.isfinite(decoded).all():
            raise AssertionError(f"{type_name}: a scale class made a non-finite value")
        tensors += [(f"{type_name}.blocks", "U8", blocks), (f"{type_name}.values", "F32", decoded)]
        types.append({"type": type_name, "block_values": values, "block_bytes": size, "rows": rows, "cols": cols,
                      "blocks": f"{type_name}.blocks", "values": f"{type_name}.values"})
    return tensors, types


# ---------------------------------------------------------------- storing a model's matrices as blocks


def to_half(x):
    return np.asarray(x, dtype=np.float32).astype(np.float16)


def quantize_q8_0(w):
    """[rows, cols] float -> uint8 [rows, cols/32·34]: d = max|x| / 127 (as a half), q = round(x / d)."""
    x = np.asarray(w, dtype=np.float32).reshape(-1, 32)
    d = to_half(np.abs(x).max(axis=1, keepdims=True) / 127)
    inv = np.where(d != 0, 1 / d.astype(np.float32), 0).astype(np.float32)
    q = np.clip(np.rint(x * inv), -127, 127).astype(np.int8)
    return np.concatenate([d.view(np.uint8), q.view(np.uint8)], axis=1).reshape(w.shape[0], -1)


def quantize_q4_0(w):
    """[rows, cols] float -> uint8 [rows, cols/32·18]: d = (the value of largest magnitude) / −8,
    q = clamp(round(x / d) + 8, 0, 15), packed two to a byte (value j low nibble, j + 16 high)."""
    x = np.asarray(w, dtype=np.float32).reshape(-1, 32)
    extreme = x[np.arange(len(x)), np.abs(x).argmax(axis=1)][:, None]
    d = to_half(extreme / -8)
    inv = np.where(d != 0, 1 / d.astype(np.float32), 0).astype(np.float32)
    q = np.clip(np.rint(x * inv) + 8, 0, 15).astype(np.uint8)
    packed = q[:, :16] | (q[:, 16:] << 4)
    return np.concatenate([d.view(np.uint8), packed], axis=1).reshape(w.shape[0], -1)


QUANTIZERS = {"Q8_0": quantize_q8_0, "Q4_0": quantize_q4_0}


# ---------------------------------------------------------------- ports that quantize activations

# decode_logits tolerance for a port that rounds activations to 8 bits before each matmul (as
# llama.cpp's vec_dot with Q8_0 activations and llama-ts's WASM decode do): ~3x the error measured
# below, which is the rounding itself, not float32 noise. Far above the float tolerance: such a
# port should check its float path with the manifest's tolerances and this as a sanity bound.
EIGHT_BIT_ATOL = 0.3


def round_8bit(x):
    """Activations as an 8-bit port sees them: per 32 values d = max|x| / 127 (float32), x = d·round(x / d)."""
    blocks = x.reshape(-1, 32)
    d = (blocks.abs().max(-1, keepdim=True).values / 127).to(torch.float32).to(blocks.dtype)
    safe = torch.where(d > 0, d, torch.ones_like(d))
    return (torch.where(d > 0, torch.round(blocks / safe), torch.zeros_like(blocks)) * d).reshape(x.shape)


def eight_bit_activations(case, decode_logits):
    """The case decoded with every matmul's input rounded to 8 bits (model.linear swapped for the
    time of one decode), against the truth: the manifest's note for such ports."""
    plain = model.linear
    model.linear = lambda x, w: plain(round_8bit(x), w)
    try:
        got = model.decode(case.config, case.weights, case.tokens).numpy()
    finally:
        model.linear = plain
    err = float(np.abs(got - np.asarray(decode_logits)).max())
    return {"decode_logits_atol": EIGHT_BIT_ATOL, "measured_max_abs": float(f"{err:.3g}"),
            "why": "a port that rounds activations to 8 bits per 32 (d = max|x|/127) before each matmul, as llama.cpp "
                   "and llama-ts's WASM decode do, is off by this rounding, not by float32 noise: measured_max_abs is "
                   "the truth's own decode with that rounding; check such a port's float path with the normal tolerances"}
