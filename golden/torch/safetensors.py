"""A minimal safetensors writer and reader (no pip package needed).

File layout (https://github.com/huggingface/safetensors):
  u64 little-endian N | N bytes of UTF-8 JSON header | raw little-endian tensor data
The header maps each tensor name to {"dtype", "shape", "data_offsets": [begin, end]}, with
offsets relative to the first byte after the header, plus an optional "__metadata__" of
string -> string. We sort the JSON keys and pad the header with spaces to a multiple of 8 so
that the same tensors always give the same bytes and the data starts 8-byte aligned.
Tensor data is written in the order given (our data-flow order), not in key order.
"""
import json
import struct

import numpy as np

# safetensors dtype name -> numpy little-endian dtype
DTYPES = {
    "F32": np.dtype("<f4"),
    "F64": np.dtype("<f8"),
    "I32": np.dtype("<i4"),
    "I64": np.dtype("<i8"),
    "U8": np.dtype("u1"),  # raw block bytes of the quantization cases
}


def encode(tensors, metadata=None):
    """tensors: list of (name, dtype_name, numpy array) in the order the data is laid out.
    Returns the file's bytes."""
    header = {}
    chunks = []
    offset = 0
    for name, dtype_name, array in tensors:
        if name in header:
            raise ValueError(f"duplicate tensor name {name}")
        data = np.ascontiguousarray(array, dtype=DTYPES[dtype_name]).tobytes()
        header[name] = {
            "dtype": dtype_name,
            "shape": list(np.shape(array)),
            "data_offsets": [offset, offset + len(data)],
        }
        chunks.append(data)
        offset += len(data)
    if metadata:
        header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    text = json.dumps(header, sort_keys=True, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(chunks)


def write(path, tensors, metadata=None):
    with open(path, "wb") as f:
        f.write(encode(tensors, metadata))


def read(path):
    """Returns (dict name -> numpy array, metadata dict), tensors in file data order."""
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        raise ValueError(f"{path}: shorter than the 8-byte header length")
    (n,) = struct.unpack_from("<Q", raw, 0)
    if 8 + n > len(raw):
        raise ValueError(f"{path}: header length {n} runs past the end of the file ({len(raw)} bytes)")
    header = json.loads(raw[8 : 8 + n].decode("utf-8"))
    metadata = header.pop("__metadata__", {})
    data = raw[8 + n :]
    tensors = {}
    for name, info in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0]):
        begin, end = info["data_offsets"]
        dtype = DTYPES[info["dtype"]]
        if not 0 <= begin <= end <= len(data):
            raise ValueError(f"{path}: tensor {name} data_offsets {begin}..{end} outside the data ({len(data)} bytes)")
        count = int(np.prod(info["shape"], dtype=np.int64))
        if count * dtype.itemsize != end - begin:
            raise ValueError(f"{path}: tensor {name} shape {info['shape']} does not match {end - begin} bytes")
        tensors[name] = np.frombuffer(data[begin:end], dtype=dtype).reshape(info["shape"])
    return tensors, metadata
