#!/usr/bin/env python3
"""The log-probabilities a PyTorch checkpoint gives one token sequence, to compare with the Rust
model's on the same weights:

    python scripts/torch_logits.py RUN/ CHECKPOINT.safetensors 1,17,42,5

builds the model that RUN/run.json describes, loads the checkpoint (a path, else a name inside RUN/
such as latest.json's "checkpoint"), runs the tokens as one sequence (batch 1, eval mode: no dropout,
zero initial state) and prints {"log_probs": [[V floats] per position]} on stdout: row t is
log_softmax of the logits after reading tokens[0..=t], i.e. the distribution of token t+1.
Exit status 2 with one sentence on stderr for a refused input (bad run.json, checkpoint or tokens).
"""
import json
import sys
from pathlib import Path

import torch

# torch_train.py lives beside this file and holds the model and the strict weight loader, so the
# two cannot drift apart. No __pycache__ is left in scripts/.
sys.dont_write_bytecode = True
sys.path.insert(0, str(Path(__file__).resolve().parent))
from torch_train import Lm, Refusal, load_weights, read_run  # noqa: E402


def parse_tokens(text, vocab_size):
    try:
        tokens = [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise Refusal(f"The tokens must be comma-separated integers, not {text!r}.")
    if not tokens:
        raise Refusal("There are no tokens to run.")
    bad = [t for t in tokens if not 0 <= t < vocab_size]
    if bad:
        raise Refusal(f"Token {bad[0]} is outside the vocabulary of {vocab_size}.")
    return tokens


def main(argv):
    if len(argv) != 3:
        print("usage: torch_logits.py RUN/ CHECKPOINT.safetensors TOKENS (comma-separated ids)", file=sys.stderr)
        return 2
    run_dir, checkpoint, text = Path(argv[0]), Path(argv[1]), argv[2]
    try:
        run = read_run(run_dir)
        tokens = parse_tokens(text, run["model"]["vocab_size"])
        if not checkpoint.exists() and (run_dir / checkpoint).exists():
            checkpoint = run_dir / checkpoint
        model = Lm.from_run(run)
        load_weights(model, checkpoint)
    except Refusal as e:
        print(e, file=sys.stderr)
        return 2
    model.eval()
    with torch.no_grad():
        logits = model(torch.tensor([tokens], dtype=torch.long))[0]
        log_probs = torch.log_softmax(logits, dim=-1)
    # float32 values widen to doubles exactly, so the JSON holds the computed numbers.
    json.dump({"log_probs": log_probs.tolist()}, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
