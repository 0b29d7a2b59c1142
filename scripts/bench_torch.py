#!/usr/bin/env python3
"""PyTorch side of the training/generation speed comparison (BENCHMARKS.md).

Same model and sizes as `cantor speed`: vocabulary 300, embedding 128, 2x256 LSTM, batch 32,
sequence 128; one step = forward, cross-entropy, backward, clip, Adam, loss read-back. Generation:
batch 1, carried state, one token at a time. Run both in one script on the same CPU:

    pip install torch  # the PyPI build (CUDA wheels) runs on the CPU
    python3 scripts/bench_torch.py && $CARGO_TARGET_DIR/release/cantor speed
"""
import json
import time

import torch
from torch import nn

V, E, H, L, B, T = 300, 128, 256, 2, 32, 128


class Lm(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(V, E)
        self.lstm = nn.LSTM(E, H, L, batch_first=True, dropout=0.1)
        self.out = nn.Linear(H, V)

    def forward(self, x, state=None):
        y, state = self.lstm(self.emb(x), state)
        return self.out(y), state


def main(steps=20, gen_tokens=200, device="cpu", batch=B):
    torch.manual_seed(0)
    model = Lm().to(device)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    data = torch.randint(0, V, (batch, T + 1), device=device)
    def step():
        logits, _ = model(data[:, :-1])
        loss = nn.functional.cross_entropy(logits.reshape(-1, V), data[:, 1:].reshape(-1))
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return loss.item()
    step(); step()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    step_s = (time.perf_counter() - t0) / steps
    model.eval()
    with torch.no_grad():
        x, state = torch.tensor([[1]], device=device), None
        t0 = time.perf_counter()
        for _ in range(gen_tokens):
            logits, state = model(x, state)
            probs = torch.softmax(logits[0, -1], -1)
            x = torch.multinomial(probs, 1).view(1, 1)
        if device != "cpu":
            torch.cuda.synchronize()
        gen_s = time.perf_counter() - t0
    print(json.dumps({"impl": "pytorch", "device": device, "threads": torch.get_num_threads(), "step_ms": step_s * 1e3,
                      "batch": batch, "train_tokens_per_s": batch * T / step_s, "gen_tokens_per_s": gen_tokens / gen_s}))


if __name__ == "__main__":
    # `--device cuda` times the same model on an NVIDIA GPU (cuDNN LSTM), for the GPU rows of BENCHMARKS.md.
    import argparse
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--batch", type=int, default=B)
    a = ap.parse_args()
    main(steps=a.steps, device=a.device, batch=a.batch)
