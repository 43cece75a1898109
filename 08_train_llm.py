"""Lesson 08 - train the transformer of lesson 07 properly, on Shakespeare, on a CPU.

Lesson 07 trained each rung for a few hundred steps to compare them. A real run
needs the habits every large language model is trained with, and each has a reason:

* **Random windows as mini-batches.** Each step draws B windows of T characters
  from anywhere in the training text. Every position of a window is one example
  (predict character t+1 from characters 0..t), so a batch holds B*T
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
* **Honest evaluation.** The loss is cross-entropy in nats per character,
  -ln p(correct next character); divided by ln 2 it is bits per character. A
  model that guessed uniformly among 65 characters would score ln 65 = 4.17.
  Validation covers the *whole* held-out 10% of the text, the same characters
  every time, and the training loss is measured the same way (eval mode, fixed
  windows from the training split), so the two curves compare like with like.
* **Keep the best.** A checkpoint is written (atomically) whenever the
  validation loss reaches a new low, with its JSON record beside it; Ctrl-C or
  a loss that blows up to inf or NaN leaves the last good pair intact. --out
  may only name a checkpoint of this lesson for the same text: anything else
  there is refused before training starts.

Run it:  python 08_train_llm.py               (about 6 minutes on 2 CPU cores)
         python 08_train_llm.py --quick       (about 2 minutes, a smaller model)
         python 08_train_llm.py --text my_book.txt
"""

from __future__ import annotations

import hashlib
import math
import time
from functools import partial
from pathlib import Path

import torch
from tqdm import tqdm

from common import MODELS_DIR, Diverged, UserError
from common.cli import (
    checkpoint_path,
    dropout_rate,
    fill_defaults,
    lesson_parser,
    non_negative_float,
    positive_float,
    positive_int,
    run,
    seed_everything,
)
from common.gpt import CHECKPOINT_FORMAT, GPT, GPTConfig, generate, save_gpt
from common.nets import CheckpointError, check_fits, pick_device, safe_torch_load, weight_decay_groups
from common.plotting import check_figure_writable, plt, save_figure, show_or_close
from common.records import check_replaceable, write_record
from common.schedule import learning_rate
from common.text import (
    SHAKESPEARE,
    CharTokenizer,
    evaluate,
    get_batch,
    read_text,
    split_ids,
)

DEFAULTS = {  # --help shows them; any flag overrides them
    "default": dict(n_layer=4, n_head=4, n_embd=128, block_size=128, batch_size=32, max_iters=1300, lr=2e-3,
                    min_lr=2e-4, warmup_iters=100, weight_decay=0.1, grad_clip=1.0, dropout=0.0, eval_interval=100),
    "quick": dict(n_layer=4, n_head=4, n_embd=128, block_size=64, batch_size=16, max_iters=1100, lr=2e-3,
                  min_lr=2e-4, warmup_iters=50, weight_decay=0.1, grad_clip=1.0, dropout=0.0, eval_interval=100),
}
TRAIN_EVAL_WINDOWS = 400  # windows of the training split scored at each evaluation, evenly spread
SAMPLE_CHARS = 200


def train_step(model: GPT, x: torch.Tensor, y: torch.Tensor, optimizer: torch.optim.Optimizer,
               grad_clip: float) -> float:
    """zero_grad -> forward -> loss -> backward -> clip -> step; returns the batch loss."""
    model.train()  # dropout on: evaluating and sampling switch the model to eval mode in between
    optimizer.zero_grad(set_to_none=True)
    logits = model(x)  # (B, T, vocab)
    loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), y.flatten())
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    optimizer.step()
    return loss.item()


def sample_text(model: GPT, tokenizer: CharTokenizer, seed: int, n: int = SAMPLE_CHARS) -> str:
    """A few lines of text from the model as it is now, always from the same start and seed."""
    generator = torch.Generator().manual_seed(seed)
    start = tokenizer.encode("\n")
    return tokenizer.decode(list(generate(model, start, n, temperature=0.8, generator=generator)))


def previous_best(path: Path, text_sha: str) -> float:
    """The validation loss of an earlier checkpoint of this lesson at ``path`` for the same text, or infinity.

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
    best = old.get("best_val_loss")
    return best if isinstance(best, float) and math.isfinite(best) else math.inf  # no valid score: nothing to keep


def fit(model: GPT, train_ids: torch.Tensor, val_ids: torch.Tensor, tokenizer: CharTokenizer, args,
        device: torch.device, save) -> list[dict]:
    """The training loop: a step per batch, an evaluation (and maybe a checkpoint) every eval_interval steps."""
    # AdamW decaying weight matrices only: biases, LayerNorm and embeddings stay free (common/nets.py, as in 04)
    optimizer = torch.optim.AdamW(weight_decay_groups(model, args.weight_decay), lr=args.lr)
    generator = torch.Generator().manual_seed(args.seed)
    train_eval, val_eval = train_ids.to(device), val_ids.to(device)  # copied to the device once, not per evaluation
    history, start, eval_seconds = [], time.perf_counter(), 0.0
    # "with" closes the bar on Ctrl-C or an error too, so the message that follows starts on a clean line
    with tqdm(range(args.max_iters), desc="training", unit="step", leave=False, delay=1) as progress:
        for step in progress:
            lr = learning_rate(step, args.lr, args.min_lr, args.warmup_iters, args.max_iters)
            for group in optimizer.param_groups:
                group["lr"] = lr
            x, y = get_batch(train_ids, args.batch_size, args.block_size, generator)
            loss = train_step(model, x.to(device), y.to(device), optimizer, args.grad_clip)
            if not math.isfinite(loss):
                raise Diverged(f"the loss became {loss} at step {step + 1}; try a smaller --lr")
            progress.set_postfix(loss=f"{loss:.3f}", lr=f"{lr:.1e}", refresh=False)
            done = step + 1
            if done % args.eval_interval == 0 or done == args.max_iters:
                seconds = time.perf_counter() - start - eval_seconds  # training time only
                train_loss = evaluate(model, train_eval, args.block_size, TRAIN_EVAL_WINDOWS)
                val_loss = evaluate(model, val_eval, args.block_size)
                # A step whose loss was finite can still blow the weights up: its evaluation shows it.
                if not math.isfinite(train_loss + val_loss):
                    raise Diverged(f"the validation loss became {val_loss} at step {done}; try a smaller --lr")
                history.append({"step": done, "train_loss": train_loss, "val_loss": val_loss, "lr": lr,
                                "seconds": seconds, "tokens": done * args.batch_size * args.block_size})
                saved = save(val_loss, history)
                progress.write(f"   step {done:>5}  train {train_loss:.4f}  val {val_loss:.4f} nats/char "
                               f"({val_loss / math.log(2):.3f} bits)  {seconds:6.1f} s{'  * saved' if saved else ''}")
                progress.write("   | " + sample_text(model, tokenizer, args.seed).replace("\n", "\n   | "))
                eval_seconds = time.perf_counter() - start - seconds
    return history


def plot_curves(history: list[dict], title: str) -> plt.Figure:
    steps = [h["step"] for h in history]
    fig, ax = plt.subplots(figsize=(8, 4.5))
    ax.plot(steps, [h["train_loss"] for h in history], "o-", label="train (fixed windows, eval mode)")
    ax.plot(steps, [h["val_loss"] for h in history], "o-", label="validation (the whole last 10%)")
    best = min(history, key=lambda h: h["val_loss"])
    ax.annotate(f"best {best['val_loss']:.3f}", (best["step"], best["val_loss"]), textcoords="offset points",
                xytext=(-60, 25), arrowprops={"arrowstyle": "->"})
    ax.set(xlabel="training step", ylabel="cross-entropy (nats per character)", title=title)
    lr_axis = ax.twinx()
    lr_axis.plot(steps, [h["lr"] for h in history], color="grey", ls=":", label="learning rate")
    lr_axis.set_ylabel("learning rate (dotted)")
    lr_axis.grid(False)
    ax.legend(loc="upper right")
    fig.tight_layout()
    return fig


def parse_args():
    parser = lesson_parser(__doc__)
    parser.add_argument("--text", type=Path, default=SHAKESPEARE, help="UTF-8 text file to train on")
    parser.add_argument("--quick", action="store_true", help="a shorter run (about 2 minutes) with a smaller context")
    for flag, kind, text in (("--max-iters", positive_int, "training steps"),
                             ("--batch-size", positive_int, "windows per step"),
                             ("--block-size", positive_int, "context length in characters"),
                             ("--n-layer", positive_int, "transformer blocks"),
                             ("--n-head", positive_int, "attention heads per block"),
                             ("--n-embd", positive_int, "width of the residual stream (a multiple of --n-head)"),
                             ("--lr", positive_float, "peak learning rate"),
                             ("--min-lr", positive_float, "learning rate at the end of the cosine"),
                             ("--warmup-iters", positive_int, "steps of linear warm-up"),
                             ("--weight-decay", non_negative_float, "AdamW's decoupled weight decay"),
                             ("--grad-clip", positive_float, "largest gradient norm"),
                             ("--dropout", dropout_rate, "dropout probability, in [0, 1)"),
                             ("--eval-interval", positive_int, "steps between evaluations")):
        key = flag[2:].replace("-", "_")
        parser.add_argument(flag, type=kind,
                            help=f"{text} (default {DEFAULTS['default'][key]}; --quick {DEFAULTS['quick'][key]})")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda", "mps"], default="auto",
                        help="where to train; auto picks an accelerator when there is one")
    parser.add_argument("--out", type=checkpoint_path, help="checkpoint path (default models/08_gpt_<text name>.pt)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace --out even if it holds a model of the same text with a lower validation loss")
    args = parser.parse_args()
    fill_defaults(args, DEFAULTS["quick" if args.quick else "default"])
    if args.n_embd % args.n_head:
        parser.error(f"--n-embd {args.n_embd} is not a multiple of --n-head {args.n_head}")
    args.out = args.out or MODELS_DIR / f"08_gpt_{args.text.stem}.pt"
    return args


def main() -> None:
    args = parse_args()
    seed_everything(args.seed)
    check_figure_writable(f"08_{args.text.stem}_loss_curves")
    device = pick_device(args.device)

    text = read_text(args.text, min_chars=20 * (args.block_size + 1))
    tokenizer = CharTokenizer.from_text(text)
    ids = torch.tensor(tokenizer.encode(text), dtype=torch.long)
    train_ids, val_ids = split_ids(ids)
    text_sha = hashlib.sha256(text.encode("utf-8")).hexdigest()
    config = GPTConfig(len(tokenizer), args.block_size, args.n_layer, args.n_head, args.n_embd, args.dropout)
    check_fits(partial(GPT, config), "this GPT")
    model = GPT(config).to(device)
    print(f"{args.text.name}: {len(text):,} characters, {len(tokenizer)} distinct; "
          f"{len(train_ids):,} to train on, {len(val_ids):,} to validate on")
    print(f"   GPT: {args.n_layer} blocks x {args.n_head} heads, width {args.n_embd}, context {args.block_size}; "
          f"{model.num_parameters():,} parameters, on {device}")
    print(f"   AdamW lr {args.lr} (warm-up {args.warmup_iters} steps, cosine to {args.min_lr}), weight decay "
          f"{args.weight_decay}, clip {args.grad_clip}; {args.max_iters} steps x {args.batch_size} windows x "
          f"{args.block_size} characters = {args.max_iters * args.batch_size * args.block_size:,} characters seen")
    print(f"   a uniform guess scores ln {len(tokenizer)} = {math.log(len(tokenizer)):.3f} nats per character\n")

    previous = previous_best(args.out, text_sha)  # refuses, before any training, a file that is not ours to replace
    to_beat = math.inf if args.overwrite else previous
    if math.isfinite(to_beat):
        print(f"   {args.out} already holds a model of this text with validation loss {to_beat:.4f}; "
              "it is replaced only by a better one (--overwrite to replace it anyway)\n")
    best = {"val_loss": to_beat, "step": None}
    hyperparameters = {k: getattr(args, k) for k in DEFAULTS["default"]} | {"seed": args.seed}

    def save(val_loss: float, history: list[dict]) -> bool:
        """A new best: the checkpoint and its record, written together so they always describe one model."""
        if val_loss >= best["val_loss"]:
            return False
        best.update(val_loss=val_loss, step=history[-1]["step"])
        save_gpt(args.out, model, tokenizer, best_val_loss=val_loss, best_step=best["step"], history=history,
                 hyperparameters=hyperparameters, text=args.text.name, text_sha256=text_sha)
        seconds = history[-1]["seconds"]
        write_record(args.out.with_suffix(".json"), {
            "lesson": "08", "text": args.text.name, "parameters": model.num_parameters(),
            "hyperparameters": hyperparameters, "history": history, "best_val_loss": val_loss,
            "best_step": best["step"], "train_seconds": seconds, "tokens_per_second": history[-1]["tokens"] / seconds})
        return True

    try:
        history = fit(model, train_ids, val_ids, tokenizer, args, device, save)
    except (KeyboardInterrupt, Diverged) as error:
        kept = f"the best so far, step {best['step']}, is in {args.out}" if best["step"] else f"{args.out} is as it was"
        reason = "interrupted" if isinstance(error, KeyboardInterrupt) else str(error)
        raise UserError(f"{reason}: {kept}") from None

    seconds = history[-1]["seconds"]
    tokens_per_s = history[-1]["tokens"] / seconds
    print(f"\n   {seconds:.0f} s of training ({tokens_per_s:,.0f} characters per second), "
          f"{model.num_parameters():,} parameters")
    if best["step"] is None:
        print(f"   this run's best validation loss, {min(h['val_loss'] for h in history):.4f}, did not beat "
              f"{best['val_loss']:.4f}: {args.out} is unchanged")
    else:
        print(f"   best validation loss {best['val_loss']:.4f} nats/char ({best['val_loss'] / math.log(2):.3f} bits) "
              f"at step {best['step']}: saved {args.out} and {args.out.with_suffix('.json').name}")
    first, final = history[0], history[-1]
    gap_first, gap_final = first["val_loss"] - first["train_loss"], final["val_loss"] - final["train_loss"]
    if gap_final > gap_first + 0.05:
        print(f"   validation minus train grew from {gap_first:+.3f} (step {first['step']}) to {gap_final:+.3f}: "
              "part of what it learned (names, phrases of the training plays) does not carry over to new text")
    else:
        print(f"   validation minus train went from {gap_first:+.3f} to {gap_final:+.3f}: no sign of memorising yet")
    lowest = min(history, key=lambda h: h["val_loss"])
    if lowest is final:
        print("   the validation loss was still falling at the last evaluation: more steps would likely help")
    else:
        print(f"   the validation loss bottomed out at step {lowest['step']}: later steps only fitted the training text")
    save_figure(plot_curves(history, f"{args.text.name}: {model.num_parameters():,}-parameter GPT"),
                f"08_{args.text.stem}_loss_curves")
    print(f"   next: python 09_use_llm.py --checkpoint {args.out} --prompt 'ROMEO:'")
    show_or_close(args.no_show)


if __name__ == "__main__":
    run(main)
