#!/usr/bin/env python3
"""CI check: regenerate golden/ into a temporary folder and compare it byte for byte with the
committed files. Exits 1 naming every file that differs, is missing, or is stale (committed but
no longer generated); for a differing .safetensors it also names the tensors that differ and by
how much, to tell a platform rounding difference from a real change.

    /usr/bin/python3 golden/torch/check.py      (npm run golden:check)
"""
import os
import sys
import tempfile

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import generate  # noqa: E402  (sets the torch environment before importing torch)
import safetensors  # noqa: E402

NOT_GENERATED = ("FORMAT.md", "torch/", "port-kit/")  # hand-written parts of golden/


def committed_files(root):
    found = set()
    for folder, _, names in os.walk(root):
        for name in names:
            rel = os.path.relpath(os.path.join(folder, name), root).replace(os.sep, "/")
            if not rel.startswith(NOT_GENERATED):
                found.add(rel)
    return found


def tensor_differences(old_path, new_path):
    """Lines naming the tensors that differ between two safetensors files."""
    try:
        old, _ = safetensors.read(old_path)
        new, _ = safetensors.read(new_path)
    except Exception as e:  # a truncated or hand-edited file: say so rather than crash
        return [f"    cannot compare tensors: {e}"]
    lines = []
    for name in sorted(set(old) | set(new)):
        if name not in old or name not in new:
            lines.append(f"    {name}: only in the {'regenerated' if name in new else 'committed'} file")
        elif old[name].shape != new[name].shape:
            lines.append(f"    {name}: shape {list(old[name].shape)} -> {list(new[name].shape)}")
        elif old[name].tobytes() != new[name].tobytes():
            gap = abs(old[name].astype("f8") - new[name].astype("f8")).max()
            lines.append(f"    {name}: max abs difference {gap:.3g}")
    return lines


def main():
    with tempfile.TemporaryDirectory() as tmp:
        fresh = generate.build()
        generate.write(fresh, tmp)
        problems = []
        for rel in sorted(fresh):
            path = os.path.join(generate.GOLDEN, rel)
            if not os.path.exists(path):
                problems.append(f"missing: golden/{rel}")
                continue
            with open(path, "rb") as f:
                if f.read() != fresh[rel]:
                    problems.append(f"differs: golden/{rel}")
                    if rel.endswith(".safetensors"):
                        problems += tensor_differences(path, os.path.join(tmp, rel))
        problems += [f"stale (no longer generated): golden/{rel}" for rel in sorted(committed_files(generate.GOLDEN) - set(fresh))]
    if problems:
        print("golden/ does not match what golden/torch/generate.py makes:\n" + "\n".join(problems))
        print(f"(torch {generate.torch.__version__}, numpy {generate.np.__version__}; regenerate with npm run golden)")
        sys.exit(1)
    print(f"golden/ matches its generator byte for byte ({len(fresh)} files)")


if __name__ == "__main__":
    main()
