"""The command-line contract every lesson follows. Plumbing: no lesson teaches it.

``--seed`` makes a run reproducible, ``--no-show`` keeps windows closed, flag
values that make no sense are refused by argparse in one line, and any
:class:`~common.UserError` ends the script with one line and exit code 1.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
from pathlib import Path
from typing import Callable

import numpy as np

from common import UserError
from common.text import SHAKESPEARE


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Show defaults in --help and keep the docstring's line breaks."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        # "(default: None)" says nothing: those flags describe their per-data-set defaults themselves.
        if action.default is None or action.default is False:
            return action.help
        return super()._get_help_string(action)


def lesson_parser(doc: str | None) -> argparse.ArgumentParser:
    """An ArgumentParser whose description is the first paragraph of the lesson's docstring."""
    summary = (doc or "").strip().split("\n\n")[0]
    # No abbreviated flags: given() reads one flag early, and must read it exactly as the full parse does.
    parser = argparse.ArgumentParser(description=summary, formatter_class=_HelpFormatter, allow_abbrev=False)
    parser.add_argument("--seed", type=seed_number, default=0,
                        help="random seed: the same seed prints the same numbers")
    parser.add_argument("--no-show", action="store_true", help="save figures without opening windows")
    return parser


def add_mnist_arguments(parser: argparse.ArgumentParser) -> None:
    """--data-dir and --download, for lessons that can train on MNIST."""
    parser.add_argument("--data-dir", type=Path, help="folder with the four MNIST IDX .gz files (default data/mnist)")
    parser.add_argument("--download", action="store_true", help="fetch MNIST into --data-dir first if missing")


def add_device_argument(parser: argparse.ArgumentParser) -> None:
    """--device, for lessons 04 and 08, which train on whatever there is."""
    parser.add_argument("--device", choices=["auto", "cpu", "cuda", "mps"], default="auto",
                        help="where to train; auto picks an accelerator when there is one")


def add_gpt_arguments(parser: argparse.ArgumentParser, defaults: dict) -> None:
    """The flags 07 and 08 share: the text, the GPT's shape, its steps; ``defaults`` is the lesson's dict."""
    parser.add_argument("--text", type=Path, default=SHAKESPEARE, help="UTF-8 text file to learn from")
    parser.add_argument("--max-iters", type=positive_int, help="training steps (07: for each rung)")
    parser.add_argument("--batch-size", type=positive_int, help="windows per step (under torchrun: per process)")
    parser.add_argument("--block-size", type=positive_int, help="context length in tokens")
    parser.add_argument("--n-layer", type=positive_int, help="transformer blocks")
    parser.add_argument("--n-head", type=positive_int, help="attention heads per block")
    parser.add_argument("--n-embd", type=positive_int, help="width of the residual stream (a multiple of --n-head)")
    parser.add_argument("--lr", type=positive_float, help="peak AdamW learning rate")
    parser.set_defaults(**defaults)


def parse_gpt_args(parser: argparse.ArgumentParser, argv: list[str] | None = None) -> argparse.Namespace:
    """Parse, and refuse in one line a width that the heads cannot share equally."""
    args = parser.parse_args(argv)
    if args.n_embd % args.n_head:
        parser.error(f"--n-embd {args.n_embd} is not a multiple of --n-head {args.n_head}")
    return args


def given(flag: str, argv: list[str] | None = None, **declaration):
    """The value the command line gives ``flag``, read before the full parse.

    Some defaults depend on a mode flag (03's learning rate on --dataset). Reading that one flag first
    picks the mode's dict of defaults, which ``parser.set_defaults`` applies, so that --help shows the
    defaults that apply. Nothing is checked here: the full parse that follows refuses a bad value, in one line.
    """
    early = argparse.ArgumentParser(add_help=False, allow_abbrev=False, exit_on_error=False)
    action = early.add_argument(flag, **declaration)
    try:
        return getattr(early.parse_known_args(argv)[0], action.dest)
    except argparse.ArgumentError:  # e.g. the flag without its value: left to the full parse to refuse
        return action.default


def keep_parent_flags(parser: argparse.ArgumentParser, args: argparse.Namespace, argv: list[str] | None,
                      shape: tuple[str, ...]) -> None:
    """--init-from: the tokenizer and the ``shape`` flags take the values of the model fine-tuning starts from
    (``args.parent``: its model, tokenizer and checkpoint); one given otherwise is refused, and so is an --out
    that would write over that model."""
    model, tokenizer, _ = args.parent
    for name, value in {"tokenizer": tokenizer.kind, **{name: getattr(model.config, name) for name in shape}}.items():
        flag = "--" + name.replace("_", "-")
        if given(flag, argv) not in (None, str(value)):
            parser.error(f"{flag} {given(flag, argv)}: {args.init_from} has {flag} {value}, and fine-tuning keeps the "
                         "shape and tokenizer of the model it starts from")
        setattr(args, name, value)
    if args.out.resolve() == args.init_from.resolve():
        parser.error("--out is the --init-from checkpoint: fine-tuning writes a model of its own, never over the one "
                     "it starts from")


def add_training_arguments(parser: argparse.ArgumentParser) -> None:
    """Lesson 08's flags beside ``add_gpt_arguments``; their defaults are in 08's dict of each mode."""
    parser.add_argument("--min-lr", type=positive_float, help="learning rate at the end of the cosine")
    parser.add_argument("--warmup-iters", type=positive_int, help="steps of linear warm-up")
    parser.add_argument("--weight-decay", type=non_negative_float, help="AdamW's decoupled weight decay")
    parser.add_argument("--grad-clip", type=positive_float, help="largest gradient norm")
    parser.add_argument("--dropout", type=dropout_rate, help="dropout probability, in [0, 1)")
    parser.add_argument("--eval-interval", type=positive_int, help="steps between evaluations")
    parser.add_argument("--dtype", choices=["auto", "float32", "bfloat16", "float16"], default="auto", help="the "
                        "forward pass's precision; auto: bfloat16 on a GPU that has it, else float32 (float16: CUDA)")
    parser.add_argument("--compile", action="store_true", help="torch.compile the model (worth it on a GPU only)")
    add_device_argument(parser)
    parser.add_argument("--threads", type=thread_count, help="CPU threads of each process (default: one per core, "
                        "shared among torchrun's processes: more threads than cores make every product wait)")
    parser.add_argument("--out", type=checkpoint_path, help="checkpoint path (default models/08_gpt_<text>.pt, "
                        "_bpe.pt for BPE, _from_<model>.pt fine-tuned)")
    parser.add_argument("--overwrite", action="store_true", help="replace --out even if its model scored better")


def _checked(convert: Callable[[str], float], ok: Callable[[float], bool], what: str):
    def parse(text: str):
        try:
            value = convert(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}") from None
        if not ok(value):
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}")
        return value

    parse.__name__ = what  # argparse names the type in its message
    return parse


positive_int = _checked(int, lambda v: v > 0, "a positive integer")
non_negative_int = _checked(int, lambda v: v >= 0, "an integer >= 0")
finite_float = _checked(float, np.isfinite, "a finite number")
positive_float = _checked(float, lambda v: v > 0 and np.isfinite(v), "a positive number")
non_negative_float = _checked(float, lambda v: v >= 0 and np.isfinite(v), "a number >= 0")
dropout_rate = _checked(float, lambda v: 0 <= v < 1, "a probability in [0, 1)")
fraction = _checked(float, lambda v: 0 < v <= 1, "a fraction in (0, 1]")
checkpoint_path = _checked(Path, lambda p: p.suffix == ".pt", "a checkpoint path ending in .pt")
shift_pixels = _checked(float, lambda v: 0 <= v <= 64, "a shift from 0 to 64 pixels")
angle_degrees = _checked(float, lambda v: 0 <= v <= 180, "an angle from 0 to 180 degrees")
seed_number = _checked(int, lambda v: 0 <= v < 2**32, "a seed from 0 to 2**32 - 1")  # NumPy's range
bpe_vocab_size = _checked(int, lambda v: 256 <= v <= 4096, "a BPE vocabulary from 256 to 4096 tokens")
port_number = _checked(int, lambda v: 0 < v < 65536, "a port from 1 to 65535")
CORES = os.cpu_count() or 1
thread_count = _checked(int, lambda v: 0 < v <= CORES, f"a thread count from 1 to {CORES}")


def physical_memory() -> int | None:
    """This computer's memory in bytes, where the system says (not on Windows)."""
    if hasattr(os, "sysconf") and "SC_PHYS_PAGES" in os.sysconf_names:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return None


def check_memory(needed: int, what: str) -> None:
    """Before allocating: refuse, in one line, what would need more than half of this computer's memory.

    ``what`` says what needs it, e.g. "--hidden 100000000: 6,400,000,000 parameters need".
    """
    memory = physical_memory()
    if memory is not None and needed > memory / 2:
        raise UserError(f"{what} about {needed / 2**30:,.1f} GiB, more than half of this computer's "
                        f"{memory / 2**30:,.1f} GiB; choose smaller sizes")


def seed_everything(seed: int) -> np.random.Generator:
    """Seed Python, NumPy and (if it is loaded) PyTorch; return a NumPy generator."""
    random.seed(seed)
    np.random.seed(seed)
    if "torch" in sys.modules:
        sys.modules["torch"].manual_seed(seed)
    return np.random.default_rng(seed)


def run(main: Callable[[], None]) -> None:
    """Call ``main``; turn user errors and Ctrl-C into one line and a non-zero exit."""
    try:
        main()
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("\ninterrupted.", file=sys.stderr)
        sys.exit(130)
