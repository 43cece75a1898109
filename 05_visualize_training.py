"""Lesson 05 - watch training from the inside: loss curves, weights on the move, over- and underfitting.

Loss curves are a model's vital signs. Every epoch we record:

* train and validation loss and accuracy. Both falling: learning. Train still
  falling while validation rises: overfitting - the network memorises the
  training set instead of learning what generalises. Both stuck high:
  underfitting - the network is too small, or trained too little, for the task.
* per layer, the weight norm ||W|| and the relative update ||W_after - W_before|| / ||W_before||
  over the epoch. A healthy update ratio is small (per step around 1e-3, so
  per epoch a few percent); near 0 the layer has stopped learning, near 1 the
  learning rate is too large and the weights are thrown around.
* snapshots of the weights: their histograms spread out from the initial bell
  curve, and the first layer's weights, drawn as images, turn into stroke detectors.

Regularisation closes the gap between train and validation:
    L2 (weight decay):  loss + lambda * sum w^2    - many small weights
    L1:                 loss + lambda * sum |w|    - few non-zero weights
    dropout:            zero each hidden unit with probability p while training,
                        so no unit can rely on another one being there.
``--demo overfit`` trains a large network on 100 digits with and without
each of them, and a too-small network, and puts the curves side by side.

With a display the dashboard updates live while the network trains; without
one (CI, SSH) the same frames become an animated GIF beside the PNGs (drawn with
matplotlib, assembled by Pillow).

Run it:  python 05_visualize_training.py                 (digits, ~10 s, live or GIF)
         python 05_visualize_training.py --dataset moons  (decision boundary epoch by epoch)
         python 05_visualize_training.py --demo overfit
         python 05_visualize_training.py --checkpoint models/04_mlp_digits.pt
"""

from __future__ import annotations

import argparse
import copy
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn
from tqdm import tqdm

from common import FIGURES_DIR
from common.cli import (
    dropout_rate,
    fill_defaults,
    lesson_parser,
    non_negative_float,
    positive_float,
    positive_int,
    run,
    seed_everything,
)
from common.data import Dataset, load_dataset, normalisation
from common.nets import MLP, load_checkpoint, predict_proba
from common.plotting import interactive, plot_decision_boundary, plt, save_figure, show_or_close
from common.records import read_record

SNAPSHOTS = 4  # how many epochs get a weight histogram / decision boundary panel


class TrainingRecorder:
    """Collects, epoch by epoch, everything the figures show."""

    def __init__(self, model: MLP):
        self.model = model
        self.history: list[dict] = []
        self.snapshots: dict[int, list[np.ndarray]] = {0: self.weights()}
        self.before: list[np.ndarray] = self.weights()

    def weights(self) -> list[np.ndarray]:
        return [layer.weight.detach().cpu().numpy().copy() for layer in self.model.linear_layers()]

    def start_epoch(self) -> None:
        self.before = self.weights()

    def end_epoch(self, epoch: int, metrics: dict, snapshot: bool) -> dict:
        after = self.weights()
        entry = {"epoch": epoch, **metrics,
                 "weight_norm": [float(np.linalg.norm(w)) for w in after],
                 "update_ratio": [float(np.linalg.norm(a - b) / np.linalg.norm(b)) for a, b in zip(after, self.before)]}
        self.history.append(entry)
        if snapshot:
            self.snapshots[epoch] = after
        return entry


def to_tensors(X: np.ndarray, y: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.from_numpy(X), torch.from_numpy(y).long()


def penalty(model: MLP, l1: float, l2: float) -> torch.Tensor | float:
    """lambda_1 * sum |w| + lambda_2 * sum w^2 over the weights (biases are left free)."""
    weights = [layer.weight for layer in model.linear_layers()]
    total = 0.0
    if l1 > 0:
        total = total + l1 * sum(w.abs().sum() for w in weights)
    if l2 > 0:
        total = total + l2 * sum((w * w).sum() for w in weights)
    return total


def train_epoch(model: MLP, optimizer, X: torch.Tensor, y: torch.Tensor, batch_size: int, l1: float, l2: float,
                generator: torch.Generator) -> None:
    """Mini-batch gradient descent on cross-entropy plus the regularisation penalty."""
    model.train()
    order = torch.randperm(len(X), generator=generator)
    for start in range(0, len(X), batch_size):
        batch = order[start:start + batch_size]
        loss = nn.functional.cross_entropy(model(X[batch]), y[batch]) + penalty(model, l1, l2)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()


@torch.no_grad()
def loss_and_accuracy(model: MLP, X: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    model.eval()
    logits = model(X)
    return nn.functional.cross_entropy(logits, y).item(), (logits.argmax(1) == y).float().mean().item()


def train_and_record(data: Dataset, hidden: list[int], *, epochs: int, lr: float, batch_size: int = 64,
                     dropout: float = 0.0, l2: float = 0.0, l1: float = 0.0, seed: int = 0,
                     on_epoch=None, quiet: bool = False) -> TrainingRecorder:
    """Train a fresh MLP and record every epoch; ``on_epoch(recorder)`` runs after each (live plotting)."""
    torch.manual_seed(seed)
    model = MLP([data.n_features, *hidden, data.n_classes], dropout)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(seed)
    X_train, y_train = to_tensors(data.X_train, data.y_train)
    X_val, y_val = to_tensors(data.X_val, data.y_val)
    recorder = TrainingRecorder(model)
    snapshot_epochs = set(np.linspace(1, epochs, SNAPSHOTS - 1).round().astype(int))
    start = time.perf_counter()
    for epoch in tqdm(range(1, epochs + 1), desc="training", leave=False, delay=1, disable=quiet):
        recorder.start_epoch()
        train_epoch(model, optimizer, X_train, y_train, batch_size, l1, l2, generator)
        train_loss, train_accuracy = loss_and_accuracy(model, X_train, y_train)
        val_loss, val_accuracy = loss_and_accuracy(model, X_val, y_val)
        recorder.end_epoch(epoch, {"train_loss": train_loss, "train_accuracy": train_accuracy, "val_loss": val_loss,
                                   "val_accuracy": val_accuracy, "seconds": time.perf_counter() - start},
                           snapshot=epoch in snapshot_epochs)
        if on_epoch:
            on_epoch(recorder)
    return recorder


# ----------------------------------------------------------------------------- drawing


def draw_curves(ax_loss: plt.Axes, ax_acc: plt.Axes, history: list[dict], title: str = "", log: bool = True) -> None:
    epochs = [h["epoch"] for h in history]
    ax_loss.plot(epochs, [h["train_loss"] for h in history], label="train", color="C0")
    ax_loss.plot(epochs, [h["val_loss"] for h in history], label="validation", color="C1")
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy", title=f"{title}loss", yscale="log" if log else "linear")
    if "train_accuracy" in history[0]:
        ax_acc.plot(epochs, [100 * h["train_accuracy"] for h in history], label="train", color="C0")
    ax_acc.plot(epochs, [100 * h["val_accuracy"] for h in history], label="validation", color="C1")
    ax_acc.set(xlabel="epoch", ylabel="accuracy (%)", title=f"{title}accuracy")
    for ax in (ax_loss, ax_acc):
        ax.legend(fontsize=8)


class Dashboard:
    """Four panels - loss, accuracy, weight norm, update ratio - whose lines are updated epoch by epoch.

    The axes are built once and only the lines' data change, which is what
    makes a live view smooth and a GIF of many frames quick to render.
    """

    def __init__(self, fig: plt.Figure, n_layers: int, epochs: int):
        self.fig, self.epochs = fig, epochs
        self.axes = fig.subplots(1, 4)
        ax_loss, ax_acc, ax_norm, ax_ratio = self.axes
        self.lines = {
            "train_loss": ax_loss.plot([], [], color="C0", label="train")[0],
            "val_loss": ax_loss.plot([], [], color="C1", label="validation")[0],
            "train_accuracy": ax_acc.plot([], [], color="C0", label="train")[0],
            "val_accuracy": ax_acc.plot([], [], color="C1", label="validation")[0],
            "weight_norm": [ax_norm.plot([], [], label=f"layer {i + 1}")[0] for i in range(n_layers)],
            "update_ratio": [ax_ratio.plot([], [], label=f"layer {i + 1}")[0] for i in range(n_layers)],
        }
        ax_loss.set(xlabel="epoch", ylabel="cross-entropy", title="loss", yscale="log")
        ax_acc.set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy")
        ax_norm.set(xlabel="epoch", ylabel="||W||", title="weight norm")
        ax_ratio.set(xlabel="epoch", ylabel="||dW|| / ||W||", title="update / weight per epoch", yscale="log")
        for ax in self.axes:
            ax.set_xlim(0.5, epochs + 0.5)
            ax.legend(fontsize=8, loc="best")
        self.title = fig.suptitle(" ")
        fig.tight_layout()

    def update(self, history: list[dict], rescale: bool = True) -> None:
        epochs = [h["epoch"] for h in history]
        for key in ("train_loss", "val_loss"):
            self.lines[key].set_data(epochs, [h[key] for h in history])
        for key in ("train_accuracy", "val_accuracy"):
            self.lines[key].set_data(epochs, [100 * h[key] for h in history])
        for key in ("weight_norm", "update_ratio"):
            for i, line in enumerate(self.lines[key]):
                line.set_data(epochs, [h[key][i] for h in history])
        if rescale:
            for ax in self.axes:
                ax.relim()
                ax.autoscale_view(scalex=False)
        last = history[-1]
        self.title.set_text(f"Training, epoch {last['epoch']}/{self.epochs}: train loss {last['train_loss']:.3f}, "
                            f"val loss {last['val_loss']:.3f}, val accuracy {last['val_accuracy']:.1%}")


def save_gif(recorder: TrainingRecorder, epochs: int, max_frames: int = 20) -> Path:
    """Replay the recorded epochs as an animated GIF: the live view's headless twin.

    Axes, ticks and labels are drawn once, with the final limits; each frame
    then redraws only the lines and the title over that background (blitting),
    which is many times faster than drawing the whole figure per frame.
    """
    fig = plt.figure(figsize=(15, 3.6), dpi=72)
    dashboard = Dashboard(fig, len(recorder.history[0]["weight_norm"]), epochs)
    dashboard.update(recorder.history)  # final limits for every frame
    fig.tight_layout()  # room for the final tick labels
    moving = [line for value in dashboard.lines.values() for line in np.atleast_1d(value)] + [dashboard.title]
    for artist in moving:
        artist.set_animated(True)
    fig.canvas.draw()
    background = fig.canvas.copy_from_bbox(fig.bbox)
    count = len(recorder.history)
    frames = []
    for k in np.unique(np.linspace(1, count, min(max_frames, count)).round().astype(int)):
        fig.canvas.restore_region(background)
        dashboard.update(recorder.history[:k], rescale=False)
        for artist in moving:
            fig.draw_artist(artist)
        frames.append(Image.fromarray(np.asarray(fig.canvas.buffer_rgba())).convert("RGB"))
    plt.close(fig)
    FIGURES_DIR.mkdir(parents=True, exist_ok=True)
    path = FIGURES_DIR / "05_training.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=250, loop=0)
    print(f"  animation saved: {path.relative_to(FIGURES_DIR.parent)} ({len(frames)} frames)")
    return path


def plot_weights(recorder: TrainingRecorder, image_shape) -> plt.Figure:
    """Weight histograms at a few epochs and, for images, the first layer's weights as pictures."""
    epochs = sorted(recorder.snapshots)
    n_layers = len(recorder.snapshots[0])
    fig = plt.figure(figsize=(14, 2.9 * n_layers), layout="constrained")
    left, right = fig.subfigures(1, 2, width_ratios=[1.3, 1]) if image_shape else (fig, None)
    for layer, ax in enumerate(np.atleast_1d(left.subplots(n_layers, 1))):
        for i, epoch in enumerate(epochs):
            ax.hist(recorder.snapshots[epoch][layer].ravel(), bins=40, histtype="step", lw=1.8,
                    color=plt.cm.viridis(i / max(1, len(epochs) - 1)), label=f"epoch {epoch}", density=True)
        ax.set(title=f"layer {layer + 1}: the weights spread out as they learn", xlabel="weight", ylabel="density")
        ax.legend(fontsize=8)
    if right is not None:
        first = recorder.snapshots[epochs[-1]][0]
        side = int(min(4, np.sqrt(len(first))))
        limit = np.abs(first[:side * side]).max()
        for unit, ax in enumerate(right.subplots(side, side).ravel()):
            ax.imshow(first[unit].reshape(image_shape), cmap="RdBu_r", vmin=-limit, vmax=limit)
            ax.set_title(f"unit {unit + 1}", fontsize=8)
            ax.axis("off")
        right.suptitle(f"first-layer weights of {side * side} hidden units after epoch {epochs[-1]}\n"
                       "(red: the pixel excites the unit, blue: it inhibits it)", fontsize=10)
    return fig


def plot_boundaries(recorder_model: MLP, states: dict[int, dict], data: Dataset) -> plt.Figure:
    fig, axes = plt.subplots(1, len(states), figsize=(4.2 * len(states), 3.8))
    for ax, (epoch, state) in zip(np.atleast_1d(axes), sorted(states.items())):
        recorder_model.load_state_dict(state)
        plot_decision_boundary(ax, lambda grid: predict_proba(recorder_model, grid)[:, 1], data.X_val, data.y_val,
                               f"after epoch {epoch}")
    fig.suptitle("The decision boundary taking shape (validation points)")
    fig.tight_layout()
    return fig


# ----------------------------------------------------------------------------- the three modes


def watch_training(data: Dataset, args: argparse.Namespace) -> None:
    live = interactive(args.no_show)
    states: dict[int, dict] = {}
    n_layers = len(args.hidden) + 1
    if live:
        plt.ion()
        dashboard = Dashboard(plt.figure(figsize=(15, 3.8)), n_layers, args.epochs)

    def on_epoch(recorder: TrainingRecorder) -> None:
        epoch = recorder.history[-1]["epoch"]
        if data.image_shape is None and epoch in recorder.snapshots:
            states[epoch] = copy.deepcopy(recorder.model.state_dict())
        if live:
            dashboard.update(recorder.history)
            plt.pause(0.001)

    recorder = train_and_record(data, args.hidden, epochs=args.epochs, lr=args.lr, dropout=args.dropout,
                                l2=args.l2, l1=args.l1, seed=args.seed, on_epoch=on_epoch)
    if live:
        plt.ioff()
    print("   epoch  train loss  val loss  val acc  ||W|| per layer        update/weight per layer")
    for h in recorder.history:
        if h["epoch"] in recorder.snapshots or h["epoch"] == 1:
            norms = " ".join(f"{n:6.2f}" for n in h["weight_norm"])
            ratios = " ".join(f"{r:.4f}" for r in h["update_ratio"])
            print(f"   {h['epoch']:>5}  {h['train_loss']:10.4f}  {h['val_loss']:8.4f}  {h['val_accuracy']:6.1%}"
                  f"  {norms:<22} {ratios}")
    last = recorder.history[-1]
    print(f"   final gap, validation minus train loss: {last['val_loss'] - last['train_loss']:+.4f}")

    final = Dashboard(plt.figure(figsize=(15, 3.8)), n_layers, args.epochs)
    final.update(recorder.history)
    final.fig.tight_layout()
    save_figure(final.fig, "05_training_curves")
    save_figure(plot_weights(recorder, data.image_shape), "05_weights")
    if data.image_shape is None:
        save_figure(plot_boundaries(recorder.model, states, data), "05_decision_boundaries")
    if not live:
        save_gif(recorder, args.epochs)


OVERFIT_RUNS = {  # name: (hidden sizes, dropout, L2 lambda, L1 lambda)
    "large, no regularisation": ([512, 512], 0.0, 0.0, 0.0),
    "large + dropout 0.5": ([512, 512], 0.5, 0.0, 0.0),
    "large + L2 (lambda 3e-3)": ([512, 512], 0.0, 3e-3, 0.0),
    "large + L1 (lambda 1e-4)": ([512, 512], 0.0, 0.0, 1e-4),
    "too small (4 hidden units)": ([4], 0.0, 0.0, 0.0),
}
DEFAULTS = {  # per mode; any flag overrides
    "digits": dict(hidden=[64], lr=1e-3, epochs=30),
    "moons": dict(hidden=[16, 16], lr=1e-2, epochs=30),
    "overfit": dict(hidden=[64], lr=3e-3, epochs=150),
}


def overfit_demo(data: Dataset, args: argparse.Namespace) -> None:
    rng = np.random.default_rng(args.seed)
    subset = rng.choice(len(data.X_train), size=min(args.subset, len(data.X_train)), replace=False)
    small = copy.copy(data)
    small.X_train, small.y_train = data.X_train[subset], data.y_train[subset]
    print(f"Overfitting demo: {len(subset)} training samples (of {len(data.X_train)}), "
          f"{len(data.X_val)} validation samples, {args.epochs} epochs each")
    print(f"   {'run':<30} {'train loss':>10} {'val loss':>9} {'(lowest)':>9} {'gap':>8} {'train acc':>9} "
          f"{'val acc':>8}")
    fig, axes = plt.subplots(2, len(OVERFIT_RUNS), figsize=(4 * len(OVERFIT_RUNS), 6.5), sharey="row")
    for column, (name, (hidden, dropout, l2, l1)) in enumerate(tqdm(OVERFIT_RUNS.items(), desc="runs", leave=False,
                                                                     delay=1)):
        recorder = train_and_record(small, hidden, epochs=args.epochs, lr=args.lr, dropout=dropout,
                                    l2=l2, l1=l1, seed=args.seed, quiet=True)
        last = recorder.history[-1]
        gap = last["val_loss"] - last["train_loss"]
        lowest = min(h["val_loss"] for h in recorder.history)
        print(f"   {name:<30} {last['train_loss']:10.4f} {last['val_loss']:9.4f} {lowest:9.4f} {gap:+8.4f} "
              f"{last['train_accuracy']:9.1%} {last['val_accuracy']:8.1%}")
        draw_curves(axes[0, column], axes[1, column], recorder.history, log=False)
        axes[0, column].set_ylim(0, 1.5)  # linear, to see the validation loss climb back up
        axes[0, column].set_title(f"{name}\nfinal gap {gap:+.3f}", fontsize=10)
        axes[1, column].set_title(f"val accuracy {last['val_accuracy']:.1%}", fontsize=10)
    print("   gap = validation loss - train loss. Unregularised, the large network memorises its 100 samples:\n"
          "   train loss -> 0 while validation loss climbs back up from its lowest point (overfitting).\n"
          "   Each regulariser keeps the validation loss lower and the gap smaller. The too-small network\n"
          "   cannot even fit the training set: its train loss stays high (underfitting).")
    fig.suptitle(f"Overfitting and underfitting on {len(subset)} {data.name} training samples")
    fig.tight_layout()
    save_figure(fig, "05_overfitting")


def plot_saved_history(path: Path) -> None:
    """Curves of an earlier run, from a 04 checkpoint or any JSON record (03 or 04)."""
    if path.suffix == ".pt":
        checkpoint = load_checkpoint(path)
        history, name = checkpoint["history"], f"{checkpoint['dataset']} "
    else:
        record = read_record(path)
        history, name = record["history"], f"{record['dataset']} "
    best = max(history, key=lambda h: h["val_accuracy"])
    print(f"{path}: {len(history)} epochs; best validation accuracy {best['val_accuracy']:.2%} "
          f"at epoch {best['epoch']}; final train loss {history[-1]['train_loss']:.4f}, "
          f"val loss {history[-1]['val_loss']:.4f}")
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(11, 4))
    draw_curves(ax_loss, ax_acc, history, title=name)
    fig.suptitle(f"History of {path.name}")
    fig.tight_layout()
    save_figure(fig, f"05_history_{path.stem}")


def main() -> None:
    parser = lesson_parser(__doc__)
    parser.add_argument("--dataset", choices=["digits", "moons"], default="digits",
                        help="digits (images: weights shown as pictures) or moons (2-D: decision boundaries)")
    parser.add_argument("--demo", choices=["overfit"], help="compare regularisation and network size instead")
    parser.add_argument("--checkpoint", type=Path,
                        help="plot the history of a saved run (.pt from 04 or a .json record)")
    for flag, kind, text in (("--epochs", positive_int, "epochs"), ("--lr", positive_float, "Adam learning rate")):
        per_mode = "; ".join(f"{mode} {d[flag[2:]]}" for mode, d in DEFAULTS.items())
        parser.add_argument(flag, type=kind, help=f"{text} (default: {per_mode})")
    parser.add_argument("--hidden", type=positive_int, nargs="+", help="hidden layer sizes (default: digits 64; "
                        "moons 16 16; the demo sets its own)")
    parser.add_argument("--dropout", type=dropout_rate, default=0.0, help="dropout probability, in [0, 1)")
    parser.add_argument("--l2", type=non_negative_float, default=0.0, help="L2 penalty lambda (sum of w^2)")
    parser.add_argument("--l1", type=non_negative_float, default=0.0, help="L1 penalty lambda (sum of |w|)")
    parser.add_argument("--subset", type=positive_int, default=100, help="training samples for --demo overfit")
    args = parser.parse_args()
    seed_everything(args.seed)

    if args.checkpoint:
        plot_saved_history(args.checkpoint)
        show_or_close(args.no_show)
        return
    fill_defaults(args, DEFAULTS[args.demo or args.dataset])
    data = load_dataset(args.dataset, args.seed)
    if data.image_shape is not None:
        data.standardise(*normalisation(data.X_train))
    print(data.describe())
    if args.demo == "overfit":
        overfit_demo(data, args)
    else:
        watch_training(data, args)
    show_or_close(args.no_show)


if __name__ == "__main__":
    run(main)
