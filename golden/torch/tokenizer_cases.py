"""Tokenizer golden cases: text -> ids from the sentencepiece library itself (encode, no BOS).

The same strings go through both models: hand-picked adversarial ones (where ports differ: runs
of spaces, the dummy-prefix space, byte fallback, digits split one by one, control characters,
text that looks like special tokens) and seeded random mixes of words, unicode and whitespace.
"""
import hashlib
import json
import random

import sentencepiece

MODELS = {
    "llama-32k": "../shared/data/llama-tokenizer/tokenizer.model",
    "tok512": "../shared/data/stories260K/tok512.model",
}

ADVERSARIAL = [
    "", " ", "  ", "   ", "\t", "\n", "\r\n", " \n ", "Hello world", " Hello world", "Hello world ", "  Hello  world  ",
    "Hello\tworld", "Hello\nworld", "line one\r\nline two\r\n", "a\n\nb", "trailing newline\n", "    indented code",
    "Once upon a time", "once upon a time, there was a little girl named Lily.", "I believe the meaning of life is",
    "0", "7", "42", "2023", "3.14159", "1,000,000", "12345678901234567890", "-17e+3", "v1.2.3", "0x1F", "a1b2c3",
    "😀", "👍🏽", "👨‍👩‍👧‍👦", "🏳️‍🌈", "❤️", "🇯🇵", "é", "e\u0301", "a\u0300\u0301\u0302", "\u212b", "\u00c5", "A\u030a", "ﬁ", "Ａ", "①",
    "中文", "我爱北京天安门", "日本語のテキスト", "한국어", "Привет, мир", "Γειά σου", "שלום", "مرحبا", "नमस्ते", "ภาษาไทย",
    "ᚠᛇᚻ", "𐌰𐌱𐌲", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢", "\ufffd", "\ue000\uf8ff", "\U000f0000", "\u200b", "\u200d", "\ufeffBOM", "\u00a0nbsp",
    "mixed English 中文 и русский 123 😀", "tab\tand space mix \t \t", "\x00", "\x01\x02\x03", "bell\x07", "esc\x1b[0m",
    "".join(chr(c) for c in range(0x20)), "\x7f", "\x85next line", "<s>", "</s>", "<unk>", "<s>Hello</s>", "<0x41>",
    "▁", "▁▁hello", "[INST] hi [/INST]", "<|endoftext|>", "don't", "I'm", "hello!!!", "...", "—–-", "``quotes''",
    "«ταБЬℓσ»: 1<2 & 4+1>3, now 20% off!", "https://example.com/path?q=1&r=2", "user@example.com", "C:\\Windows\\path",
    "def f(x):\n    return x * 2\n", "SELECT * FROM t WHERE id = 1;", "      ", "a" * 40, "ab" * 30, "😀" * 5,
]

WORDS = ["the", "a", "cat", "sat", "on", "mat", "Lily", "park", "ball", "happy", "time", "upon", "Once", "said",
         "don't", "it's", "HELLO", "World", "tokenizer", "llama", "running", "jumped", "über", "naïve", "café"]
UNICODE = ["中", "文", "日本", "한", "ё", "ß", "é", "ñ", "😀", "🚀", "👩‍💻", "∑", "→", "€", "½", "\u0301", "\ufffd", "\ue001", "ก", "अ"]
SPACES = [" ", " ", " ", "  ", "   ", "\t", "\n", "\r\n", "\u3000", "\u00a0"]
PUNCT = [".", ",", "!", "?", "'", '"', "-", "(", ")", ":", ";", "<", ">", "/", "#", "@"]


def random_text(rng):
    """A short string of words, numbers, unicode, punctuation and whitespace of random kinds."""
    parts = []
    for _ in range(rng.randint(0, 12)):
        kind = rng.random()
        if kind < 0.4:
            parts.append(rng.choice(WORDS))
        elif kind < 0.55:
            parts.append(str(rng.randint(0, 10 ** rng.randint(1, 12))))
        elif kind < 0.7:
            parts.append("".join(rng.choice(UNICODE) for _ in range(rng.randint(1, 4))))
        elif kind < 0.8:
            parts.append(rng.choice(PUNCT))
        elif kind < 0.85:
            parts.append(chr(rng.randint(0x20, 0x7e)) + chr(rng.randint(0xa0, 0x2fff)))
        else:
            parts.append(rng.choice(SPACES))
        if rng.random() < 0.7:
            parts.append(rng.choice(SPACES))
    return "".join(parts)


def texts(seed=20230227, count=200):
    """The adversarial strings, then `count` distinct random ones not already in the list."""
    rng = random.Random(seed)
    out, seen = list(ADVERSARIAL), set(ADVERSARIAL)
    while len(out) < len(ADVERSARIAL) + count:
        t = random_text(rng)
        if t not in seen:
            seen.add(t)
            out.append(t)
    return out


def tokenizer_json(name, path_from_repo, abs_path, all_texts):
    """The bytes of golden/tokenizer/<name>.json: a header and one {text, ids} per case."""
    with open(abs_path, "rb") as f:
        sha = hashlib.sha256(f.read()).hexdigest()
    sp = sentencepiece.SentencePieceProcessor(model_file=abs_path)
    doc = {
        "model": path_from_repo,
        "sha256": sha,
        "vocab_size": sp.vocab_size(),
        "how": "ids = sentencepiece.SentencePieceProcessor(model_file=model).encode(text): no BOS, no EOS",
        "cases": [{"text": t, "ids": sp.encode(t)} for t in all_texts],
    }
    # One case per line keeps diffs readable; ensure_ascii keeps the file pure ASCII so that no
    # editor or tool can change the bytes (the text is what JSON.parse gives back).
    lines = [json.dumps({k: v for k, v in doc.items() if k != "cases"}, sort_keys=True)[:-1] + ', "cases": [']
    lines += [json.dumps(c, sort_keys=True) + ("," if i < len(doc["cases"]) - 1 else "") for i, c in enumerate(doc["cases"])]
    lines.append("]}")
    return ("\n".join(lines) + "\n").encode("ascii")
