"""ggml's block types, decoded with NumPy from their byte layouts (ggml-common.h's block_q*
structs and ggml-quants.c's dequantize_row_q* semantics), independently of any port.

Every decoder takes `blocks`, a uint8 array [n_blocks, block_bytes], and returns float32
[n_blocks, block_values]. ggml computes in float32 and rounds each product before the next
operation (x = d·q; x = d·q + m; x = (d·sc)·q − (dmin·m); ...); these do the same, operation
by operation, with float32 NumPy arrays, so the values are what llama.cpp decodes, to the bit.

Here the bits of each value are gathered with index arithmetic over the whole block at once
(value v of a super-block: half v // 128, 32-value group v // 32, ...), the opposite of a
per-value loop, so that a port's loop and this are two readings of the same layout.
"""
import numpy as np

F32 = np.float32

# name: (values per block, bytes per block); names as in GGUF and in the manifest
BLOCKS = {
    "Q8_0": (32, 34), "Q4_0": (32, 18), "Q4_1": (32, 20), "Q5_0": (32, 22), "Q5_1": (32, 24), "IQ4_NL": (32, 18),
    "Q2_K": (256, 84), "Q3_K": (256, 110), "Q4_K": (256, 144), "Q5_K": (256, 176), "Q6_K": (256, 210), "Q8_K": (256, 292),
}

# IQ4_NL's 16 non-uniform levels (ggml's kvalues_iq4nl)
IQ4_NL_LEVELS = np.array([-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113], dtype=F32)


def half_at(blocks, offset):
    """The little-endian IEEE half at byte `offset` of every block, as float32 [n, 1]."""
    return np.ascontiguousarray(blocks[:, offset:offset + 2]).view("<f2").astype(F32)


def nibbles32(qs):
    """16 bytes per block -> 32 4-bit values: value j < 16 is the low nibble of byte j, value
    j >= 16 the high nibble of byte j - 16. [n, 16] -> [n, 32] int32."""
    return np.concatenate([qs & 0x0F, qs >> 4], axis=1).astype(np.int32)


def fifth_bits(blocks, offset):
    """Q5_0/Q5_1: bit j of the little-endian u32 at `offset` is the fifth bit of value j. [n, 32]."""
    qh = np.ascontiguousarray(blocks[:, offset:offset + 4]).view("<u4").astype(np.int64)  # [n, 1]
    return ((qh >> np.arange(32)) & 1).astype(np.int32)


# ---------------------------------------------------------------- blocks of 32


def q8_0(b):
    return half_at(b, 0) * b[:, 2:34].view(np.int8).astype(F32)


def q4_0(b):
    return half_at(b, 0) * (nibbles32(b[:, 2:18]) - 8).astype(F32)


def q4_1(b):
    return half_at(b, 0) * nibbles32(b[:, 4:20]).astype(F32) + half_at(b, 2)


def q5_0(b):
    q = nibbles32(b[:, 6:22]) | (fifth_bits(b, 2) << 4)
    return half_at(b, 0) * (q - 16).astype(F32)


def q5_1(b):
    q = nibbles32(b[:, 8:24]) | (fifth_bits(b, 4) << 4)
    return half_at(b, 0) * q.astype(F32) + half_at(b, 2)


def iq4_nl(b):
    return half_at(b, 0) * IQ4_NL_LEVELS[nibbles32(b[:, 2:18])]


# ---------------------------------------------------------------- super-blocks of 256

V = np.arange(256)  # value index inside a super-block
HALF, GROUP, LANE = V // 128, (V // 32) % 4, V % 32  # 128-value half, 32-value group in it, lane


def two_bit_planes(qs):
    """Q2_K/Q3_K low bits: 64 bytes, 32 per half; group g of a half is bits 2g..2g+1 of the half's
    bytes, lane l of the group in byte l. [n, 64] -> [n, 256]."""
    return ((qs[:, 32 * HALF + LANE] >> (2 * GROUP)) & 3).astype(np.int32)


def high_bit_mask(hm):
    """Q3_K/Q5_K: byte l of the 32-byte mask holds bit k = v // 32 of value v = 32k + l. [n, 256]."""
    return ((hm[:, LANE] >> (V // 32)) & 1).astype(np.int32)


def nibble_pairs(qs):
    """Q4_K/Q5_K low bits: 128 bytes in chunks of 32 per 64 values; the chunk's low nibbles are
    values 0..31 of the 64, its high nibbles values 32..63. [n, 128] -> [n, 256]."""
    byte = qs[:, 32 * (V // 64) + LANE]
    return np.where((V // 32) % 2 == 0, byte & 0x0F, byte >> 4).astype(np.int32)


def six_bit_scales_mins(s):
    """Q4_K/Q5_K: 12 bytes -> the 6-bit scale and min of sub-blocks 0..7, each [n, 8].
    Sub-blocks 0..3: low 6 bits of bytes j (scale) and j + 4 (min). Sub-blocks 4..7: low nibble
    (scale) and high nibble (min) of byte j + 4 (j = 4..7, so bytes 8..11), topped with the two
    spare high bits of bytes j - 4 (scale) and j (min)."""
    s = s.astype(np.int32)
    lo_sc, lo_m = s[:, 0:4] & 63, s[:, 4:8] & 63
    hi_sc = (s[:, 8:12] & 0x0F) | ((s[:, 0:4] >> 6) << 4)
    hi_m = (s[:, 8:12] >> 4) | ((s[:, 4:8] >> 6) << 4)
    return np.concatenate([lo_sc, hi_sc], axis=1), np.concatenate([lo_m, hi_m], axis=1)


def q3_k_scales(s):
    """Q3_K: 12 bytes -> 16 6-bit scales (0..63; 32 means 0). Scale j: low nibble from byte j % 8
    (low nibble for j < 8, high for j >= 8), top two bits from byte 8 + j % 4, bits 2·(j // 4)."""
    s = s.astype(np.int32)
    j = np.arange(16)
    low = (s[:, j % 8] >> (4 * (j // 8))) & 0x0F
    high = (s[:, 8 + j % 4] >> (2 * (j // 4))) & 3
    return low | (high << 4)


def q2_k(b):
    d, dmin = half_at(b, 80), half_at(b, 82)
    sub = b[:, 0:16].astype(np.int32)[:, V // 16]  # [n, 256] the packed byte of each value's sub-block
    dl, ml = d * (sub & 0x0F).astype(F32), dmin * (sub >> 4).astype(F32)
    return dl * two_bit_planes(b[:, 16:80]).astype(F32) - ml


def q3_k(b):
    d = half_at(b, 108)
    dl = d * (q3_k_scales(b[:, 96:108]) - 32).astype(F32)[:, V // 16]
    q = two_bit_planes(b[:, 32:96]) - 4 * (1 - high_bit_mask(b[:, 0:32]))  # a clear high bit subtracts 4
    return dl * q.astype(F32)


def q4_k(b):
    d, dmin = half_at(b, 0), half_at(b, 2)
    sc, m = six_bit_scales_mins(b[:, 4:16])
    dl, ml = (d * sc.astype(F32))[:, V // 32], (dmin * m.astype(F32))[:, V // 32]
    return dl * nibble_pairs(b[:, 16:144]).astype(F32) - ml


def q5_k(b):
    d, dmin = half_at(b, 0), half_at(b, 2)
    sc, m = six_bit_scales_mins(b[:, 4:16])
    dl, ml = (d * sc.astype(F32))[:, V // 32], (dmin * m.astype(F32))[:, V // 32]
    q = nibble_pairs(b[:, 48:176]) | (high_bit_mask(b[:, 16:48]) << 4)
    return dl * q.astype(F32) - ml


def q6_k(b):
    """ql[128]: low 4 bits; per half 64 bytes: groups 0, 1 in the low nibbles of bytes 0..31,
    32..63, groups 2, 3 in their high nibbles. qh[64]: top 2 bits; per half 32 bytes, group g in
    bits 2g..2g+1 of byte lane. scales: 16 int8, one per 16 values. d f16 at 208."""
    d = half_at(b, 208)
    ql, qh = b[:, 0:128].astype(np.int32), b[:, 128:192].astype(np.int32)
    low_byte = ql[:, 64 * HALF + 32 * (GROUP % 2) + LANE]
    low = np.where(GROUP < 2, low_byte & 0x0F, low_byte >> 4)
    high = (qh[:, 32 * HALF + LANE] >> (2 * GROUP)) & 3
    scale = b[:, 192:208].view(np.int8).astype(F32)[:, V // 16]
    return (d * scale) * ((low | (high << 4)) - 32).astype(F32)


def q8_k(b):
    d = np.ascontiguousarray(b[:, 0:4]).view("<f4").astype(F32)
    return d * np.ascontiguousarray(b[:, 4:260]).view(np.int8).astype(F32)


DECODERS = {"Q8_0": q8_0, "Q4_0": q4_0, "Q4_1": q4_1, "Q5_0": q5_0, "Q5_1": q5_1, "IQ4_NL": iq4_nl,
            "Q2_K": q2_k, "Q3_K": q3_k, "Q4_K": q4_k, "Q5_K": q5_k, "Q6_K": q6_k, "Q8_K": q8_k}


def dequantize(type_name, row_bytes, rows, cols):
    """A [rows, cols] matrix stored as rows of blocks (uint8 [rows, row_bytes]) -> float32 [rows, cols]."""
    values, size = BLOCKS[type_name]
    if cols % values or row_bytes.shape != (rows, cols // values * size):
        raise ValueError(f"{type_name}: {rows}x{cols} needs rows of {cols // values * size} bytes, got {row_bytes.shape}")
    out = DECODERS[type_name](row_bytes.reshape(-1, size))
    return out.reshape(rows, cols)
