"""Lesson 08 - train the transformer of lesson 07 properly, on Shakespeare: on a CPU, a GPU, or many.

Lesson 07 trained each rung for a few hundred steps to compare them. A real run
needs the habits every large language model is trained with, and each has a reason:

* **Random windows as mini-batches.** Each step draws B windows of T tokens
  from anywhere in the training text. Every position of a window is one example
  (predict token t+1 from tokens 0..t), so a batch holds B*T
  predictions, and its gradient is a noisy but cheap estimate of the gradient
  over the whole text.
* **AdamW.** Adam scales each weight's step by a running estimate of its
  gradient's size; the "W" is *decoupled* weight decay: at every step each
  weight matrix also shrinks by lr * wd * w (PyTorch does this just before
  applying the Adam update). (An L2 penalty added to the loss
  would instead pass through Adam's per-weight scaling and decay weights with
  large gradients less.) Biases, LayerNorm gains and embeddings are not decayed.
* **Warm-up, then cosine decay.** Adam's early moment estimates are poor, so
  the learning rate climbs linearly for the first steps; afterwards it follows
      lr(t) = min_lr + (max_lr - min_lr) * (1 + cos(pi * progress)) / 2
  from max_lr down to min_lr: big steps while far from a minimum, small ones near it.
* **Gradient clipping.** If the gradient's norm ||g|| exceeds c, it is scaled
  to c * g / ||g||: one unlucky batch cannot throw the weights far away.
* **Honest evaluation, in bits per character.** The model trains on
  cross-entropy, -ln p(correct next token), in nats per token. But a token is a
  character for one tokenizer and two for another, so scores are reported per
  character: the total nats over the validation text, divided by its number of
  characters and by ln 2. Bits per character compare any two models of one
  text, whatever their tokens (a uniform guess among Shakespeare's 65
  characters scores log2 65 = 6.02). Validation covers the *whole* held-out
  10% of the text, the same characters every time, and the training loss is
  measured the same way (eval mode, fixed windows from the training split), so
  the two curves compare like with like.
* **Characters or BPE tokens** (--tokenizer, lesson 07's two). The text is
  split 90/10 first, so both validate on the same characters, and BPE learns
  its merges from the training part only. A BPE model reads about twice as
  many characters per step, from a context of as many tokens, but chooses
  among --vocab-size tokens at each one: benchmarks/tokenizers.py trains both
  for the same time and the README gives the result.
* **Keep the best.** A checkpoint is written (atomically) whenever the
  validation bits per character reach a new low, with its JSON record beside it; Ctrl-C or
  a loss that blows up to inf or NaN leaves the last good pair intact. --out
  may only name a checkpoint of this lesson for the same text: anything else
  there is refused before training starts.

**Bigger than a laptop** (the section "bigger than a laptop" of the code):

* **Data parallelism.** torchrun starts N copies of this script, each with a
  replica of the model. Every step, all of them draw the same global batch of
  N*B windows (same seed) and each trains on its own B. The loss is a mean
  over the batch, so the gradient of the global batch is the mean of the N
  shares' gradients: DistributedDataParallel computes exactly that during
  backward(), with an *all-reduce* (every process sends its gradients and
  receives the average). So every replica takes the same step, and N
  processes train one model as one process would with a batch N times larger
  (the tests check the losses agree). A larger batch gives a less noisy
  gradient, which usually bears a larger learning rate (often raised with the
  batch's square root, then checked on validation); the defaults here are
  tuned for one process. Only rank 0 evaluates, prints, samples and writes the
  checkpoint, so no two processes ever write one file. On CPUs the processes
  talk through the gloo backend, on GPUs through NCCL.
* **Mixed precision** (--dtype, on a GPU). The forward pass runs under
  torch.autocast, so the large matrix products use 16-bit numbers, which a GPU
  multiplies several times faster; weights, gradients and the optimizer stay
  in float32. bfloat16 keeps float32's range; float16 does not, so its loss is
  scaled up before backward and the gradients scaled back before the step.
  --compile hands the model to torch.compile, which fuses its operations.

Run it:  python 08_train_llm.py               (about 9 minutes on 2 CPU cores)
         python 08_train_llm.py --quick       (about 2 minutes, a smaller model)
         python 08_train_llm.py --tokenizer bpe   (byte-pair tokens: models/08_gpt_tinyshakespeare_bpe.pt)
         python 08_train_llm.py --text my_book.txt
         python 08_train_llm.py --preset gpu  (nanoGPT's GPU-sized model, on one GPU)
         torchrun --standalone --nproc_per_node=2 08_train_llm.py --quick   (2 processes, one model)
"""

from __future__ import annotations

import argparse
import hashlib
import math
import os
import sys
import time
from dataclasses import asdict
from functools import partial
from pathlib import Path

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from common import MODELS_DIR, Diverged, UserError
from common.cli import (
    bpe_vocab_size,
    check_memory,
    checkpoint_path,
    dropout_rate,
    given,
    lesson_parser,
    non_negative_float,
    positive_float,
    positive_int,
    run,
    seed_everything,
)
from common.lessons import lesson
from common.checkpoints import CheckpointError, safe_torch_load
from common.devices import check_fits, pick_device, use_cpu_cores
from common.plotting import check_figure_writable, plt, save_figure, show_or_close
from common.records import check_replaceable, save_torch, write_record
from common.schedule import learning_rate
from common.text import SHAKESPEARE, Score, evaluate, get_batch, read_text, split_text
from common.tokenizers import BPETokenizer, CharTokenizer, Tokenizer, characters_per_token

_07 = lesson("07_simple_llm")  # the GPT this lesson trains, and its plain writing loop
GPT, GPTConfig, sample = _07.GPT, _07.GPTConfig, _07.sample
weight_decay_groups = lesson("04_neural_network_training").weight_decay_groups

# The flags the record keeps, beside the vocabulary's size, the number of processes and the precision they ran in
HYPERPARAMETERS = ("tokenizer", "n_layer", "n_head", "n_embd", "block_size", "batch_size", "max_iters",
                   "lr", "min_lr", "warmup_iters", "weight_decay", "grad_clip", "dropout", "eval_interval", "seed",
                   "compile")
# The defaults of each mode, one dict each (as nanoGPT's config/*.py); any flag overrides them. The default run
# and --quick were chosen on validation loss for 2 CPU cores (benchmarks/targets.py measures them); the gpu
# preset is nanoGPT's train_shakespeare_char.
DEFAULTS = dict(max_iters=2000, batch_size=32, block_size=128, n_layer=4, n_head=4, n_embd=128, lr=3e-3, min_lr=3e-4,
                warmup_iters=100, dropout=0.0, eval_interval=200)  # about 9 minutes on 2 CPU cores
QUICK = DEFAULTS | dict(max_iters=1100, batch_size=16, block_size=64, lr=2e-3, min_lr=2e-4, warmup_iters=50,
                        eval_interval=100)  # --quick: about 2 minutes
GPU = DEFAULTS | dict(max_iters=5000, batch_size=64, block_size=256, n_layer=6, n_head=6, n_embd=384, lr=1e-3,
                      min_lr=1e-4, dropout=0.2, eval_interval=250)  # --preset gpu
TRAIN_EVAL_WINDOWS = 400  # windows of the training split scored at each evaluation, evenly spread
SAMPLE_CHARS = 200  # at most; as many tokens are drawn


def train_step(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, optimizer: torch.optim.Optimizer,
               grad_clip: float, precision: Precision) -> float:
    """zero_grad -> forward -> loss -> backward -> clip -> step; returns the batch loss.

    ``precision`` is float32 on a CPU, where its two lines do nothing; on a GPU see "Mixed precision" above.
    """
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


def sample_text(model: GPT, tokenizer: Tokenizer, seed: int, n: int = SAMPLE_CHARS) -> str:
    """A few lines of text from the model as it is now, always from the same start and seed."""
    generator = torch.Generator().manual_seed(seed)
    start = tokenizer.encode("\n")
    return tokenizer.decode(sample(model, start, n, temperature=0.8, generator=generator))[:n]


def previous_best(path: Path, text_sha: str) -> float:
    """The validation bits per character of an earlier checkpoint of this lesson at ``path`` for the same text,
    or infinity.

    Anything else at ``path`` or beside it (another text's model, lesson 04's checkpoint, a corrupt file) is
    not ours to replace: refused in one line, before any training.
    """
    check_replaceable(path, "08")
    if not path.exists():
        return math.inf
    try:
        old = safe_torch_load(path, CHECKPOINT_FORMAT, "08_train_llm.py")
    except CheckpointError as error:
        raise UserError(f"{error}; refusing to replace it (choose another --out)") from None
    if old.get("text_sha256") != text_sha:
        raise UserError(f"{path} holds a model of another text ({old.get('text')}); refusing to replace it "
                        "(choose another --out)")
    best = old.get("best_val_bpc")
    return best if isinstance(best, float) and math.isfinite(best) else math.inf  # no valid score: nothing to keep


def fit(model: GPT, train_ids: torch.Tensor, val_ids: torch.Tensor, tokenizer: Tokenizer, args, save,
        team: Team, precision: Precision) -> list[dict]:
    """The training loop: a step per batch, an evaluation (and maybe a checkpoint) every eval_interval steps."""
    device = team.device
    # AdamW decaying weight matrices only: biases, LayerNorm and embeddings stay free (lesson 04's weight_decay_groups)
    optimizer = torch.optim.AdamW(weight_decay_groups(model, args.weight_decay), lr=args.lr)
    # torch.compile turns the model into generated kernels (the same weights); evaluation uses the plain model.
    replicas = team.wrap(torch.compile(model) if args.compile else model)  # a single process: the model itself
    generator = torch.Generator().manual_seed(args.seed)  # the same on every process: the same global batches
    mine = slice(team.rank * args.batch_size, (team.rank + 1) * args.batch_size)  # this process's share of each
    train_eval, val_eval = train_ids.to(device), val_ids.to(device)  # copied to the device once, not per evaluation
    chars = characters_per_token(tokenizer)  # what bits per character divide by
    history, start, eval_seconds = [], time.perf_counter(), 0.0
    # "with" closes the bar on Ctrl-C or an error too, so the message that follows starts on a clean line
    with tqdm(range(args.max_iters), desc="training", unit="step", leave=False, delay=1,
              disable=not team.leads) as progress:
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
                    raise Diverged(f"the validation loss became {val.nats_per_token} at step {done}; "
                                   "try a smaller --lr")
                if not team.leads:
                    continue
                history.append({"step": done, "train_bpc": train.bits_per_char, "val_bpc": val.bits_per_char,
                                "train_loss": train.nats_per_token, "val_loss": val.nats_per_token, "lr": lr,
                                "seconds": seconds,
                                "tokens": done * args.batch_size * team.size * args.block_size})
                saved = save(val.bits_per_char, history)
                progress.write(f"   step {done:>5}  bits/char: train {train.bits_per_char:.4f}  val "
                               f"{val.bits_per_char:.4f}  (val {val.nats_per_token:.4f} nats/token)  "
                               f"{seconds:6.1f} s{'  * saved' if saved else ''}")
                progress.write("   | " + sample_text(model, tokenizer, args.seed).replace("\n", "\n   | "))
                eval_seconds = time.perf_counter() - start - seconds
    return history


# ----------------------------------------------------------------------------- bigger than a laptop


class Team:
    """The processes that train one model: a team of one when started plainly, N under torchrun.

    torchrun starts N copies of this script and tells each its RANK (0..N-1) and the WORLD_SIZE N.
    Each holds a replica of the model; DistributedDataParallel averages the gradients of all of them
    (an all-reduce) during backward(), so every replica takes the same step. Only the leader, rank 0,
    evaluates, prints, samples and writes files: one process owns every output.
    """

    def __init__(self, device: torch.device):
        self.rank, self.size = int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))
        self.leads, self.device = self.rank == 0, device
        if self.size == 1:
            return
        if device.type == "cuda":  # one GPU per process on each machine
            self.device = torch.device("cuda", int(os.environ["LOCAL_RANK"]))
            torch.cuda.set_device(self.device)
        elif device.type == "cpu":  # the cores are shared out: more threads than cores make every product wait
            torch.set_num_threads(max(1, use_cpu_cores() // int(os.environ["LOCAL_WORLD_SIZE"])))
        else:
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

    def wait_for_all(self) -> None:
        if self.size > 1:
            dist.barrier()

    def close(self) -> None:
        if self.size > 1:
            dist.destroy_process_group()


def pick_dtype(name: str, device: torch.device) -> torch.dtype:
    """auto: bfloat16 on a GPU that supports it, else float32. float16 needs CUDA, where its GradScaler runs."""
    if name == "auto":
        return torch.bfloat16 if device.type == "cuda" and torch.cuda.is_bf16_supported() else torch.float32
    if name == "float16" and device.type != "cuda":
        raise UserError(f"--dtype float16 needs a CUDA GPU, and this run is on {device.type}: "
                        "use float32 or bfloat16")
    return getattr(torch, name)


class Precision:
    """How the forward pass computes: float32, or mixed precision on a GPU (bfloat16 or float16).

    Under autocast the big matrix products run in 16 bits, which a GPU does several times faster, while
    the weights, their gradients and the optimizer stay in float32. float16's range is small: a tiny
    gradient would round to 0, so the loss is multiplied by a large factor before backward and the
    gradients divided by it before the step (the GradScaler); bfloat16 has float32's range and needs none.
    """

    def __init__(self, dtype: torch.dtype, device: torch.device):
        self.dtype = dtype
        self.autocast = torch.autocast(device.type, dtype=dtype, enabled=dtype != torch.float32)
        self.scaler = torch.amp.GradScaler(device.type, enabled=dtype == torch.float16)


# ------------------------------------------ plumbing: the checkpoint, the curves, the command line (not the lesson)

CHECKPOINT_FORMAT = "nn-tutorial-gpt/2"  # /2: the tokenizer stored as plain data, scores in bits per character
DEFAULT_CHECKPOINT = MODELS_DIR / f"08_gpt_{SHAKESPEARE.stem}.pt"  # what this lesson writes by default


def save_gpt(path: Path, model: GPT, tokenizer: Tokenizer, **extra) -> None:
    """Tensors, the config, the tokenizer as plain data (its characters or its merges) and plain values only;
    written atomically."""
    checkpoint = {"format": CHECKPOINT_FORMAT, "config": asdict(model.config), "tokenizer": tokenizer.to_dict(),
                  "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()}, **extra}
    save_torch(path, checkpoint)




def plot_curves(history: list[dict], title: str) -> plt.Figure:
    steps = [h["step"] for h in history]
    fig, ax = plt.subplots(figsize=(8, 4.5))
    ax.plot(steps, [h["train_bpc"] for h in history], "o-", label="train (fixed windows, eval mode)")
    ax.plot(steps, [h["val_bpc"] for h in history], "o-", label="validation (the whole last 10%)")
    best = min(history, key=lambda h: h["val_bpc"])
    ax.annotate(f"best {best['val_bpc']:.3f}", (best["step"], best["val_bpc"]), textcoords="offset points",
                xytext=(-60, 25), arrowprops={"arrowstyle": "->"})
    ax.set(xlabel="training step", ylabel="cross-entropy (bits per character)", title=title)
    lr_axis = ax.twinx()
    lr_axis.plot(steps, [h["lr"] for h in history], color="grey", ls=":", label="learning rate")
    lr_axis.set_ylabel("learning rate (dotted)")
    lr_axis.grid(False)
    ax.legend(loc="upper right")
    fig.tight_layout()
    return fig


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = lesson_parser(__doc__)
    parser.add_argument("--text", type=Path, default=SHAKESPEARE, help="UTF-8 text file to train on")
    parser.add_argument("--tokenizer", choices=["char", "bpe"], default="char",
                        help="one token per character, or byte-pair encoding learned from the training text")
    parser.add_argument("--vocab-size", type=bpe_vocab_size, default=512,
                        help="with --tokenizer bpe: the vocabulary, 256 bytes plus the merges learned")
    parser.add_argument("--quick", action="store_true",
                        help="a shorter run (about 2 minutes), a smaller context: --quick --help shows its defaults")
    parser.add_argument("--preset", choices=["gpu"],
                        help="gpu: nanoGPT's Shakespeare model for one GPU, 6 blocks x 6 heads, width 384, context "
                             "256, dropout 0.2 (--preset gpu --help shows all its defaults)")
    parser.add_argument("--max-iters", type=positive_int, help="training steps")
    parser.add_argument("--batch-size", type=positive_int, help="windows per step (per process, under torchrun)")
    parser.add_argument("--block-size", type=positive_int, help="context length in tokens")
    parser.add_argument("--n-layer", type=positive_int, help="transformer blocks")
    parser.add_argument("--n-head", type=positive_int, help="attention heads per block")
    parser.add_argument("--n-embd", type=positive_int, help="width of the residual stream (a multiple of --n-head)")
    parser.add_argument("--lr", type=positive_float, help="peak learning rate")
    parser.add_argument("--min-lr", type=positive_float, help="learning rate at the end of the cosine")
    parser.add_argument("--warmup-iters", type=positive_int, help="steps of linear warm-up")
    parser.add_argument("--weight-decay", type=non_negative_float, default=0.1, help="AdamW's decoupled weight decay")
    parser.add_argument("--grad-clip", type=positive_float, default=1.0, help="largest gradient norm")
    parser.add_argument("--dropout", type=dropout_rate, help="dropout probability, in [0, 1)")
    parser.add_argument("--eval-interval", type=positive_int, help="steps between evaluations")
    gpu, quick = given("--preset", argv) == "gpu", given("--quick", argv, action="store_true")
    parser.set_defaults(**(GPU if gpu else QUICK if quick else DEFAULTS))  # the mode's defaults; any flag overrides
    parser.add_argument("--dtype", choices=["auto", "float32", "bfloat16", "float16"], default="auto",
                        help="the forward pass's precision; auto is bfloat16 on a GPU that has it, else float32 "
                             "(float16 needs a CUDA GPU)")
    parser.add_argument("--compile", action="store_true",
                        help="run the model through torch.compile (worth it on a GPU; a CPU needs a C++ compiler)")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda", "mps"], default="auto",
                        help="where to train; auto picks an accelerator when there is one")
    parser.add_argument("--out", type=checkpoint_path,
                        help="checkpoint path (default models/08_gpt_<text name>.pt, or _bpe.pt with --tokenizer bpe)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace --out even if it holds a model of the same text that scored better")
    args = parser.parse_args(argv)
    if args.quick and args.preset:
        parser.error("--quick and --preset gpu are two different models; choose one")
    if args.n_embd % args.n_head:
        parser.error(f"--n-embd {args.n_embd} is not a multiple of --n-head {args.n_head}")
    args.out = args.out or MODELS_DIR / f"08_gpt_{args.text.stem}{'_bpe' if args.tokenizer == 'bpe' else ''}.pt"
    return args


def make_tokenizer(args: argparse.Namespace, text: str, train_text: str) -> Tokenizer:
    """Lesson 07's tokenizers: every character of the text, or BPE merges learned from the training part only."""
    if args.tokenizer == "char":
        return CharTokenizer.from_text(text)
    start = time.perf_counter()
    tokenizer = BPETokenizer.from_text(train_text, args.vocab_size)
    print(f"BPE: {len(tokenizer.merges)} merges learned from the training text in {time.perf_counter() - start:.1f} s")
    return tokenizer


def main() -> None:
    args = parse_args()
    team = Team(pick_device(args.device))  # one process, or this one's place among torchrun's
    device = team.device
    precision = Precision(pick_dtype(args.dtype, device), device)
    seed_everything(args.seed)  # the same on every process: the same initial weights and the same batches
    figure = f"08_{args.out.stem.removeprefix('08_gpt_')}_loss_curves"
    check_figure_writable(figure)

    text = read_text(args.text, min_chars=20 * (args.block_size + 1))
    text_sha = hashlib.sha256(text.encode("utf-8")).hexdigest()
    previous = previous_best(args.out, text_sha)  # refuses, before any training, a file that is not ours to replace
    train_text, val_text = split_text(text)
    tokenizer = make_tokenizer(args, text, train_text)
    train_ids, val_ids = (torch.tensor(tokenizer.encode(part), dtype=torch.long) for part in (train_text, val_text))
    if len(val_ids) <= args.block_size:
        raise UserError(f"{args.text}: its validation part is only {len(val_ids)} tokens, not more than one context "
                        f"of {args.block_size}; give a longer text or a smaller --block-size")
    config = GPTConfig(len(tokenizer), args.block_size, args.n_layer, args.n_head, args.n_embd, args.dropout)
    check_fits(partial(GPT, config), "this GPT")
    # And one step's activations, before get_batch makes the batch: for each of its batch x block tokens about
    # 20 numbers of width n_embd per block are kept for the backward pass, and three per logit.
    per_token = 4 * (20 * args.n_embd * args.n_layer + 3 * len(tokenizer)) + 16
    check_memory(args.batch_size * args.block_size * per_token,
                 f"--batch-size {args.batch_size} x --block-size {args.block_size}: one training step needs")
    model = GPT(config).to(device)
    print(f"{args.text.name}: {len(text):,} characters; {len(train_text):,} to train on, {len(val_text):,} to "
          f"validate on: {len(train_ids):,} and {len(val_ids):,} tokens ({len(val_text) / len(val_ids):.2f} "
          "characters per token)")
    print(f"   GPT: {args.n_layer} blocks x {args.n_head} heads, width {args.n_embd}, context {args.block_size}; "
          f"{model.num_parameters():,} parameters, on {device} in {str(precision.dtype)[6:]}"
          + (", compiled" if args.compile else ""))
    batch = args.batch_size * team.size  # the global batch: every process trains on its own share of it
    shares = f" ({team.size} processes x {args.batch_size})" if team.size > 1 else ""
    print(f"   AdamW lr {args.lr} (warm-up {args.warmup_iters} steps, cosine to {args.min_lr}), weight decay "
          f"{args.weight_decay}, clip {args.grad_clip}; {args.max_iters} steps x {batch} windows{shares} x "
          f"{args.block_size} tokens = {args.max_iters * batch * args.block_size:,} tokens seen")
    print(f"   a uniform guess scores ln {len(tokenizer)} = {math.log(len(tokenizer)):.3f} nats per token\n")

    to_beat = math.inf if args.overwrite else previous
    if math.isfinite(to_beat):
        print(f"   {args.out} already holds a model of this text that scored {to_beat:.4f} bits per character; "
              "it is replaced only by a better one (--overwrite to replace it anyway)\n")
    best = {"val_bpc": to_beat, "step": None}
    hyperparameters = {k: getattr(args, k) for k in HYPERPARAMETERS} | {
        "vocab_size": len(tokenizer), "processes": team.size, "dtype": str(precision.dtype)[6:]}

    def save(val_bpc: float, history: list[dict]) -> bool:
        """A new best: the checkpoint and its record, written together so they always describe one model."""
        if val_bpc >= best["val_bpc"]:
            return False
        best.update(val_bpc=val_bpc, val_loss=history[-1]["val_loss"], step=history[-1]["step"])
        scores = {"best_val_bpc": val_bpc, "best_val_loss": best["val_loss"], "best_step": best["step"]}
        save_gpt(args.out, model, tokenizer, **scores, history=history, hyperparameters=hyperparameters,
                 text=args.text.name, text_sha256=text_sha)
        seconds = history[-1]["seconds"]
        write_record(args.out.with_suffix(".json"), {
            "lesson": "08", "text": args.text.name, "parameters": model.num_parameters(),
            "characters_per_token": len(val_text) / len(val_ids), "hyperparameters": hyperparameters,
            "history": history, **scores, "train_seconds": seconds,
            "tokens_per_second": history[-1]["tokens"] / seconds})
        return True

    try:
        history = fit(model, train_ids, val_ids, tokenizer, args, save, team, precision)
        team.wait_for_all()  # the leader may still be evaluating and saving: none leaves the group before it
    except (KeyboardInterrupt, Diverged) as error:
        kept = f"the best so far, step {best['step']}, is in {args.out}" if best["step"] else f"{args.out} is as it was"
        reason = "interrupted" if isinstance(error, KeyboardInterrupt) else str(error)
        raise UserError(f"{reason}: {kept}") from None
    finally:
        team.close()
    if not team.leads:
        return

    seconds = history[-1]["seconds"]
    tokens_per_s = history[-1]["tokens"] / seconds
    print(f"\n   {seconds:.0f} s of training ({tokens_per_s:,.0f} tokens per second), "
          f"{model.num_parameters():,} parameters")
    if best["step"] is None:
        print(f"   this run's best, {min(h['val_bpc'] for h in history):.4f} bits per character, did not beat "
              f"{best['val_bpc']:.4f}: {args.out} is unchanged")
    else:
        print(f"   best validation score {best['val_bpc']:.4f} bits per character ({best['val_loss']:.4f} nats per "
              f"token) at step {best['step']}: saved {args.out} and {args.out.with_suffix('.json').name}")
    first, final = history[0], history[-1]
    gap_first, gap_final = first["val_bpc"] - first["train_bpc"], final["val_bpc"] - final["train_bpc"]
    if gap_final > gap_first + 0.07:  # bits per character, about 0.05 nats
        print(f"   validation minus train grew from {gap_first:+.3f} (step {first['step']}) to {gap_final:+.3f}: "
              "part of what it learned (names, phrases of the training plays) does not carry over to new text")
    else:
        print(f"   validation minus train went from {gap_first:+.3f} to {gap_final:+.3f}: no sign of memorising yet")
    lowest = min(history, key=lambda h: h["val_bpc"])
    if lowest is final:
        print("   the validation loss was still falling at the last evaluation: more steps would likely help")
    else:
        print(f"   the validation loss bottomed out at step {lowest['step']}: later steps only fitted the training "
              "text")
    save_figure(plot_curves(history, f"{args.text.name}: {model.num_parameters():,}-parameter GPT, "
                                     f"{len(tokenizer)} {'BPE tokens' if args.tokenizer == 'bpe' else 'characters'}"),
                figure)
    print(f"   next: python 09_use_llm.py --checkpoint {args.out} --prompt 'ROMEO:'")
    show_or_close(args.no_show)


if __name__ == "__main__":
    run(main)
