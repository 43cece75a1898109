"""Lesson 08 - train the transformer of lesson 07 properly, on Shakespeare: on a CPU, a GPU, or many.

The question: what turns lesson 07's short ladder into a real training run? 07's recipe stays - random
windows as mini-batches (``get_batch``), AdamW with weight decay on the weight matrices only (lessons 03
and 04), lesson 03's ``learning_rate`` with its warm-up - run thousands of steps instead of hundreds,
with the habits every large language model is trained with, each with its reason:

* **Gradient clipping.** A gradient g longer than c becomes c * g / ||g||: no batch throws the weights far.
* **Honest evaluation, in bits per character** (lesson 07's ``evaluate``): the whole validation split,
  the same characters every time, and the training loss measured the same way (eval mode, fixed
  windows), so the two curves compare like with like: in figures/08_<text>_loss_curves.png the gap
  between them is what does not carry over to new text (below them: the warm-up's climb, the cosine).
  A token is one character or several, so scores are per character: uniform among 65, log2 65 = 6.02.
* **Keep the best.** A checkpoint is written whenever validation reaches a new low; Ctrl-C or a loss that
  blows up leaves the last good one in place. At every evaluation the run also saves its state: weights,
  AdamW's averages and the random generators (weights alone would restart the averages and draw other
  batches). --resume continues from there, on a CPU exactly as if never stopped (the tests check it).

**A second kind of token: byte-pair encoding** (BPE, what GPT models use; --tokenizer bpe). Start from
the 256 byte values of UTF-8, so nothing is ever unknown, then count every adjacent pair of tokens in
the training text, make the most frequent pair a new token, merge it everywhere, and repeat until
--vocab-size tokens. Frequent letter pairs merge first, then syllables and words: at 512 tokens each
holds about two characters, so a model reads a text in half the steps, but chooses among more tokens
at each one. Merges here cross words ('e ', ', And '); GPT-2 first cuts the text into words, numbers,
punctuation and spaces with a regular expression and merges only inside each piece. ``learn_merges``
is that loop as written, ``learn_merges_fast`` the same on NumPy arrays; every run shows what BPE learns.

**Fine-tuning** (--init-from CHECKPOINT): the same training, started from a model that already knows
spelling and words, on a text of your own far too small to learn a language from, with smaller steps
than a default run's (FINE_TUNE), so that what it knows is adjusted, not overwritten.

**Bigger than a laptop**: data parallelism under torchrun (``Team``: N processes train one model as one
process would with a batch N times larger) and mixed precision on a GPU (``Precision``, --dtype).

Run it:  python 08_train_llm.py               (about 10 minutes on 2 CPU cores)
         python 08_train_llm.py --quick       (about 2 minutes, a smaller model)
         python 08_train_llm.py --tokenizer bpe   (byte-pair tokens: models/08_gpt_tinyshakespeare_bpe.pt)
         python 08_train_llm.py --text my_notes.txt --init-from models/08_gpt_tinyshakespeare_bpe.pt
         python 08_train_llm.py --preset gpu  (nanoGPT's GPU-sized model, on one GPU)
         torchrun --standalone --nproc_per_node=2 08_train_llm.py --quick   (2 processes, one model)
"""

from __future__ import annotations

import argparse
import hashlib
import math
import os
import shlex
import sys
import time
from collections import Counter
from functools import partial
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from common import MODELS_DIR, Diverged, UserError
from common.cli import (add_gpt_arguments, add_training_arguments, bpe_vocab_size, given,
                        keep_parent_flags, lesson_parser, parse_gpt_args, run, seed_everything)
from common.checkpoints import RunFiles, load_gpt_checkpoint, previous_best, unusable
from common.devices import check_fits, check_step_fits, pick_device, pick_dtype, use_cpu_cores
from common.lessons import lesson
from common.plotting import check_figure_writable, plot_bits_per_char, save_figure, show_or_close
from common.text import describe, merges_text, read_text, split_text, token_text

_07 = lesson("07_simple_llm")  # the GPT this lesson trains, its writing loop, its batches and its score
GPT, GPTConfig, sample_text = _07.GPT, _07.GPTConfig, _07.sample_text
CharTokenizer, get_batch, Score, evaluate = _07.CharTokenizer, _07.get_batch, _07.Score, _07.evaluate
EXAMPLE, ODD = _07.EXAMPLE, _07.ODD  # a line of Shakespeare, and characters it never has
weight_decay_groups = lesson("04_neural_network_training").weight_decay_groups
learning_rate = lesson("03_multilayer_perceptron").learning_rate

# The flags the record keeps, beside the vocabulary's size, the number of processes and the precision they ran in
HYPERPARAMETERS = ("tokenizer", "n_layer", "n_head", "n_embd", "block_size", "batch_size", "max_iters", "lr", "min_lr",
                   "warmup_iters", "weight_decay", "grad_clip", "dropout", "eval_interval", "seed", "compile")
# Each mode's defaults, one dict each (as nanoGPT's config/*.py), chosen on validation loss; gpu is nanoGPT's
DEFAULTS = dict(max_iters=2000, batch_size=32, block_size=128, n_layer=4, n_head=4, n_embd=128, lr=3e-3, min_lr=3e-4,
                warmup_iters=100, weight_decay=0.1, grad_clip=1.0, dropout=0.0, eval_interval=200)  # ~10 min, 2 cores
QUICK = DEFAULTS | dict(max_iters=1100, batch_size=16, block_size=64, lr=2e-3, min_lr=2e-4, warmup_iters=50,
                        eval_interval=100)  # --quick: about 2 minutes
GPU = DEFAULTS | dict(max_iters=5000, batch_size=64, block_size=256, n_layer=6, n_head=6, n_embd=384, lr=1e-3,
                      min_lr=1e-4, dropout=0.2, eval_interval=250)  # --preset gpu
# --init-from replaces these of the mode's defaults; chosen on texts/python_special_names.txt's validation part (README)
FINE_TUNE = dict(max_iters=150, lr=1e-3, min_lr=1e-4, warmup_iters=15, eval_interval=25)
SHAPE = ("n_layer", "n_head", "n_embd", "block_size")  # fine-tuning keeps these and the tokenizer of its model
TRAIN_EVAL_WINDOWS = 400  # windows of the training split scored at each evaluation, evenly spread
SAMPLE_CHARS = 200  # at most; as many tokens are drawn
BPE_CHECK_CHARS = 20_000  # the textbook BPE loop is checked against the fast one on this much text
MEMORISING_GAP = 0.1  # bits per character of validation above training that the verdict calls memorising


# ----------------------------------------------------------------------------- a second kind of token: BPE

BYTES = 256  # the first BPE tokens: one per byte value


def most_frequent_pair(ids: list[int]) -> tuple[tuple[int, int], int]:
    """The adjacent pair seen most often and its count; ties go to the smallest pair (so any method agrees)."""
    counts = Counter(zip(ids, ids[1:]))
    pair = min(counts, key=lambda p: (-counts[p], p))
    return pair, counts[pair]


def merge(ids: list[int], pair: tuple[int, int], new: int) -> list[int]:
    """Every occurrence of ``pair`` replaced by ``new``, left to right (in "aaa", a+a merges once)."""
    out, i = [], 0
    while i < len(ids):
        if i + 1 < len(ids) and (ids[i], ids[i + 1]) == pair:
            out.append(new)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


def learn_merges(text: str, vocab_size: int) -> list[tuple[int, int]]:
    """BPE training as the algorithm reads: count all pairs, merge the most frequent, repeat.

    It stops early when no pair occurs twice: a merge that saves one token would only memorise.
    """
    ids = list(text.encode("utf-8"))
    merges = []
    for new in range(BYTES, vocab_size):
        if len(ids) < 2:
            break
        pair, count = most_frequent_pair(ids)
        if count < 2:
            break
        ids = merge(ids, pair, new)
        merges.append(pair)
    return merges


def merge_array(ids: np.ndarray, pair: tuple[int, int], new: int) -> np.ndarray:
    """``merge`` on a NumPy array: every position tested at once instead of one by one."""
    a, b = pair
    starts = (ids[:-1] == a) & (ids[1:] == b)  # where the pair begins
    if a == b:  # in a run a a a a the loop merges at its 1st, 3rd, ... position: drop the overlapping starts
        index = np.arange(len(starts))
        run_begins = starts & ~np.concatenate(([False], starts[:-1]))
        run_start = np.maximum.accumulate(np.where(run_begins, index, 0))
        starts &= (index - run_start) % 2 == 0
    out = ids.copy()
    out[:-1][starts] = new
    keep = np.ones(len(ids), dtype=bool)
    keep[1:][starts] = False  # the second half of every merged pair
    return out[keep]


def byte_ids(text: str) -> np.ndarray:
    """The UTF-8 bytes of ``text`` as token ids 0-255, in an array that merged ids above 255 fit in."""
    return np.frombuffer(text.encode("utf-8"), dtype=np.uint8).astype(np.int64)


def learn_merges_fast(text: str, vocab_size: int) -> list[tuple[int, int]]:
    """``learn_merges`` with every pair counted at once: pair (a, b) is the number a * vocab_size + b, and
    np.bincount counts them all; argmax takes the first largest count, the smallest pair - the same tie rule."""
    ids = byte_ids(text)
    merges = []
    for new in range(BYTES, vocab_size):
        if len(ids) < 2:
            break
        counts = np.bincount(ids[:-1] * vocab_size + ids[1:])
        code = int(counts.argmax())
        if counts[code] < 2:
            break
        pair = divmod(code, vocab_size)
        ids = merge_array(ids, pair, new)
        merges.append(pair)
    return merges


class BPETokenizer:
    """Byte-level BPE: ids 0-255 are bytes, id 256 + i is merge i, the pair of earlier tokens it joined.

    Encoding a new text replays the merges in the order they were learned; decoding joins each token's
    bytes. A token may hold part of a character (an é is two bytes, an emoji four): lesson 09 prints
    a stream of tokens through a decoder that waits for a character's last byte.
    """

    kind = "bpe"

    def __init__(self, merges: list[tuple[int, int]]):
        self.merges = [tuple(pair) for pair in merges]
        self.pieces = [bytes([i]) for i in range(BYTES)]
        for a, b in self.merges:
            self.pieces.append(self.pieces[a] + self.pieces[b])

    @classmethod
    def from_text(cls, text: str, vocab_size: int) -> "BPETokenizer":
        return cls(learn_merges_fast(text, vocab_size))

    def __len__(self) -> int:
        return len(self.pieces)

    def encode(self, text: str) -> list[int]:
        """The UTF-8 bytes, then every merge replayed in the order it was learned."""
        ids = byte_ids(text)
        for new, pair in enumerate(self.merges, start=BYTES):
            if len(ids) < 2:
                break
            ids = merge_array(ids, pair, new)
        return ids.tolist()

    def decode(self, ids: list[int]) -> str:
        # Bytes that form no character show as U+FFFD, '�': shown, not forbidden, so you see where the model erred.
        return b"".join(self.pieces[i] for i in ids).decode("utf-8", errors="replace")

    def unknown(self, text: str) -> str:
        return ""  # every text is bytes, and every byte is a token

    def token_bytes(self, i: int) -> bytes:
        return self.pieces[i]

    def to_dict(self) -> dict:
        return {"kind": self.kind, "merges": [list(pair) for pair in self.merges]}


Tokenizer = CharTokenizer | BPETokenizer


def characters_per_token(tokenizer: Tokenizer) -> torch.Tensor:
    """How many characters each token holds (vocab,): bits per character divide by their sum. A UTF-8 character is
    a leading byte and 0-3 continuation bytes (10xxxxxx): bytes that are not continuations count characters."""
    return torch.tensor([sum(byte & 0xC0 != 0x80 for byte in tokenizer.token_bytes(i)) for i in range(len(tokenizer))])


def show_bpe(train_text: str, val_text: str, vocab_size: int) -> BPETokenizer:
    """Learn BPE on the training text, show what it learned and how much it compresses, and return it."""
    start = time.perf_counter()
    bpe = BPETokenizer.from_text(train_text, vocab_size)
    stopped = "" if len(bpe) == vocab_size else " (it stopped early: no pair occurred twice any more)"
    print(f"Byte-pair encoding: {BYTES} bytes + {len(bpe.merges)} merges = {len(bpe)} tokens, learned from the "
          f"training text in {time.perf_counter() - start:.1f} s{stopped}")
    print(f"   the first merges: {merges_text(bpe, bpe.merges[:10])}")
    print(f"   the last merges:  {merges_text(bpe, bpe.merges[-5:])}")
    ids = bpe.encode(EXAMPLE)
    print(f"   {EXAMPLE!r} -> {[token_text(bpe, i) for i in ids]}: {len(ids)} tokens for {len(EXAMPLE)} characters")
    val_ids = bpe.encode(val_text)
    print(f"   the validation text: {len(val_text):,} characters -> {len(val_ids):,} tokens, "
          f"{len(val_text) / len(val_ids):.2f} characters per token")
    ids = bpe.encode(ODD)
    sizes = ", ".join(f"{ch!r} is {len(ch.encode('utf-8'))} bytes" for ch in dict.fromkeys(ODD) if ord(ch) > 127)
    print(f"   encode({ODD!r}) = {ids}: nothing is unknown, every byte has an id ({sizes}); decode gives "
          f"{bpe.decode(ids)!r}: " + ("the same text" if bpe.decode(ids) == ODD else "NOT the same text"))
    excerpt = train_text[:BPE_CHECK_CHARS]
    start = time.perf_counter()
    plain = learn_merges(excerpt, vocab_size)
    agree = "the same" if plain == learn_merges_fast(excerpt, vocab_size) else "DIFFERENT"
    print(f"   learn_merges, the loop as written, on the first {len(excerpt):,} characters: "
          f"{time.perf_counter() - start:.1f} s; learn_merges_fast learns {agree} {len(plain)} merges there\n")
    return bpe


def load_gpt(path: Path) -> tuple[GPT, Tokenizer, dict]:
    """The model (eval mode) and tokenizer a checkpoint of 08 holds, from the fields load_gpt_checkpoint checked."""
    checkpoint = load_gpt_checkpoint(path)
    data = checkpoint["tokenizer"]
    tokenizer = BPETokenizer(data["merges"]) if data["kind"] == "bpe" else CharTokenizer(data["vocab"])
    model = GPT(GPTConfig(**checkpoint["config"]))
    try:
        model.load_state_dict(checkpoint["state_dict"])
    except RuntimeError as error:  # a weight missing, or of another shape
        raise unusable(path, error) from None
    return model.eval(), tokenizer, checkpoint


# ----------------------------------------------------------------------------- training


def train_step(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, optimizer: torch.optim.Optimizer,
               grad_clip: float, precision: Precision) -> float:
    """zero_grad -> forward -> loss -> backward -> clip -> step; returns the batch loss (``precision``: see below)."""
    model.train()  # dropout on: evaluating and sampling switch the model to eval mode in between
    optimizer.zero_grad(set_to_none=True)
    with precision.autocast:
        logits = model(x)  # (B, T, vocab)
        loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), y.flatten())
    precision.scaler.scale(loss).backward()  # under DDP, backward also averages the gradients of all processes
    precision.scaler.unscale_(optimizer)  # clip the true gradients, not the scaled ones
    torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    precision.scaler.step(optimizer)
    precision.scaler.update()
    return loss.item()


def fit(model: GPT, train_ids: torch.Tensor, val_ids: torch.Tensor, tokenizer: Tokenizer, args, files: RunFiles,
        team: Team, precision: Precision) -> list[dict]:
    """The training loop: a step per batch, an evaluation every eval_interval steps, where ``files`` keeps a new
    best model and, always, what --resume needs to continue from there."""
    device = team.device
    # AdamW decaying weight matrices only: biases, LayerNorm and embeddings stay free (lesson 04's weight_decay_groups)
    optimizer = torch.optim.AdamW(weight_decay_groups(model, args.weight_decay), lr=args.lr)
    # torch.compile turns the model into generated kernels (the same weights); evaluation uses the plain model.
    replicas = team.wrap(torch.compile(model) if args.compile else model)  # a single process: the model itself
    generator = torch.Generator().manual_seed(args.seed)  # the same on every process: the same global batches
    # --resume: weights, optimizer and the generators of batches and dropout as the interrupted run left them
    history, first = files.restore(model, optimizer, generator) if args.resume else ([], 0)
    mine = slice(team.rank * args.batch_size, (team.rank + 1) * args.batch_size)  # this process's share of each
    train_eval, val_eval = train_ids.to(device), val_ids.to(device)  # copied to the device once, not per evaluation
    chars = characters_per_token(tokenizer)  # what bits per character divide by
    start, eval_seconds = time.perf_counter() - (history[-1]["seconds"] if history else 0.0), 0.0
    # "with" closes the bar on Ctrl-C or an error too, so the message that follows starts on a clean line
    with tqdm(range(first, args.max_iters), desc="training", unit="step", leave=False, delay=1, initial=first,
              total=args.max_iters, disable=not team.leads) as progress:
        for step in progress:
            lr = learning_rate(step, args.lr, args.min_lr, args.warmup_iters, args.max_iters)
            for group in optimizer.param_groups:
                group["lr"] = lr
            x, y = get_batch(train_ids, args.batch_size * team.size, args.block_size, generator)
            loss = train_step(replicas, x[mine].to(device), y[mine].to(device), optimizer, args.grad_clip, precision)
            loss = team.mean(loss)  # the global batch's loss, the same number on every process
            if not math.isfinite(loss):
                raise Diverged(f"the loss became {loss} at step {step + 1}; try a smaller --lr")
            progress.set_postfix(loss=f"{loss:.3f}", lr=f"{lr:.1e}", refresh=False)
            done = step + 1
            if done % args.eval_interval == 0 or done == args.max_iters:
                seconds = time.perf_counter() - start - eval_seconds  # training time only
                train = val = Score(math.nan, math.nan)
                if team.leads:
                    train = evaluate(model, train_eval, args.block_size, chars, TRAIN_EVAL_WINDOWS)
                    val = evaluate(model, val_eval, args.block_size, chars)
                # A step whose loss was finite can still blow the weights up: its evaluation shows it. Every
                # process hears the leader's verdict, so all of them stop together.
                if not team.leader_says(math.isfinite(train.bits_per_char + val.bits_per_char)):
                    raise Diverged(f"the loss became {train.nats_per_token} on training windows and "
                                   f"{val.nats_per_token} on validation at step {done}; try a smaller --lr")
                if not team.leads:
                    continue
                history.append({"step": done, "train_bpc": train.bits_per_char, "val_bpc": val.bits_per_char,
                                "train_loss": train.nats_per_token, "val_loss": val.nats_per_token, "lr": lr,
                                "seconds": seconds, "tokens": done * args.batch_size * team.size * args.block_size})
                saved = files.keep(val.bits_per_char, history, model, tokenizer, optimizer, generator)
                progress.write(f"   step {done:>5}  bits/char: train {train.bits_per_char:.4f}  val "
                               f"{val.bits_per_char:.4f}  (val {val.nats_per_token:.4f} nats/token)  "
                               f"{seconds:6.1f} s{'  * saved' if saved else ''}")
                written = sample_text(model, tokenizer, args.seed, SAMPLE_CHARS)
                progress.write("   | " + written.replace("\n", "\n   | "))
                eval_seconds = time.perf_counter() - start - seconds
    return history


# ----------------------------------------------------------------------------- bigger than a laptop


class Team:
    """The processes that train one model: a team of one when started plainly, N under torchrun.

    torchrun starts N copies of this script and tells each its RANK (0..N-1) and the WORLD_SIZE N. Each holds a
    replica of the model. Every step all of them draw the same global batch of N*B windows (the same seed) and each
    trains on its own B. The loss is a mean over the batch, so the global batch's gradient is the mean of the N
    shares' gradients: DistributedDataParallel computes exactly that during backward(), with an all-reduce (each
    process sends its gradients and receives the average). So every replica takes the same step, as one process
    would with a batch N times larger (the tests check it). The defaults are tuned for one process: a larger batch
    usually bears a larger learning rate. Only the leader, rank 0, evaluates, prints, samples and writes files. On
    CPUs the processes talk through gloo, on GPUs through NCCL.
    """

    def __init__(self, device: torch.device):
        self.rank, self.size = int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))
        self.leads, self.device = self.rank == 0, device
        if self.size == 1:
            return
        if device.type == "cuda":  # one GPU per process on each machine
            self.device = torch.device("cuda", int(os.environ["LOCAL_RANK"]))
            torch.cuda.set_device(self.device)
        elif device.type != "cpu":
            raise UserError(f"--device {device.type} cannot train with torchrun; use cpu or cuda")
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        if not self.leads:  # the leader speaks for the team (every process meets the same errors, too)
            sys.stdout = sys.stderr = open(os.devnull, "w")

    def wrap(self, model: GPT) -> torch.nn.Module:
        return DistributedDataParallel(model) if self.size > 1 else model  # DDP copies rank 0's weights to all

    def mean(self, value: float) -> float:
        """The average of ``value`` over the team (every process gets it)."""
        if self.size == 1:
            return value
        total = torch.tensor([value], dtype=torch.float64, device=self.device)
        dist.all_reduce(total)
        return total.item() / self.size

    def leader_says(self, verdict: bool) -> bool:
        """Rank 0's verdict, on every process: a decision to stop must reach them all, or the rest wait forever."""
        if self.size == 1:
            return verdict
        flag = torch.tensor([verdict], dtype=torch.uint8, device=self.device)
        dist.broadcast(flag, src=0)
        return bool(flag.item())

    def close(self, finished: bool) -> None:
        if self.size > 1:  # after a finished run, only once all are done: the leader may still be saving
            if finished:
                dist.barrier()
            dist.destroy_process_group()


class Precision:
    """How the forward pass computes: float32, or mixed precision on a GPU (bfloat16 or float16).

    Under autocast the big matrix products run in 16 bits, several times faster on a GPU; weights, gradients and
    optimizer stay in float32. float16's range is small (a tiny gradient rounds to 0), so the loss is scaled up
    before backward and the gradients back down before the step: the GradScaler. bfloat16 has float32's range.
    """

    def __init__(self, dtype: torch.dtype, device: torch.device):
        self.dtype = dtype
        self.autocast = torch.autocast(device.type, dtype=dtype, enabled=dtype != torch.float32)
        self.scaler = torch.amp.GradScaler(device.type, enabled=dtype == torch.float16)


# ------------------------------------------ plumbing: the checkpoint, the curves, the command line (not the lesson)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = lesson_parser(__doc__)
    parser.add_argument("--tokenizer", choices=["char", "bpe"], default="char",
                        help="one token per character, or byte-pair encoding learned from the training text")
    parser.add_argument("--vocab-size", type=bpe_vocab_size, default=512,
                        help="with --tokenizer bpe: the vocabulary, 256 bytes plus the merges learned")
    parser.add_argument("--quick", action="store_true",
                        help="a shorter run (about 2 minutes), a smaller context: --quick --help shows its defaults")
    parser.add_argument("--preset", choices=["gpu"],
                        help="gpu: nanoGPT's Shakespeare model for one GPU, 6 blocks x 6 heads, width 384, context "
                             "256, dropout 0.2 (--preset gpu --help shows all its defaults)")
    parser.add_argument("--init-from", type=Path, metavar="CHECKPOINT", help="fine-tune: start from this model of "
                        "08 (its weights, shape and tokenizer) with smaller steps (--init-from X --help shows them)")
    parser.add_argument("--resume", action="store_true", help="continue the interrupted run of the same flags from "
                        "its last evaluation (its state is saved beside --out, e.g. 08_gpt_<text>.resume.pt)")
    gpu, quick = given("--preset", argv) == "gpu", given("--quick", argv, action="store_true")
    mode = (GPU if gpu else QUICK if quick else DEFAULTS) | (FINE_TUNE if given("--init-from", argv) else {})
    add_gpt_arguments(parser, mode)  # the mode's defaults; flags override
    add_training_arguments(parser)  # the schedule's end, weight decay, clipping, dropout, evaluation, hardware, --out
    args = parse_gpt_args(parser, argv)
    if args.quick and args.preset:
        parser.error("--quick and --preset gpu are two different models; choose one")
    suffix = f"_from_{args.init_from.stem.removeprefix('08_gpt_')}" if args.init_from else ""
    suffix = suffix or "_bpe" * (args.tokenizer == "bpe")
    args.out = args.out or MODELS_DIR / f"08_gpt_{args.text.stem}{suffix}.pt"
    args.parent = args.init_from and load_gpt(args.init_from)  # (model, tokenizer, checkpoint) fine-tuning starts from
    if args.parent:
        keep_parent_flags(parser, args, argv, SHAPE)
    return args


def main() -> None:
    args = parse_args()
    team = Team(pick_device(args.device))  # one process, or this one's place among torchrun's
    device = team.device  # under torchrun on GPUs: this process's own GPU
    torch.set_num_threads(args.threads or max(1, use_cpu_cores() // int(os.environ.get("LOCAL_WORLD_SIZE", 1))))
    precision = Precision(pick_dtype(args.dtype, device), device)
    seed_everything(args.seed)  # the same on every process: the same initial weights and the same batches
    check_figure_writable(figure := f"08_{args.out.stem.removeprefix('08_gpt_')}_loss_curves")

    text = read_text(args.text, min_chars=20 * (args.block_size + 1))
    text_sha = hashlib.sha256(text.encode("utf-8")).hexdigest()
    prompt = text.lstrip().split("\n")[0][:30]  # the text's own first line: a start the model knows how to go on from
    previous = previous_best(args.out, text_sha)  # refuses, before any training, a file that is not ours to replace
    train_text, val_text = split_text(text)
    bpe = show_bpe(train_text, val_text, args.vocab_size)  # shown on every run: 08's second kind of token
    tokenizer = args.parent[1] if args.init_from else bpe if args.tokenizer == "bpe" else CharTokenizer.from_text(text)
    if unseen := tokenizer.unknown(text):  # only a character model trained on another text can meet one
        raise UserError(f"{args.text} has {len(unseen)} characters {args.init_from} never saw ({unseen[:12]!r}): a "
                        "character model cannot learn new ones; fine-tune a BPE model (bytes cover all) or drop them")
    train_ids, val_ids = (torch.tensor(tokenizer.encode(part), dtype=torch.long) for part in (train_text, val_text))
    if len(val_ids) <= args.block_size:
        raise UserError(f"{args.text}: its validation part is only {len(val_ids)} tokens, not more than one context "
                        f"of {args.block_size}; give a longer text or a smaller --block-size")
    config = GPTConfig(len(tokenizer), args.block_size, args.n_layer, args.n_head, args.n_embd, args.dropout)
    check_fits(partial(GPT, config), "this GPT")
    check_step_fits(config, args.batch_size)  # and one step's activations, before get_batch makes the batch
    model = GPT(config).to(device)
    if args.init_from:  # fine-tuning: the same training, from weights that already know spelling and words
        model.load_state_dict(args.parent[0].state_dict())
    print(f"{args.text.name}: {len(text):,} characters; {len(train_text):,} to train on, {len(val_text):,} to "
          f"validate on: {len(train_ids):,} and {len(val_ids):,} tokens of {describe(tokenizer)} "
          f"({len(val_text) / len(val_ids):.2f} characters per token)")
    print(f"   GPT: {args.n_layer} blocks x {args.n_head} heads, width {args.n_embd}, context {args.block_size}; "
          f"{model.num_parameters():,} parameters, on {device}"
          f"{f' ({torch.get_num_threads()} threads)' if device.type == 'cpu' else ''} in {str(precision.dtype)[6:]}"
          + (", compiled" if args.compile else ""))
    batch = args.batch_size * team.size  # the global batch: every process trains on its own share of it
    shares = f" ({team.size} processes x {args.batch_size})" if team.size > 1 else ""
    print(f"   AdamW lr {args.lr} (warm-up {args.warmup_iters} steps, cosine to {args.min_lr}), weight decay "
          f"{args.weight_decay}, clip {args.grad_clip}; {args.max_iters} steps x {batch} windows{shares} x "
          f"{args.block_size} tokens = {args.max_iters * batch * args.block_size:,} tokens seen")
    print(f"   a uniform guess scores ln {len(tokenizer)} = {math.log(len(tokenizer)):.3f} nats per token, "
          f"{math.log2(len(tokenizer)) * len(val_ids) / len(val_text):.3f} bits per character on this text"
          + "\n" * (not args.init_from or args.resume))
    if args.init_from and not args.resume:  # what the model it starts from already knows about this text
        before = evaluate(model, val_ids.to(device), args.block_size, characters_per_token(tokenizer)).bits_per_char
        print(f"   starting from {args.init_from} (trained on {args.parent[2].get('text')}): before any step it scores "
              f"{before:.4f} bits per character on this text's validation part\n")

    hyperparameters = {k: getattr(args, k) for k in HYPERPARAMETERS} | {"vocab_size": len(tokenizer),
        "processes": team.size, "dtype": str(precision.dtype)[6:], "init_from": args.init_from and str(args.init_from)}
    about = {"text": args.text.name, "text_sha256": text_sha, "prompt": prompt, "hyperparameters": hyperparameters,
             "characters_per_token": len(val_text) / len(val_ids)}
    # --resume: the interrupted run's state, read now; another run's, or none, is refused here, every file as it was
    files = RunFiles(args.out, math.inf if args.overwrite else previous, about, resume=args.resume)

    history = None
    try:
        history = fit(model, train_ids, val_ids, tokenizer, args, files, team, precision)
    except (KeyboardInterrupt, Diverged) as error:
        raise files.stopped(error) from None
    finally:
        team.close(finished=history is not None)
    if not team.leads:
        return
    files.finished()

    earliest, final, best = history[0], history[-1], files.best
    print(f"\n   {final['seconds']:.0f} s of training ({final['tokens'] / final['seconds']:,.0f} tokens per second), "
          f"{model.num_parameters():,} parameters")
    print(f"   this run's best, {min(h['val_bpc'] for h in history):.4f} bits per character, did not beat "
          f"{best['val_bpc']:.4f}: {args.out} is unchanged" if best["step"] is None else
          f"   best validation score {best['val_bpc']:.4f} bits per character ({best['val_loss']:.4f} nats per "
          f"token) at step {best['step']}: saved {args.out} and {args.out.with_suffix('.json').name}")
    # The gap and the passes, not only the gap's growth: a small text is learned by heart before the first score.
    gap, passes = final["val_bpc"] - final["train_bpc"], final["tokens"] / len(train_ids)
    seen = (f"after {passes:.1f} passes over the training text (at step {earliest['step']}: "
            f"{earliest['val_bpc'] - earliest['train_bpc']:+.3f})")
    print(f"   validation is {gap:.3f} bits/char worse than training {seen}: part of what it learned (names, phrases "
          "of the training text) does not carry over to new text" if gap > MEMORISING_GAP else
          f"   validation minus training is {gap:+.3f} bits/char {seen}: no sign of memorising yet")
    lowest = min(history, key=lambda h: h["val_bpc"])
    print("   the validation loss was still falling at the last evaluation: more steps would likely help"
          if lowest is final else f"   the validation loss bottomed out at step {lowest['step']}: later steps only "
          "fitted the training text")
    schedule = [learning_rate(step, args.lr, args.min_lr, args.warmup_iters, args.max_iters)
                for step in range(args.max_iters)]
    save_figure(plot_bits_per_char(history, schedule, f"{args.text.name}: {model.num_parameters():,}-parameter GPT, "
                                   f"{len(tokenizer)} {'BPE tokens' if args.tokenizer == 'bpe' else 'characters'}"),
                figure)
    print(f"   in the figure: the space between the two curves is that gap; below, the learning rate climbs for "
          f"{args.warmup_iters} steps, then falls along the cosine to {args.min_lr}")
    print(f"   next: python 09_use_llm.py --checkpoint {args.out} --prompt {shlex.quote(prompt)}")
    show_or_close(args.no_show)


if __name__ == "__main__":
    run(main)
