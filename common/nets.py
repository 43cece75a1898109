"""The PyTorch side of the series: the networks of lessons 04-06 and their checkpoint on disk.

Taught in lesson 04 (the MLP of lesson 03 in PyTorch, the CNN, safe checkpoints); lesson 05 adds the tanh option.

04 trains them (the MLP, or with --model cnn the convolutional network), 05
watches the MLP train and reads 04's checkpoints, 06 rebuilds either from its
checkpoint, so all three use these definitions. A checkpoint is a plain
dictionary of tensors, numbers, strings and lists - nothing else - so it can be loaded with
``torch.load(..., weights_only=True)``, which refuses any pickled object
instead of running code hidden in it.
"""

from __future__ import annotations

import math
import os
from functools import partial
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn

from common import MODELS_DIR, UserError
from common.cli import check_memory
from common.data import DATASETS
from common.records import check_history, is_finite_number, save_torch
from common.schedule import learning_rate

CHECKPOINT_FORMAT = "nn-tutorial-net/2"  # architecture["kind"] says "mlp" or "cnn"
LEGACY_FORMATS = ("nn-tutorial-mlp/1",)  # written before the CNN existed: always an MLP, no "kind"
CHECKPOINT_KEYS = ("format", "state_dict", "architecture", "normalisation", "class_names", "dataset",
                   "input_shape", "hyperparameters", "history", "test_metrics")


class CheckpointError(UserError):
    """A checkpoint is missing, corrupt, foreign or unsafe."""


class MLP(nn.Module):
    """Linear -> ReLU -> Dropout -> ... -> Linear: lesson 03's network, in PyTorch.

    The last layer outputs raw scores (logits); ``nn.CrossEntropyLoss`` applies
    the softmax, as lesson 03's loss did. The weights start as in lesson 03:
    He initialisation, normal with std sqrt(2 / fan_in), and biases at 0
    (LeCun's sqrt(1 / fan_in) with ``activation="tanh"``, which lesson 05's
    smallest network uses). PyTorch's own default for ``nn.Linear`` is uniform
    in +-1/sqrt(fan_in).
    """

    def __init__(self, sizes: list[int], dropout: float = 0.0, activation: str = "relu"):
        super().__init__()
        layers: list[nn.Module] = []
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(nn.Linear(n_in, n_out))
            if i < len(sizes) - 2:
                layers.append({"relu": nn.ReLU, "tanh": nn.Tanh}[activation]())
                if dropout > 0:
                    layers.append(nn.Dropout(dropout))
        self.net = nn.Sequential(*layers)
        self.sizes, self.dropout, self.activation = list(sizes), dropout, activation
        for layer in self.linear_layers():
            nn.init.kaiming_normal_(layer.weight, nonlinearity="relu" if activation == "relu" else "linear")
            nn.init.zeros_(layer.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def linear_layers(self) -> list[nn.Linear]:
        return [m for m in self.net if isinstance(m, nn.Linear)]

    def architecture(self) -> dict:
        return {"kind": "mlp", "sizes": self.sizes, "dropout": self.dropout, "activation": self.activation}

    def describe(self) -> str:
        return f"MLP {'-'.join(map(str, self.sizes))}"


def conv_block(c_in: int, c_out: int, kernel: int) -> nn.Sequential:
    """Convolution -> batch norm -> ReLU -> 2x2 max pooling: (B, c_in, H, W) -> (B, c_out, H/2, W/2)."""
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, kernel, padding=kernel // 2, bias=False),  # padding keeps H x W; BN has the bias
        nn.BatchNorm2d(c_out),
        nn.ReLU(),
        nn.MaxPool2d(2),
    )


class CNN(nn.Module):
    """Two convolution blocks and one linear layer: a network that looks for local shapes.

    Each block slides small learned filters (kernel x kernel pixels) over the
    image, so a filter that finds a stroke finds it anywhere, normalises each
    channel (batch norm), and halves the resolution by keeping the largest
    response in each 2x2 square. Lesson 04's docstring explains each step.
    """

    def __init__(self, input_shape: list[int], n_classes: int, channels: list[int], kernel: int = 5,
                 dropout: float = 0.0):
        super().__init__()
        (height, width), (c1, c2) = input_shape, channels
        self.features = nn.Sequential(conv_block(1, c1, kernel), conv_block(c1, c2, kernel))
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(dropout),
            nn.Linear(c2 * (height // 4) * (width // 4), n_classes),
        )
        self.input_shape, self.n_classes = list(input_shape), n_classes
        self.channels, self.kernel, self.dropout = list(channels), kernel, dropout
        for module in self.modules():  # He initialisation, as for the MLP
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
        nn.init.zeros_(self.classifier[-1].bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.view(len(x), 1, *self.input_shape)  # (B, H*W) -> (B, 1, H, W): one grey channel
        x = self.features(x)  # (B, C2, H/4, W/4)
        return self.classifier(x)  # (B, n_classes) logits

    def architecture(self) -> dict:
        return {"kind": "cnn", "input_shape": self.input_shape, "n_classes": self.n_classes,
                "channels": self.channels, "kernel": self.kernel, "dropout": self.dropout}

    def describe(self) -> str:
        h, w = self.input_shape
        c1, c2 = self.channels
        k = self.kernel
        return f"CNN {h}x{w} -> conv{k}x{k} {c1} -> pool -> conv{k}x{k} {c2} -> pool -> linear {self.n_classes}"


def check_fits(build: Callable[[], nn.Module], what: str) -> None:
    """Before building a model: check on PyTorch's "meta" device (shapes only, no memory) that training it fits.

    Training holds four float32 numbers per parameter: the weight, its gradient and Adam's two moments.
    """
    with torch.device("meta"):
        parameters = sum(p.numel() for p in build().parameters())
    check_memory(16 * parameters, f"{what}: {parameters:,} parameters need, to train,")


def decayed_weights(model: nn.Module) -> list[nn.Parameter]:
    """The weights that weight decay pulls towards 0: those of linear and convolution layers.

    Biases, normalisation scales and shifts, and embeddings (a table of vectors, not a map from
    inputs to outputs) are left free. Lesson 04 teaches it; lesson 08 uses it for the GPT, lesson 07 too.
    """
    return [m.weight for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]


def weight_decay_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Parameter groups for an optimizer: ``decayed_weights`` with ``weight_decay``, every other parameter without."""
    decayed = {id(p) for p in decayed_weights(model)}
    return [{"params": [p for p in model.parameters() if id(p) in decayed], "weight_decay": weight_decay},
            {"params": [p for p in model.parameters() if id(p) not in decayed], "weight_decay": 0.0}]


def cosine_decay(optimizer: torch.optim.Optimizer, total: int) -> torch.optim.lr_scheduler.LambdaLR:
    """Lesson 03's cosine schedule (common/schedule.py) for a PyTorch optimizer: no warm-up, from its lr to 0."""
    return torch.optim.lr_scheduler.LambdaLR(optimizer, partial(learning_rate, max_lr=1.0, min_lr=0.0, warmup=0,
                                                                total=total))


def use_cpu_cores() -> int:
    """One PyTorch thread per core this process may use; return that number.

    PyTorch counts the machine's cores, but a container or ``taskset`` may
    allow fewer, and more threads than cores make every matrix product wait.
    """
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    torch.set_num_threads(max(1, min(torch.get_num_threads(), usable)))
    return torch.get_num_threads()


def pick_device(name: str) -> torch.device:
    """``auto`` takes CUDA, then Apple's MPS, then the CPU; an explicit choice must exist."""
    available = {"cpu": True, "cuda": torch.cuda.is_available(),
                 "mps": getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()}
    if name == "auto":
        name = next(d for d in ("cuda", "mps", "cpu") if available[d])
    if not available[name]:
        raise UserError(f"--device {name}: not available on this machine (try --device cpu)")
    return torch.device(name)


@torch.no_grad()
def evaluate(model: nn.Module, loader: torch.utils.data.DataLoader, device: torch.device) -> tuple[float, float]:
    """Mean cross-entropy and accuracy over a whole split, in eval mode (dropout off)."""
    model.eval()
    total_loss, correct, count = 0.0, 0, 0
    for x, y in loader:
        x, y = x.to(device), y.to(device)
        logits = model(x)
        total_loss += nn.functional.cross_entropy(logits, y, reduction="sum").item()
        correct += (logits.argmax(1) == y).sum().item()
        count += len(y)
    return total_loss / count, correct / count


@torch.no_grad()
def predict_proba(model: nn.Module, X: np.ndarray) -> np.ndarray:
    """Class probabilities (softmax of the logits) for already-normalised inputs, on the CPU."""
    model.eval()
    return torch.softmax(model(torch.as_tensor(X, dtype=torch.float32)), dim=1).numpy()


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


def build_model(checkpoint: dict) -> MLP | CNN:
    """Rebuild the network a checkpoint describes and load its weights (eval mode)."""
    arch = checkpoint["architecture"]
    kind = arch.get("kind", "mlp")  # older checkpoints hold only MLPs and do not say so
    height, width = checkpoint["input_shape"]
    try:
        if kind == "mlp":
            model = MLP(arch["sizes"], arch.get("dropout", 0.0), arch.get("activation", "relu"))
            inputs, outputs = arch["sizes"][0], arch["sizes"][-1]
        elif kind == "cnn":
            model = CNN(arch["input_shape"], arch["n_classes"], arch["channels"], arch["kernel"], arch["dropout"])
            inputs, outputs = math.prod(arch["input_shape"]), arch["n_classes"]
        else:
            raise CheckpointError(f"unknown architecture kind {kind!r} (this version knows mlp and cnn)")
        if (inputs, outputs) != (height * width, len(checkpoint["class_names"])):
            raise ValueError(f"a network for {inputs} inputs and {outputs} classes does not fit "
                             f"{height}x{width} images of {len(checkpoint['class_names'])} classes")
        model.load_state_dict(checkpoint["state_dict"])
    except (RuntimeError, KeyError, TypeError, ValueError, IndexError) as error:
        detail = " ".join(str(error).split())[:160]  # torch's message spans lines: keep ours to one
        raise CheckpointError(f"weights do not fit the architecture {str(arch)[:200]} ({detail})") from None
    return model.eval()
