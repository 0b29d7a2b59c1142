#!/usr/bin/env python3
"""Trains Cantor's LSTM with PyTorch, on one process, several GPUs or several machines.

Reads a run directory RUN/ that the Rust side writes:
  RUN/run.json          {"format": "cantor-torch-run", "version": 1, "model": {...}, "train": {...},
                         "corpus": "/abs/CORPUS", "init": "init.safetensors"}
  RUN/init.safetensors  the initial weights (emb.weight, lstm.weight_ih_l0, ..., out.bias), float32
  CORPUS/               manifest.json and, per shard, NAME.tokens (u16 LE) and NAME.index (16-byte
                        records: offset u64, length u32, head u16, split u8, pad u8), memory-mapped
Writes into RUN/ (process 0 only, each file atomically: a temporary file, then a rename):
  step-NNNNNNN.safetensors  the weights, same names as init.safetensors, every --checkpoint-every
                            steps and at the end
  optim-NNNNNNN.pt          Adam's state at that step (torch.save; only the latest one is kept)
  latest.json               {"step", "checkpoint", "optimizer", "elapsed_s"}: where a re-run resumes
  log.jsonl                 {"step", "loss", "lr", "tokens_per_s", "elapsed_s"} every log_every steps,
                            and {"step", "valid_nll_per_token", "valid_tokens", ...} after validation;
                            the same lines go to stdout

One process (CPU, or the first GPU):
    python scripts/torch_train.py RUN/ [--steps N | --minutes M] [--log-every K]
One machine with several GPUs (one process per GPU, NCCL):
    torchrun --nproc-per-node 8 scripts/torch_train.py RUN/
Several machines (the same command on each; HOST is any one of them, reachable from the others):
    torchrun --nnodes 2 --nproc-per-node 8 --rdzv-backend c10d --rdzv-endpoint HOST:29400 \\
        --rdzv-id cantor scripts/torch_train.py RUN/
RUN/ and the corpus must be at the same paths on every machine (a shared file system): every
process reads run.json, the corpus and latest.json. Add `--max-restarts 3` to torchrun to survive a
lost worker or node: the restarted workers resume from latest.json, as does re-running the command.

`train.batch` is the global batch: each of the W processes computes batch/W of its rows. Every
process draws the same global batch (a permutation of all training windows per epoch, seeded by
`train.seed` and the epoch) and keeps its own slice of rows, so the data of a step depends only on
the step, not on W: with dropout 0, W processes take the same steps as one up to float rounding
(the gradient sums in another order), and a run may resume on a different number of processes.
`--steps` (default `train.steps`) is the total, also the length of the learning-rate schedule;
`--minutes` caps the training time of all runs of RUN/ together and anneals by the clock as well.

Exit status 0 on success; 2 with one sentence on stderr when an input is refused (a malformed
run.json, weights with missing or extra names, wrong shapes or non-finite values, a bad corpus).
"""
import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from safetensors import safe_open
from safetensors.torch import save_file
from torch import nn
from torch.utils.data import DataLoader, Dataset, Sampler

INDEX_DTYPE = np.dtype([("offset", "<u8"), ("length", "<u4"), ("head", "<u2"), ("split", "u1"), ("pad", "u1")])
# Scanning a shard for anchors and out-of-range ids in slices bounds the temporary arrays.
SCAN_CHUNK = 1 << 24


class Refusal(Exception):
    """An input the script will not use; its message is one plain sentence for the user."""


# ---------------------------------------------------------------------------------------------
# run.json


def read_json(path, missing, fmt, wrong):
    """A JSON file written by Cantor in format `fmt` version 1, or a Refusal in words: `missing`
    when it is not there, `wrong` when it is another file."""
    try:
        value = json.loads(path.read_text())
    except FileNotFoundError:
        raise Refusal(missing)
    except (OSError, ValueError) as e:
        raise Refusal(f"{path} is not readable JSON ({e}).")
    if not isinstance(value, dict) or value.get("format") != fmt or value.get("version") != 1:
        raise Refusal(wrong)
    return value


def read_run(run_dir):
    """run.json, checked enough that a malformed one is refused with a sentence, not a traceback."""
    run_dir = Path(run_dir)
    path = run_dir / "run.json"
    run = read_json(path, f"{path} does not exist.", "cantor-torch-run", f"{path} is not a cantor-torch-run version 1 file.")

    def section(name, ints, floats):
        s = run.get(name)
        if not isinstance(s, dict):
            raise Refusal(f"{path} has no \"{name}\" object.")
        for k in ints:
            v = s.get(k)
            if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                raise Refusal(f"{path}: {name}.{k} must be a non-negative integer.")
        for k in floats:
            v = s.get(k)
            if not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v) or v < 0:
                raise Refusal(f"{path}: {name}.{k} must be a finite non-negative number.")
        return s

    m = section("model", ["vocab_size", "embed", "hidden", "layers"], ["dropout"])
    t = section("train", ["warmup_steps", "batch", "seq_len", "steps", "seed", "log_every"],
                ["lr", "clip_norm", "beta_1", "beta_2", "epsilon"])
    for k in ["vocab_size", "embed", "hidden", "layers"]:
        if m[k] < 1:
            raise Refusal(f"{path}: model.{k} must be at least 1.")
    if not m["dropout"] < 1:
        raise Refusal(f"{path}: model.dropout must be below 1.")
    if m["vocab_size"] > 65536:
        raise Refusal(f"{path}: model.vocab_size is above 65536, which u16 tokens cannot address.")
    for k in ["batch", "seq_len"]:
        if t[k] < 1:
            raise Refusal(f"{path}: train.{k} must be at least 1.")
    if not (t["beta_1"] < 1 and t["beta_2"] < 1):
        raise Refusal(f"{path}: train.beta_1 and train.beta_2 must be below 1.")
    if not isinstance(run.get("corpus"), str) or not isinstance(run.get("init"), str):
        raise Refusal(f"{path} must name the corpus directory and the init file as strings.")
    return run


# ---------------------------------------------------------------------------------------------
# The model and its weights


class Lm(nn.Module):
    """The Rust model: embedding, L LSTM layers (gates i, f, g, o), dropout after every layer
    (nn.LSTM's own dropout covers all but the last, hence `drop`), linear read-out."""

    def __init__(self, vocab_size, embed, hidden, layers, dropout):
        super().__init__()
        self.emb = nn.Embedding(vocab_size, embed)
        self.lstm = nn.LSTM(embed, hidden, num_layers=layers, batch_first=True,
                            dropout=dropout if layers > 1 else 0.0)
        self.drop = nn.Dropout(dropout)
        self.out = nn.Linear(hidden, vocab_size)

    @classmethod
    def from_run(cls, run):
        m = run["model"]
        return cls(m["vocab_size"], m["embed"], m["hidden"], m["layers"], m["dropout"])

    def forward(self, x):
        # No state argument: every window starts from the zero state, as in the Rust trainer.
        y, _ = self.lstm(self.emb(x))
        return self.out(self.drop(y))


def load_weights(model, path):
    """Loads a safetensors file into `model`, refusing anything but exactly its float32 tensors."""
    want = model.state_dict()
    path = Path(path)
    try:
        with safe_open(str(path), framework="pt") as f:
            names = set(f.keys())
            missing, extra = sorted(set(want) - names), sorted(names - set(want))
            if missing or extra:
                parts = ([f"lacks {', '.join(missing)}"] if missing else []) + \
                        ([f"has unknown tensors {', '.join(extra)}"] if extra else [])
                raise Refusal(f"{path} does not fit this model: it {' and '.join(parts)}.")
            got = {name: f.get_tensor(name) for name in want}
    except FileNotFoundError:
        raise Refusal(f"{path} does not exist.")
    except Refusal:
        raise
    except Exception as e:  # the safetensors reader raises several types for a damaged file
        raise Refusal(f"{path} is not a readable safetensors file ({e}).")
    for name, target in want.items():
        t = got[name]
        if t.dtype != torch.float32:
            raise Refusal(f"{path}: {name} is {t.dtype}, not float32.")
        if tuple(t.shape) != tuple(target.shape):
            raise Refusal(f"{path}: {name} has shape {list(t.shape)}, the model needs {list(target.shape)}.")
        if not torch.isfinite(t).all():
            raise Refusal(f"{path}: {name} holds a non-finite value.")
    model.load_state_dict(got, strict=True)


def atomic_write(path, write):
    """Calls write(temporary path), then renames it over `path`: a reader never sees half a file,
    and a run killed mid-write keeps the previous file."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def save_weights(model, path):
    tensors = {k: v.detach().to("cpu", torch.float32).contiguous() for k, v in model.state_dict().items()}
    atomic_write(path, lambda tmp: save_file(tensors, str(tmp)))


# ---------------------------------------------------------------------------------------------
# The corpus


class Corpus:
    """The shards' token files, memory-mapped; a piece table of all pieces; and the training
    windows as compact arrays (4 bytes per anchor candidate, nothing per candidate without an
    anchor), so 100,000 pieces and hundreds of millions of tokens stay cheap."""

    def __init__(self, directory, vocab_size, seq_len):
        self.dir = Path(directory)
        self.seq_len = seq_len
        manifest_path = self.dir / "manifest.json"
        manifest = read_json(manifest_path, f"The corpus has no {manifest_path}.", "cantor-corpus",
                             f"{manifest_path} is not a cantor-corpus version 1 manifest.")
        if manifest.get("vocab_size") != vocab_size:
            raise Refusal(f"The corpus has vocabulary {manifest.get('vocab_size')} but run.json's model has {vocab_size}.")
        anchor = manifest.get("anchor")
        if anchor is not None and not (isinstance(anchor, int) and 0 <= anchor < vocab_size):
            raise Refusal(f"{manifest_path}: anchor must be null or a token id below {vocab_size}.")
        self.anchor = anchor
        shards = manifest.get("shards")
        if not isinstance(shards, list) or not all(isinstance(s, dict) and isinstance(s.get("name"), str) for s in shards):
            raise Refusal(f"{manifest_path}: shards must be a list of objects with a name.")
        self.token_paths = [self.dir / f"{s['name']}.tokens" for s in shards]
        self._maps = {}

        w = seq_len + 1
        cols = {k: [] for k in ["shard", "offset", "length", "head", "split"]}
        anchor_k, anchor_counts = [], []  # per shard: candidates' k grouped by piece; count per piece
        for s, shard in enumerate(shards):
            index_path = self.dir / f"{shard['name']}.index"
            try:
                index = np.fromfile(index_path, dtype=np.uint8)
            except OSError as e:
                raise Refusal(f"The corpus shard index {index_path} is not readable ({e}).")
            if index.size % INDEX_DTYPE.itemsize:
                raise Refusal(f"{index_path} is not a whole number of 16-byte records.")
            index = index.view(INDEX_DTYPE)
            tokens = self.tokens(s)
            offset = index["offset"].astype(np.int64)
            length = index["length"].astype(np.int64)
            if (index["offset"] > np.uint64(tokens.size)).any() or (offset + length > tokens.size).any():
                raise Refusal(f"{index_path} points past the end of {self.token_paths[s]}.")
            head = np.minimum(np.minimum(index["head"].astype(np.int64), w // 2), length)
            for k, v in [("shard", np.full(len(index), s, np.int32)), ("offset", offset), ("length", length),
                         ("head", head), ("split", index["split"])]:
                cols[k].append(v)
            k, counts = self._scan(s, tokens, offset, length, head, index["split"], vocab_size)
            anchor_k.append(k)
            anchor_counts.append(counts)
        for k, v in cols.items():
            setattr(self, k, np.concatenate(v) if v else np.zeros(0, np.int64))

        # Training windows: candidate i lies in training piece train_pieces[j] where
        # cum[j] <= i < cum[j+1]; its k is anchor_k[i], or (no anchor) head + i - cum[j].
        body = w - self.head
        if anchor is None:
            counts = np.where(self.split == 0, np.maximum(self.length - body - self.head + 1, 0), 0)
            self.anchor_k = None
        else:
            self.anchor_k = np.concatenate(anchor_k).astype(np.int32) if anchor_k else np.zeros(0, np.int32)
            counts = np.concatenate(anchor_counts) if anchor_counts else np.zeros(0, np.int64)
        self.train_pieces = np.flatnonzero(counts > 0)
        self.cum = np.zeros(len(self.train_pieces) + 1, np.int64)
        np.cumsum(counts[self.train_pieces], out=self.cum[1:])
        self.valid_pieces = np.flatnonzero(self.split == 1)

    def _scan(self, s, tokens, offset, length, head, split, vocab_size):
        """One pass over a shard: refuses ids >= vocab_size (the embedding would fault on a GPU)
        and, with an anchor, returns the positions k that start a training window (grouped by
        piece in index order) and their count per piece; without one, (None, None)."""
        order = np.argsort(offset, kind="stable")
        sorted_offset = offset[order]
        ks, owners = [], []
        for start in range(0, tokens.size, SCAN_CHUNK):
            chunk = tokens[start:start + SCAN_CHUNK]
            if chunk.size and int(chunk.max()) >= vocab_size:
                raise Refusal(f"{self.token_paths[s]} holds a token id of {int(chunk.max())}, outside the vocabulary of {vocab_size}.")
            if self.anchor is None:
                continue
            pos = np.flatnonzero(chunk == self.anchor).astype(np.int64) + start
            j = np.searchsorted(sorted_offset, pos, side="right") - 1
            ok = j >= 0
            p = order[np.maximum(j, 0)]
            k = pos - offset[p]
            body = self.seq_len + 1 - head[p]
            ok &= (k < length[p]) & (split[p] == 0) & (k >= head[p]) & (k + body <= length[p])
            ks.append(k[ok])
            owners.append(p[ok])
        if self.anchor is None:
            return None, None
        k = np.concatenate(ks) if ks else np.zeros(0, np.int64)
        p = np.concatenate(owners) if owners else np.zeros(0, np.int64)
        # Group by piece in index order (positions come in offset order, which may differ).
        return k[np.argsort(p, kind="stable")], np.bincount(p, minlength=len(offset))

    def tokens(self, s):
        """Shard s's tokens, memory-mapped on first use in this process."""
        if s not in self._maps:
            path = self.token_paths[s]
            try:
                self._maps[s] = np.memmap(path, dtype="<u2", mode="r") if path.stat().st_size else np.zeros(0, "<u2")
            except (OSError, ValueError) as e:
                raise Refusal(f"The corpus shard {path} is not readable ({e}).")
        return self._maps[s]

    def __getstate__(self):
        # A DataLoader worker re-opens the maps; pickling a memmap would copy the whole shard.
        return {**self.__dict__, "_maps": {}}

    def __len__(self):
        return int(self.cum[-1])

    def window(self, i):
        """Training window i: the piece's head, then the body from position k, seq_len+1 tokens."""
        j = int(np.searchsorted(self.cum, i, side="right")) - 1
        p = self.train_pieces[j]
        h = int(self.head[p])
        k = int(self.anchor_k[i]) if self.anchor_k is not None else h + i - int(self.cum[j])
        tokens, o = self.tokens(int(self.shard[p])), int(self.offset[p])
        return np.concatenate([tokens[o:o + h], tokens[o + k:o + k + self.seq_len + 1 - h]]).astype(np.int64)

    def valid_windows(self, cap):
        """The held-out pieces cut into windows of up to seq_len+1 tokens that overlap by one
        token, so each token after a piece's first is a target exactly once; `cap` targets at most.
        Yields int64 arrays (the last window of a piece may be shorter)."""
        left = cap
        for p in self.valid_pieces:
            tokens, o, n = self.tokens(int(self.shard[p])), int(self.offset[p]), int(self.length[p])
            for start in range(0, n - 1, self.seq_len):
                if left <= 0:
                    return
                end = min(start + self.seq_len + 1, n, start + 1 + left)
                left -= end - start - 1
                yield tokens[o + start:o + end].astype(np.int64)


class Windows(Dataset):
    def __init__(self, corpus):
        self.corpus = corpus

    def __len__(self):
        return len(self.corpus)

    def __getitem__(self, i):
        return torch.from_numpy(self.corpus.window(int(i)))


class GlobalBatches(Sampler):
    """This process's rows of every global batch from `start_step` on, endlessly.

    The windows are read in epochs, each a permutation seeded by (seed, epoch) (what
    DistributedSampler.set_epoch does); global batch s is entries s*B .. s*B+B-1 of the epochs laid
    end to end, and process r keeps rows r*B/W .. (r+1)*B/W-1 of it. Unlike DistributedSampler,
    the batch does not depend on W (so W processes step like one) and resuming at any step only
    needs the step; the permutation also stays a tensor instead of a Python list of every index.
    """

    def __init__(self, n, batch, rank, world, seed, start_step):
        self.n, self.batch, self.seed, self.start_step = n, batch, seed, start_step
        self.rows = slice(rank * batch // world, (rank + 1) * batch // world)

    def _perm(self, epoch):
        g = torch.Generator()
        g.manual_seed((self.seed * 1_000_003 + epoch) % 2**64)  # run.json's seed is any u64
        # int32 halves the permutation's memory (one entry per window: 400 MB at 100M windows).
        return torch.randperm(self.n, generator=g, dtype=torch.int32 if self.n < 2**31 else torch.int64)

    def __iter__(self):
        pos = self.start_step * self.batch
        epoch, at = divmod(pos, self.n)
        perm = self._perm(epoch)
        while True:
            parts, need = [], self.batch
            while need:  # a batch may straddle epochs, or span several when there are few windows
                take = perm[at:at + need]
                parts.append(take)
                need -= take.numel()
                at += take.numel()
                if at == self.n:
                    epoch, at = epoch + 1, 0
                    perm = self._perm(epoch)
            yield torch.cat(parts)[self.rows].tolist()


# ---------------------------------------------------------------------------------------------
# Training


def lr_at(step, base, warmup, total, time_progress=0.0):
    """Linear warm-up, then cosine decay to 10 % (the Rust trainer's schedule); with a time
    limit, progress also follows the clock so a run cut by time still ends annealed."""
    warm = min(1.0, (step + 1) / max(1, warmup))
    progress = min(1.0, max(step / max(1, total), time_progress))
    return base * warm * (0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * progress)))


@torch.no_grad()
def validate(model, corpus, cap, rows, device):
    """Mean NLL per target token over the held-out windows (None when there are none)."""
    was_training = model.training
    model.eval()
    total, count, batch = 0.0, 0, []

    def flush():
        nonlocal total, count
        width = max(len(w) for w in batch)
        # Padding at the end of a row cannot reach its real positions in a forward LSTM;
        # its targets are -100, which cross_entropy ignores.
        x = torch.zeros(len(batch), width, dtype=torch.long)
        y = torch.full((len(batch), width - 1), -100, dtype=torch.long)
        for r, w in enumerate(batch):
            x[r, :len(w)] = torch.from_numpy(w)
            y[r, :len(w) - 1] = torch.from_numpy(w[1:])
        x, y = x.to(device), y.to(device)
        logits = model(x[:, :-1])
        total += nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1),
                                             ignore_index=-100, reduction="sum").item()
        count += int((y != -100).sum())
        batch.clear()

    for w in corpus.valid_windows(cap):
        batch.append(w)
        if len(batch) == rows:
            flush()
    if batch:
        flush()
    model.train(was_training)
    return (total / count if count else None), count


class Log:
    """log.jsonl and stdout, process 0 only."""

    def __init__(self, path, enabled):
        self.path, self.enabled = path, enabled

    def truncate_after(self, step):
        # A resumed run redoes the steps after its checkpoint; their old lines would repeat.
        if not self.enabled or not self.path.exists():
            return
        kept = []
        for line in self.path.read_text().splitlines():
            try:
                if json.loads(line)["step"] <= step:
                    kept.append(line)
            except (ValueError, KeyError, TypeError):
                pass  # a line torn by a killed process
        atomic_write(self.path, lambda tmp: tmp.write_text("".join(l + "\n" for l in kept)))

    def __call__(self, **fields):
        if not self.enabled:
            return
        line = json.dumps(fields)
        print(line, flush=True)
        with open(self.path, "a") as f:
            f.write(line + "\n")


def parse_args(argv):
    ap = argparse.ArgumentParser(description="Train Cantor's LSTM with PyTorch (see the docstring).")
    ap.add_argument("run", help="the run directory holding run.json")
    ap.add_argument("--steps", type=int, help="total optimizer steps (default: run.json's train.steps)")
    ap.add_argument("--minutes", type=float, help="also stop after this many minutes of training, all resumes together")
    ap.add_argument("--log-every", type=int, help="log every K steps (default: run.json's train.log_every)")
    ap.add_argument("--checkpoint-every", type=int, default=500)
    ap.add_argument("--valid-every", type=int, default=0, help="validate every K steps (default: only at the end)")
    ap.add_argument("--valid-tokens", type=int, default=200_000)
    a = ap.parse_args(argv)
    for name in ["steps", "log_every", "checkpoint_every", "valid_every", "valid_tokens"]:
        v = getattr(a, name)
        if v is not None and v < 0:
            ap.error(f"--{name.replace('_', '-')} must not be negative")
    if a.minutes is not None and not (a.minutes > 0 and math.isfinite(a.minutes)):
        ap.error("--minutes must be a positive number")
    return a


def train(args, rank, world, local_rank):
    run_dir = Path(args.run)
    run = read_run(run_dir)
    t = run["train"]
    V, B, T = run["model"]["vocab_size"], t["batch"], t["seq_len"]
    total_steps = args.steps if args.steps is not None else t["steps"]
    log_every = max(1, args.log_every if args.log_every is not None else t["log_every"] or 1)
    time_limit = args.minutes * 60 if args.minutes is not None else None

    cuda = torch.cuda.is_available()
    device = torch.device(f"cuda:{local_rank}" if cuda else "cpu")

    model = Lm.from_run(run)
    latest_path = run_dir / "latest.json"
    start_step, elapsed_before, resume = 0, 0.0, None
    if latest_path.exists():
        try:
            resume = json.loads(latest_path.read_text())
            start_step, elapsed_before = int(resume["step"]), float(resume.get("elapsed_s", 0.0))
            load_weights(model, run_dir / resume["checkpoint"])
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise Refusal(f"{latest_path} is not a usable resume point ({e}); remove it to start from init.")
    else:
        load_weights(model, run_dir / run["init"])
    corpus = Corpus(run["corpus"], V, T)
    if len(corpus) == 0:
        raise Refusal(f"No training piece in the corpus is long enough for a window of {T + 1} tokens.")
    model.to(device)

    opt = torch.optim.Adam(model.parameters(), lr=t["lr"], betas=(t["beta_1"], t["beta_2"]), eps=t["epsilon"])
    if resume is not None and resume.get("optimizer"):
        try:
            opt.load_state_dict(torch.load(run_dir / resume["optimizer"], map_location=device, weights_only=True))
        except Exception as e:
            raise Refusal(f"The optimizer state {run_dir / resume['optimizer']} is not loadable ({e}).")

    distributed = dist.is_initialized()
    net = nn.parallel.DistributedDataParallel(model, device_ids=[local_rank] if cuda else None) if distributed else model
    # Dropout masks: different per process (rows differ) and per resume point (so a resumed run
    # does not replay the masks of the steps it already took); the weights come from files.
    torch.manual_seed((t["seed"] * 1_000_003 + rank * 7919 + start_step + 1) % 2**64)

    log = Log(run_dir / "log.jsonl", rank == 0)
    if start_step >= total_steps or (time_limit is not None and elapsed_before >= time_limit):
        if rank == 0:
            print(f"{run_dir} is already trained to step {start_step} ({latest_path}); nothing to do.", file=sys.stderr)
        return
    if resume is not None:
        log.truncate_after(start_step)
        if rank == 0:
            print(f"resuming from {latest_path} at step {start_step}", file=sys.stderr, flush=True)

    rows = B // world
    loader = DataLoader(Windows(corpus), batch_sampler=GlobalBatches(len(corpus), B, rank, world, t["seed"], start_step),
                        num_workers=0, pin_memory=cuda)
    batches = iter(loader)

    last_optim = resume.get("optimizer") if resume else None

    def checkpoint(step, elapsed):
        nonlocal last_optim
        if rank != 0:
            return
        name, optim = f"step-{step:07d}.safetensors", f"optim-{step:07d}.pt"
        save_weights(model, run_dir / name)
        atomic_write(run_dir / optim, lambda tmp: torch.save(opt.state_dict(), tmp))
        state = {"step": step, "checkpoint": name, "optimizer": optim, "elapsed_s": elapsed}
        atomic_write(latest_path, lambda tmp: tmp.write_text(json.dumps(state) + "\n"))
        # Only the newest optimizer state is worth its size (twice the model's); weights stay.
        if last_optim and last_optim != optim:
            (run_dir / last_optim).unlink(missing_ok=True)
        last_optim = optim

    validated_at = None

    def run_validation(step, elapsed):
        nonlocal validated_at
        if step == validated_at:
            return
        validated_at = step
        if rank == 0:
            nll, n = validate(model, corpus, args.valid_tokens, rows, device)
            log(step=step, valid_nll_per_token=nll, valid_tokens=n, elapsed_s=round(elapsed, 3))
        if distributed:  # the others wait here rather than inside the next gradient exchange
            dist.barrier(device_ids=[local_rank]) if cuda else dist.barrier()

    step, loss_sum, loss_steps = start_step, torch.zeros((), device=device), 0
    t0 = time.perf_counter()
    interval_t0, interval_steps = t0, 0
    elapsed = elapsed_before
    clock = torch.zeros(1, dtype=torch.float64, device=device)
    net.train()
    while step < total_steps:
        time_progress = 0.0
        if time_limit is not None:
            # Process 0's clock decides for everyone, so all stop at the same step with the same lr.
            clock[0] = elapsed_before + time.perf_counter() - t0
            if distributed:
                dist.broadcast(clock, 0)
            elapsed = float(clock[0])
            if elapsed >= time_limit:
                break
            time_progress = elapsed / time_limit
        lr = lr_at(step, t["lr"], t["warmup_steps"], total_steps, time_progress)
        for g in opt.param_groups:
            g["lr"] = lr
        x = next(batches).to(device, non_blocking=True)
        logits = net(x[:, :-1])
        loss = nn.functional.cross_entropy(logits.reshape(-1, V), x[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        # DDP averages the gradients, so every process holds the global batch's mean gradient and
        # the clipping and the Adam step below are the same everywhere.
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), t["clip_norm"])
        opt.step()
        step += 1
        loss_sum += loss.detach()
        loss_steps += 1
        interval_steps += 1

        last = step == total_steps
        logged = step % log_every == 0 or last
        if logged:
            if distributed:
                dist.all_reduce(loss_sum)
            mean_loss = loss_sum.item() / loss_steps / world  # .item() waits for the GPU: the clock is true
            now = time.perf_counter()
            elapsed = elapsed_before + now - t0
            log(step=step, loss=mean_loss, lr=lr, tokens_per_s=interval_steps * B * T / max(now - interval_t0, 1e-9),
                elapsed_s=round(elapsed, 3))
            loss_sum.zero_()
            loss_steps = 0
        pause = time.perf_counter()
        if (args.checkpoint_every and step % args.checkpoint_every == 0) or last:
            checkpoint(step, elapsed_before + pause - t0)
        if args.valid_every and step % args.valid_every == 0 and not last:
            run_validation(step, elapsed_before + pause - t0)
        if logged:
            interval_t0, interval_steps = time.perf_counter(), 0
        else:
            interval_t0 += time.perf_counter() - pause  # saving and validating are not training: keep them out of tokens/s

    elapsed = elapsed_before + time.perf_counter() - t0
    if step < total_steps:  # stopped by the clock: log and keep the last steps
        if loss_steps:
            if distributed:
                dist.all_reduce(loss_sum)
            log(step=step, loss=loss_sum.item() / loss_steps / world, lr=lr,
                tokens_per_s=interval_steps * B * T / max(time.perf_counter() - interval_t0, 1e-9), elapsed_s=round(elapsed, 3))
        if step > start_step:
            checkpoint(step, elapsed)
    run_validation(step, elapsed)


def main(argv=None):
    args = parse_args(argv)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    launched = "WORLD_SIZE" in os.environ
    try:
        # Checked before joining the group, so a bad run.json fails every process at once instead
        # of leaving the others waiting for it.
        batch = read_run(args.run)["train"]["batch"]
        if batch % world:
            raise Refusal(f"The global batch of {batch} rows does not divide among {world} processes; choose a batch that is a multiple of {world}.")
        if launched:
            if torch.cuda.is_available():
                # Before joining: NCCL binds each process to the current device.
                torch.cuda.set_device(local_rank)
            dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
        train(args, rank, world, local_rank)
    except Refusal as e:
        # One sentence per machine (local rank 0): a file missing on one node still gets said.
        if local_rank == 0:
            print(e, file=sys.stderr)
        return 2
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
