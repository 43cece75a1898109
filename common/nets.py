"""The PyTorch side of the series: the MLP of lessons 04-06 and its checkpoint on disk.

04 trains it, 05 watches it train, 06 rebuilds it from the checkpoint, so all
three use this one definition. A checkpoint is a plain dictionary of tensors,
numbers, strings and lists - nothing else - so it can be loaded with
``torch.load(..., weights_only=True)``, which refuses any pickled object
instead of running code hidden in it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from common import MODELS_DIR, UserError
from common.records import atomic_write

CHECKPOINT_FORMAT = "nn-tutorial-mlp/1"
CHECKPOINT_KEYS = ("format", "state_dict", "architecture", "normalisation", "class_names", "dataset",
                   "input_shape", "hyperparameters", "history", "test_metrics")


class CheckpointError(UserError):
    """A checkpoint is missing, corrupt, foreign or unsafe."""


class MLP(nn.Module):
    """Linear -> ReLU -> Dropout -> ... -> Linear: lesson 03's network, in PyTorch.

    The last layer outputs raw scores (logits); ``nn.CrossEntropyLoss`` applies
    the softmax, as lesson 03's loss did. The weights start as in lesson 03:
    He initialisation, normal with std sqrt(2 / fan_in), and biases at 0.
    (PyTorch's own default for ``nn.Linear`` is uniform in +-1/sqrt(fan_in).)
    """

    def __init__(self, sizes: list[int], dropout: float = 0.0):
        super().__init__()
        layers: list[nn.Module] = []
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(nn.Linear(n_in, n_out))
            if i < len(sizes) - 2:
                layers.append(nn.ReLU())
                if dropout > 0:
                    layers.append(nn.Dropout(dropout))
        self.net = nn.Sequential(*layers)
        self.sizes, self.dropout = list(sizes), dropout
        for layer in self.linear_layers():
            nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
            nn.init.zeros_(layer.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def linear_layers(self) -> list[nn.Linear]:
        return [m for m in self.net if isinstance(m, nn.Linear)]


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
    atomic_write(path, lambda tmp: torch.save(checkpoint, tmp))


def newest_checkpoint(folder: Path = MODELS_DIR) -> Path | None:
    candidates = sorted(Path(folder).glob("*.pt"), key=lambda p: p.stat().st_mtime)
    return candidates[-1] if candidates else None


def safe_torch_load(path: Path, fmt: str, writer: str) -> dict:
    """Load a checkpoint without unpickling objects and check its ``format`` is ``fmt``."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many kinds for foreign, truncated or unsafe files
        reason = " ".join(str(error).split()) or type(error).__name__
        if "Unsupported global" in reason:  # a pickled object: the one case that could run code
            reason = "it holds pickled Python objects, which could run code; refusing to load it"
        elif "WeightsUnpickler error" in reason:  # torch's long message for bytes that are no checkpoint at all
            reason = "its bytes are not a PyTorch checkpoint"
        raise CheckpointError(f"{path}: not a usable checkpoint ({reason[:200]})") from None
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != fmt:
        raise CheckpointError(f"{path}: not a checkpoint written by {writer}")
    return checkpoint


def load_checkpoint(path: Path) -> dict:
    """Load a checkpoint of 04 safely (no unpickling of objects) and check it is complete."""
    checkpoint = safe_torch_load(path, CHECKPOINT_FORMAT, "04_neural_network_training.py")
    missing = [key for key in CHECKPOINT_KEYS if key not in checkpoint]
    if missing:
        raise CheckpointError(f"{path}: checkpoint lacks {', '.join(missing)}")
    return checkpoint


def build_model(checkpoint: dict) -> MLP:
    """Rebuild the network a checkpoint describes and load its weights (eval mode)."""
    arch = checkpoint["architecture"]
    model = MLP(arch["sizes"], arch.get("dropout", 0.0))
    try:
        model.load_state_dict(checkpoint["state_dict"])
    except (RuntimeError, KeyError, TypeError) as error:
        detail = " ".join(str(error).split())[:160]  # torch's message spans lines: keep ours to one
        raise CheckpointError(f"weights do not fit the architecture {arch['sizes']} ({detail})") from None
    return model.eval()
