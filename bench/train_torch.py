"""The training step of bench/train.ts in PyTorch on the CPU, for comparison: the same tiny
LLaMA (by default the embedded model's shape: dim 128, 4 layers, 8 heads, 4 kv heads, hidden
352, vocab 1024), batch 16 x 128 tokens, AdamW with gradient clipping, float32, eager mode.

    /usr/bin/python3 bench/train_torch.py [--threads 1,2] [--steps 5] [--shape DIM,LAYERS,HEADS,KV,HIDDEN,VOCAB,B,T] [--json]
"""
import argparse
import json
import math
import re
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

DIM, LAYERS, HEADS, KV_HEADS, HIDDEN, VOCAB, B, T = 128, 4, 8, 4, 352, 1024, 16, 128
HD = DIM // HEADS


class RMSNorm(nn.Module):
    def __init__(self, dim, eps=1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rope_tables(t, hd, theta=10000.0):
    freqs = theta ** (-torch.arange(0, hd, 2).float() / hd)  # [hd/2]
    angles = torch.outer(torch.arange(t).float(), freqs)  # [T, hd/2]
    return angles.cos(), angles.sin()


def rope(x, cos, sin):
    # x: [B, T, H, hd], adjacent pairs (2i, 2i+1) as in Meta's model.py
    x0, x1 = x[..., 0::2], x[..., 1::2]
    c, s = cos[None, :, None, :], sin[None, :, None, :]
    return torch.stack((x0 * c - x1 * s, x0 * s + x1 * c), dim=-1).flatten(-2)


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.attention_norm = RMSNorm(DIM)
        self.wq = nn.Linear(DIM, DIM, bias=False)
        self.wk = nn.Linear(DIM, KV_HEADS * HD, bias=False)
        self.wv = nn.Linear(DIM, KV_HEADS * HD, bias=False)
        self.wo = nn.Linear(DIM, DIM, bias=False)
        self.ffn_norm = RMSNorm(DIM)
        self.w1 = nn.Linear(DIM, HIDDEN, bias=False)
        self.w2 = nn.Linear(HIDDEN, DIM, bias=False)
        self.w3 = nn.Linear(DIM, HIDDEN, bias=False)

    def forward(self, h, cos, sin, mask):
        x = self.attention_norm(h)
        q = rope(self.wq(x).view(B, T, HEADS, HD), cos, sin).transpose(1, 2)
        k = rope(self.wk(x).view(B, T, KV_HEADS, HD), cos, sin).transpose(1, 2)
        v = self.wv(x).view(B, T, KV_HEADS, HD).transpose(1, 2)
        k = k.repeat_interleave(HEADS // KV_HEADS, dim=1)  # grouped KV: head h reads kv head h // group
        v = v.repeat_interleave(HEADS // KV_HEADS, dim=1)
        scores = (q @ k.transpose(-1, -2)) / math.sqrt(HD) + mask
        att = (F.softmax(scores, dim=-1) @ v).transpose(1, 2).reshape(B, T, DIM)
        h = h + self.wo(att)
        x = self.ffn_norm(h)
        return h + self.w2(F.silu(self.w1(x)) * self.w3(x))


class Llama(nn.Module):
    def __init__(self):
        super().__init__()
        self.tok_embeddings = nn.Embedding(VOCAB, DIM)
        self.layers = nn.ModuleList([Block() for _ in range(LAYERS)])
        self.norm = RMSNorm(DIM)
        self.output = nn.Linear(DIM, VOCAB, bias=False)
        cos, sin = rope_tables(T, HD)
        self.register_buffer('cos', cos)
        self.register_buffer('sin', sin)
        self.register_buffer('mask', torch.full((T, T), float('-inf')).triu(1))

    def forward(self, tokens, targets):
        h = self.tok_embeddings(tokens)
        for layer in self.layers:
            h = layer(h, self.cos, self.sin, self.mask)
        logits = self.output(self.norm(h))
        return F.cross_entropy(logits.view(-1, VOCAB), targets.view(-1))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--threads', default='1,2')
    parser.add_argument('--steps', type=int, default=5)
    parser.add_argument('--shape', help='DIM,LAYERS,HEADS,KV_HEADS,HIDDEN,VOCAB,B,T')
    parser.add_argument('--json', action='store_true', help='one JSON object a thread count on stdout')
    args = parser.parse_args()
    global DIM, LAYERS, HEADS, KV_HEADS, HIDDEN, VOCAB, B, T, HD
    if args.shape:
        DIM, LAYERS, HEADS, KV_HEADS, HIDDEN, VOCAB, B, T = (int(v) for v in args.shape.split(','))
        HD = DIM // HEADS
    blas = re.search(r'BLAS_INFO=(\w+)', torch.__config__.show())
    torch.manual_seed(0)
    for threads in [int(t) for t in args.threads.split(',')]:
        torch.set_num_threads(threads)
        model = Llama()
        params = sum(p.numel() for p in model.parameters())
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.95), weight_decay=0.1)
        times = []
        for step in range(args.steps + 1):
            tokens = torch.randint(0, VOCAB, (B, T))
            targets = torch.roll(tokens, -1, dims=1)
            start = time.perf_counter()
            opt.zero_grad(set_to_none=True)
            loss = model(tokens, targets)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            if step > 0:  # the first step warms up
                times.append(time.perf_counter() - start)
        times.sort()
        median = times[len(times) // 2]
        if args.json:
            print(json.dumps({'torch': torch.__version__, 'blas': blas.group(1) if blas else None, 'threads': threads,
                              'parameters': params, 'seconds_per_step': median, 'tokens_per_second': B * T / median}), flush=True)
        else:
            print(f'torch {torch.__version__}, {threads} thread(s), {params} parameters: '
                  f'{median * 1000:.0f} ms/step, {B * T / median:.0f} tokens/s (loss {loss.item():.3f})')


if __name__ == '__main__':
    main()
