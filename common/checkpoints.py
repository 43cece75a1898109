"""Plumbing, taught nowhere: safe checkpoint files - atomic saving, loading without unpickling, checks.

The networks that 04 saves are rebuilt by 04's ``build_model``, the GPT by 08's ``load_gpt`` from what
``load_gpt_checkpoint`` has checked.

A checkpoint is a plain dictionary of tensors, numbers, strings and lists - nothing else - so it can be
loaded with ``torch.load(..., weights_only=True)``, which refuses any pickled object instead of running
code hidden in it.
"""

from __future__ import annotations

import math
from dataclasses import asdict
from pathlib import Path
from typing import Callable

import torch

from common import MODELS_DIR, UserError
from common.cli import physical_memory
from common.data import DATASETS
from common.records import (check_history, check_replaceable, is_finite_number, kept_epoch, save_torch,
                            write_record)
from common.text import SHAKESPEARE

CHECKPOINT_FORMAT = "nn-tutorial-net/2"  # lesson 04's networks; architecture["kind"] says "mlp" or "cnn"
LEGACY_FORMATS = ("nn-tutorial-mlp/1",)  # written before the CNN existed: always an MLP, no "kind"
GPT_FORMAT = "nn-tutorial-gpt/2"  # lesson 08's GPT; /2: the tokenizer stored as plain data, scores in bits per char
DEFAULT_GPT_CHECKPOINT = MODELS_DIR / f"08_gpt_{SHAKESPEARE.stem}.pt"  # what lesson 08 writes by default
CHECKPOINT_KEYS = ("format", "state_dict", "architecture", "normalisation", "class_names", "dataset",
                   "input_shape", "hyperparameters", "history", "test_metrics")


class CheckpointError(UserError):
    """A checkpoint is missing, corrupt, foreign or unsafe."""


def save_checkpoint(path: Path, checkpoint: dict) -> None:
    """Write atomically: a crash or Ctrl-C mid-write leaves any earlier checkpoint as it was."""
    missing = set(CHECKPOINT_KEYS) - set(checkpoint)
    if missing:
        raise ValueError(f"checkpoint lacks {sorted(missing)}")
    save_torch(path, checkpoint)


def newest_checkpoint(folder: Path = MODELS_DIR) -> Path | None:
    """The most recent checkpoint of lesson 04 (08's language models live in the same folder)."""
    candidates = sorted(Path(folder).glob("04_*.pt"), key=lambda p: p.stat().st_mtime)
    return candidates[-1] if candidates else None


def safe_torch_load(path: Path, fmt: str | tuple[str, ...], writer: str) -> dict:
    """Load a checkpoint without unpickling objects and check its ``format`` is ``fmt`` (or one of them)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many kinds for foreign, truncated or unsafe files
        if "global" in str(error).lower():  # "Unsupported global" / "unsupported GLOBAL": a pickled object
            reason = "it holds pickled Python objects, which could run code; refusing to load it"
        else:  # torch's own text is long, and may advise weights_only=False, which would run what the file holds
            reason = "its bytes are not a PyTorch checkpoint: truncated, or another kind of file"
        raise CheckpointError(f"{path}: not a usable checkpoint ({reason})") from None
    formats = (fmt,) if isinstance(fmt, str) else fmt
    if not isinstance(checkpoint, dict) or checkpoint.get("format") not in formats:
        raise CheckpointError(f"{path}: not a checkpoint written by {writer}")
    return checkpoint


def load_checkpoint(path: Path) -> dict:
    """Load a checkpoint of 04 safely (no unpickling of objects) and check what it claims before anyone uses it."""
    checkpoint = safe_torch_load(path, (CHECKPOINT_FORMAT, *LEGACY_FORMATS), "04_neural_network_training.py")
    missing = [key for key in CHECKPOINT_KEYS if key not in checkpoint]
    if missing:
        raise CheckpointError(f"{path}: checkpoint lacks {', '.join(missing)}")
    try:
        check_checkpoint(checkpoint)
    except (ValueError, TypeError, KeyError, AttributeError) as error:
        raise CheckpointError(f"{path}: checkpoint does not describe a usable model ({error})") from None
    return checkpoint


def check_checkpoint(checkpoint: dict) -> None:
    """Raise ValueError naming the first field of a 04 checkpoint that 05 or 06 could not use as it is."""
    arch = checkpoint["architecture"]
    if not isinstance(arch, dict):
        raise ValueError("architecture is not a description")
    shape = checkpoint["input_shape"]
    if not (isinstance(shape, list) and len(shape) == 2 and all(isinstance(n, int) and n > 0 for n in shape)):
        raise ValueError("input_shape is not [height, width]")
    names = checkpoint["class_names"]
    if not (isinstance(names, list) and len(names) >= 2 and all(isinstance(n, str) for n in names)):
        raise ValueError("class_names is not a list of names")
    if checkpoint["dataset"] not in DATASETS:
        raise ValueError(f"dataset is not one of {', '.join(DATASETS)}")
    norm = checkpoint["normalisation"]
    if not (is_finite_number(norm["mean"]) and is_finite_number(norm["std"]) and norm["std"] > 0):
        raise ValueError("normalisation needs a finite mean and a positive std")
    check_history(checkpoint["history"])
    if not is_finite_number(checkpoint["test_metrics"]["accuracy"]):
        raise ValueError("test_metrics has no accuracy")
    seed = checkpoint["hyperparameters"]["seed"]
    if not (isinstance(seed, int) and 0 <= seed < 2**32):
        raise ValueError("hyperparameters has no usable seed")
    if not all(torch.is_tensor(t) and (not t.is_floating_point() or bool(t.isfinite().all()))
               for t in checkpoint["state_dict"].values()):
        raise ValueError("its weights are not all finite numbers")


def replaceable(path: Path, lesson: str, load: Callable[[Path], dict]) -> dict | None:
    """The checkpoint at ``path`` that ``lesson`` is about to replace, loaded with ``load``, or None if there is
    none. Anything that is not that lesson's (or a corrupt file) is refused in one line, before any training."""
    check_replaceable(path, lesson)
    if not path.exists():
        return None
    try:
        return load(path)
    except CheckpointError as error:
        raise UserError(f"{error}; refusing to replace it (choose another --out)") from None


def previous_model(path: Path, dataset: str, overwrite: bool) -> dict | None:
    """The validation figures of the 04 checkpoint ``path`` holds now, if any; anything not 04's is refused,
    and so is a model of another data set unless ``overwrite``."""
    old = replaceable(path, "04", load_checkpoint)
    if old is None:
        return None
    if old["dataset"] != dataset:  # its scores do not compare with this run's
        if not overwrite:
            raise UserError(f"{path} holds a model of {old['dataset']}, not {dataset}; refusing to replace it "
                            "(choose another --out, or --overwrite)")
        return None
    return kept_epoch(old)


def save_gpt(path: Path, model, tokenizer, **extra) -> None:
    """Lesson 08's GPT: tensors, the config, the tokenizer as plain data (its characters or its merges) and
    plain values only; written atomically."""
    checkpoint = {"format": GPT_FORMAT, "config": asdict(model.config), "tokenizer": tokenizer.to_dict(),
                  "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()}, **extra}
    save_torch(path, checkpoint)


def previous_best(path: Path, text_sha: str) -> float:
    """The validation bits per character of an earlier checkpoint of lesson 08 at ``path`` for the same text,
    or infinity. Another text's model, or anything that is not 08's, is refused (``replaceable``).
    """
    old = replaceable(path, "08", lambda p: safe_torch_load(p, GPT_FORMAT, "08_train_llm.py"))
    if old is None:
        return math.inf
    if old.get("text_sha256") != text_sha:
        raise UserError(f"{path} holds a model of another text ({old.get('text')}); refusing to replace it "
                        "(choose another --out)")
    best = old.get("best_val_bpc")
    return best if isinstance(best, float) and math.isfinite(best) else math.inf  # no valid score: nothing to keep


MAX_SIZE = 65536  # no size of a model this series trains comes near it
MAX_TOKEN_BYTES = 1_000_000  # all tokens' bytes together; 4,096 tokens learned from any text hold far fewer
MAX_BLOCKS = 1024  # building more blocks takes minutes; the models of this series have 1 to 8


def load_gpt_checkpoint(path: Path) -> dict:
    """A checkpoint of lesson 08, loaded without unpickling, with every field the GPT and its tokenizer are rebuilt
    from checked first (08's ``load_gpt`` rebuilds them): CheckpointError names the first that is wrong."""
    checkpoint = safe_torch_load(path, GPT_FORMAT, "this version of 08_train_llm.py")
    try:
        config = checkpoint["config"]
        check_gpt_config(config)
        tokens = tokenizer_size(checkpoint["tokenizer"])
        if tokens != config["vocab_size"]:
            raise ValueError(f"its tokenizer has {tokens} tokens, the model expects {config['vocab_size']}")
        if not is_finite_number(checkpoint.get("best_val_bpc", 0.0)):
            raise ValueError("its best_val_bpc is not a finite number")
        # Checkpoints written before the read-out was named lm_head (nanoGPT's name) call it head.
        checkpoint["state_dict"] = {("lm_head." + k[5:] if k.startswith("head.") else k): v
                                    for k, v in checkpoint["state_dict"].items()}
        if not all(torch.is_tensor(t) and (not t.is_floating_point() or bool(t.isfinite().all()))
                   for t in checkpoint["state_dict"].values()):
            raise ValueError("its weights are not all finite numbers")
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise unusable(path, error) from None
    return checkpoint


def unusable(path: Path, error: Exception) -> CheckpointError:
    detail = " ".join(str(error).split())[:160]
    return CheckpointError(f"{path}: checkpoint does not describe a usable model ({detail})")


def tokenizer_size(data: dict) -> int:
    """The number of tokens of the tokenizer a checkpoint stores as plain data, checked: ValueError names what is
    wrong (a character vocabulary, or BPE merges that each join two earlier tokens; BPE's first 256 tokens are
    the byte values, lesson 08's BYTES)."""
    if not isinstance(data, dict):
        raise ValueError("its tokenizer is not a description")
    if data.get("kind") == "char":
        vocab = data.get("vocab")
        if not (isinstance(vocab, str) and vocab and len(set(vocab)) == len(vocab)):
            raise ValueError("its character vocabulary is not a string of distinct characters")
        try:
            vocab.encode("utf-8")
        except UnicodeEncodeError:  # e.g. a lone surrogate, half of a UTF-16 pair: no text holds one
            raise ValueError("its character vocabulary holds a character that is not valid text") from None
        return len(vocab)
    if data.get("kind") == "bpe":
        merges = data.get("merges")
        if not isinstance(merges, list):
            raise ValueError("its BPE merges are not a list")
        seen = set()
        for n, pair in enumerate(merges):
            # merge n may only join tokens that exist before it: the bytes and merges 0..n-1
            if not (isinstance(pair, list) and len(pair) == 2
                    and all(isinstance(i, int) and not isinstance(i, bool) and 0 <= i < 256 + n for i in pair)):
                raise ValueError(f"BPE merge {n} is not a pair of earlier token ids")
            if tuple(pair) in seen:
                raise ValueError(f"BPE merge {n} repeats an earlier merge")
            seen.add(tuple(pair))
        # Each merge joins two earlier tokens, so a hand-made chain (a+a, then that+that, ...) doubles its
        # token's length at every step: count the bytes before making them.
        lengths, total = [1] * 256, 256
        for a, b in merges:
            lengths.append(lengths[a] + lengths[b])
            total += lengths[-1]
            if total > MAX_TOKEN_BYTES:
                raise ValueError(f"its BPE merges make tokens of more than {MAX_TOKEN_BYTES:,} bytes in all")
        return 256 + len(merges)
    raise ValueError(f"its tokenizer kind {str(data.get('kind'))[:20]!r} is neither 'char' nor 'bpe'")


def check_gpt_config(config: dict) -> None:
    """Sizes a GPT can be built with: whole numbers in range (a context of at least 2, for 09's window)."""
    if not isinstance(config, dict):
        raise ValueError("its config is not a description")
    for name, low in (("vocab_size", 1), ("block_size", 2), ("n_layer", 1), ("n_head", 1), ("n_embd", 1)):
        value = config[name]
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= MAX_SIZE:
            raise ValueError(f"{name} {value!r} is not a whole number from {low} to {MAX_SIZE}")
    if config["n_embd"] % config["n_head"]:
        raise ValueError(f"n_embd {config['n_embd']} is not a multiple of n_head {config['n_head']}")
    dropout = config.get("dropout", 0.0)
    if not (isinstance(dropout, (int, float)) and 0 <= dropout < 1):
        raise ValueError(f"dropout {dropout!r} is not in [0, 1)")
    # Each number may be fine on its own and the whole still impossible: judge the total before building anything.
    if config["n_layer"] > MAX_BLOCKS:
        raise ValueError(f"n_layer {config['n_layer']} is more blocks than {MAX_BLOCKS}")
    parameters, memory = gpt_parameter_count(config), physical_memory()
    if memory is not None and 4 * parameters > memory / 2:
        raise ValueError(f"its {parameters:,} parameters need {4 * parameters / 2**30:,.1f} GiB, more than half of "
                         f"this computer's {memory / 2**30:,.1f} GiB")


def gpt_parameter_count(config: dict) -> int:
    """The number of parameters lesson 07's GPT of these sizes has, counted without building it."""
    C, V = config["n_embd"], config["vocab_size"]
    # per block: qkv 3C(C + 1), proj C(C + 1), feed-forward 4C(C + 1) + C(4C + 1), two LayerNorms 2C each
    block = 12 * C * C + 13 * C
    return V * C + config["block_size"] * C + config["n_layer"] * block + 2 * C + C * V + V  # embeddings, ln_f, head


RUN_STATE_FORMAT = "nn-tutorial-gpt-run/1"  # lesson 08's run in progress: what --resume needs to continue it


def run_state_path(checkpoint: Path) -> Path:
    """Where lesson 08 keeps the state of its run in progress: beside the checkpoint, e.g. 08_gpt_x.resume.pt."""
    return Path(checkpoint).with_suffix(".resume.pt")


def save_run_state(path: Path, settings: dict, **state) -> None:
    """Everything a run needs to continue exactly (weights, optimizer, random generators, history), atomically."""
    save_torch(path, {"format": RUN_STATE_FORMAT, "settings": settings, **state})


def load_run_state(path: Path, settings: dict) -> dict:
    """The saved state of the run that ``settings`` describe; a run with other settings is refused in one line,
    naming the first difference, because continuing it with these would be neither run."""
    if not Path(path).is_file():
        raise UserError(f"--resume: there is no interrupted run to continue ({path} does not exist; a run that "
                        "finishes removes it)")
    state = safe_torch_load(path, RUN_STATE_FORMAT, "08_train_llm.py's training")
    old = state.get("settings", {})
    for key in dict.fromkeys(["text_sha256", *settings, *old]):  # another text first: it differs most
        if old.get(key) != settings.get(key):
            raise UserError(f"--resume: {path} holds another run ({difference(key, old.get(key), settings.get(key))}); "
                            "give the flags it was started with, or start afresh without --resume")
    return state


def difference(key: str, old, new) -> str:
    """One setting that two runs do not share, said as the learner would change it."""
    if key == "text_sha256":
        return "it trained on another text"
    if key == "processes":  # torchrun's --nproc_per_node, not a flag of 08
        return f"it ran in {old} processes, this command in {new}"
    if key == "compile":
        return f"it ran {'with' if old else 'without'} --compile"
    return f"it had --{key.replace('_', '-')} {old!r}, this command {new!r}"


class RunFiles:
    """The files of one run of lesson 08: its best checkpoint and that model's JSON record (written together, and
    only over a worse model of the same text), and at every evaluation the run's state, for --resume.

    ``previous``: what ``previous_best`` found at ``out`` (infinity: nothing to beat); ``about``: what the
    checkpoint and the record keep beside the scores (the text and its sha256, the hyperparameters, ...), whose
    text and hyperparameters a resumed run must share; ``resume``: continue the interrupted run of these.
    """

    def __init__(self, out: Path, previous: float, about: dict, resume: bool):
        self.out, self.state_path, self.about = Path(out), run_state_path(out), about
        self.settings = about["hyperparameters"] | {"text_sha256": about["text_sha256"]}  # a resumed run's too
        self.best = {"val_bpc": previous, "val_loss": math.nan, "step": None}
        self.state_step = None  # the step of the last state written (or resumed from)
        if resume:
            self.resume()
        elif math.isfinite(previous):
            print(f"   {out} already holds a model of this text that scored {previous:.4f} bits per character; "
                  "it is replaced only by a better one (--overwrite to replace it anyway)\n")
        if self.state_path.exists() and not resume:
            print(f"   {self.state_path} holds an interrupted run: this run replaces it at its first evaluation "
                  "(its own command with --resume would continue it instead)\n")

    def resume(self) -> None:
        """Read the state the interrupted run of these settings saved (refused in one line: none, or another run's)."""
        self.resumed = load_run_state(self.state_path, self.settings)
        self.best.update(self.resumed["best"])
        self.state_step = self.resumed["history"][-1]["step"]
        print(f"   resuming the interrupted run in {self.state_path} at step {self.state_step}\n")

    def restore(self, model, optimizer, generator: torch.Generator) -> tuple[list[dict], int]:
        """Put the resumed run's weights, optimizer and random generators back; its history and its last step."""
        model.load_state_dict(self.resumed["model"])
        optimizer.load_state_dict(self.resumed["optimizer"])
        generator.set_state(self.resumed["generator"])
        torch.set_rng_state(self.resumed["rng"])  # dropout's
        return self.resumed["history"], self.state_step

    def keep(self, val_bpc: float, history: list[dict], model, tokenizer, optimizer, generator) -> bool:
        """At an evaluation: a new best is saved (checkpoint and record); the run's state always. True if better."""
        better = val_bpc < self.best["val_bpc"]
        if better:
            self.best.update(val_bpc=val_bpc, val_loss=history[-1]["val_loss"], step=history[-1]["step"])
            scores = {"best_val_bpc": val_bpc, "best_val_loss": self.best["val_loss"], "best_step": self.best["step"]}
            save_gpt(self.out, model, tokenizer, **scores, history=history, **self.about)
            write_record(self.out.with_suffix(".json"), {
                "lesson": "08", "parameters": model.num_parameters(), **self.about, "history": history, **scores,
                "train_seconds": history[-1]["seconds"],
                "tokens_per_second": history[-1]["tokens"] / history[-1]["seconds"]})
        save_run_state(self.state_path, self.settings, model=model.state_dict(), optimizer=optimizer.state_dict(),
                       generator=generator.get_state(), rng=torch.get_rng_state(), best=dict(self.best),
                       history=history)
        self.state_step = history[-1]["step"]
        return better

    def stopped(self, error: Exception) -> UserError:
        """The one line a run stopped by Ctrl-C or by ``error`` ends with: what is kept where, and how to go on."""
        interrupted = isinstance(error, KeyboardInterrupt)
        reason = "interrupted" if interrupted else str(error)
        kept = (f"the best so far, step {self.best['step']}, is in {self.out}" if self.best["step"] else
                f"{self.out} is as it was")
        again = (f"; run it again with --resume to continue from step {self.state_step}"
                 if interrupted and self.state_step else "")
        return UserError(f"{reason}: {kept}{again}")

    def finished(self) -> None:
        self.state_path.unlink(missing_ok=True)  # the run is complete: nothing left to resume
