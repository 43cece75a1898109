"""Figures that work the same on a laptop and on a headless CI machine. Plumbing: no lesson teaches it,
except the decision-boundary picture, which lesson 02 explains; the layouts of a few lessons' figures are here too.

Every figure is saved as a PNG under ``figures/``. A window opens only when a
display exists and the user did not pass ``--no-show``; without a display
matplotlib is switched to the non-interactive Agg backend before pyplot is
imported, so nothing can block or fail for want of a screen.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Callable

import matplotlib
import numpy as np

from common import FIGURES_DIR, UserError
from common.records import atomic_write, check_writable, read_record


def display_available() -> bool:
    """True when a window could be shown (a desktop session, not CI or plain SSH)."""
    if os.environ.get("CI"):
        return False
    if sys.platform in ("win32", "darwin"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


if not display_available():
    matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)

plt.rcParams.update({"figure.dpi": 100, "axes.grid": True, "grid.alpha": 0.3, "font.size": 10})


def interactive(no_show: bool) -> bool:
    """Should figures be shown in windows?"""
    return not no_show and display_available()


def check_figure_writable(name: str) -> None:
    """Before any long work: fail now, in one line, if figures/<name>.png could not be saved later."""
    check_writable(FIGURES_DIR / f"{name}.png")


def save_figure(fig: plt.Figure, name: str) -> Path:
    """Save ``fig`` as ``figures/<name>.png``, print where, and return the path."""
    path = FIGURES_DIR / f"{name}.png"
    atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight"))
    print(f"  figure saved: {path.relative_to(FIGURES_DIR.parent)}")
    return path


def show_or_close(no_show: bool) -> None:
    """Open the windows (blocking until they are closed) or just release the figures."""
    if interactive(no_show):
        plt.show()
    plt.close("all")


def plot_regression(ax: plt.Axes, X: np.ndarray, y: np.ndarray, grid: np.ndarray,
                    curves: dict[str, np.ndarray]) -> None:
    """The data as grey dots, then each named curve over ``grid``: the first dashed (the truth), the rest solid."""
    ax.scatter(X, y, s=10, color="0.5", label="noisy data")
    for i, (label, curve) in enumerate(curves.items()):
        ax.plot(grid, curve, **({"color": "k", "ls": "--", "lw": 1} if i == 0 else {"color": f"C{i + 2}", "lw": 2}),
                label=label)
    ax.set(title="Regression: the network's function", xlabel="x", ylabel="y")
    ax.legend(fontsize=8)


def plot_decision_boundary(
    ax: plt.Axes,
    predict_proba: Callable[[np.ndarray], np.ndarray],
    X: np.ndarray,
    y: np.ndarray,
    title: str,
    margin: float = 0.5,
    resolution: int = 200,
) -> None:
    """Shade the plane by predicted class-1 probability and draw the points on top.

    ``predict_proba`` maps an (n, 2) array of points to n probabilities of class 1.
    """
    x0, x1 = X[:, 0].min() - margin, X[:, 0].max() + margin
    y0, y1 = X[:, 1].min() - margin, X[:, 1].max() + margin
    gx, gy = np.meshgrid(np.linspace(x0, x1, resolution), np.linspace(y0, y1, resolution))
    grid = np.c_[gx.ravel(), gy.ravel()]
    p = np.asarray(predict_proba(grid)).reshape(gx.shape)
    flat = p.max() - p.min() < 1e-3  # one value everywhere: no boundary, only rounding noise to draw
    if flat:
        p = np.full_like(p, p.mean())
    ax.contourf(gx, gy, p, levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.6, vmin=0, vmax=1)
    if not flat:
        ax.contour(gx, gy, p, levels=[0.5], colors="k", linewidths=1.5)
    ax.scatter(X[:, 0], X[:, 1], c=y, cmap="RdBu_r", edgecolors="k", s=30 if len(X) > 10 else 120, vmin=0, vmax=1)
    ax.set_title(title)
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.grid(False)


def plot_confusion_matrix(matrix: np.ndarray, class_names: tuple[str, ...], title: str) -> plt.Figure:
    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    image = ax.imshow(matrix, cmap="Blues")
    for (i, j), value in np.ndenumerate(matrix):
        ax.text(j, i, str(value), ha="center", va="center", fontsize=8,
                color="white" if value > matrix.max() / 2 else "black")
    ax.set(xticks=range(len(class_names)), yticks=range(len(class_names)), xticklabels=class_names,
           yticklabels=class_names, xlabel="predicted class", ylabel="true class", title=title)
    ax.grid(False)
    fig.colorbar(image, ax=ax, fraction=0.046)
    fig.tight_layout()
    return fig


def plot_attention_maps(weights: list[np.ndarray], chars: list[str], notes: dict | None = None) -> plt.Figure:
    """Lesson 07's picture: each head's weights (nh, T, T) in the first and last block; row t = where t looks.

    ``notes[(block, head)]`` is a line under that head's title (07 says there where the head looks)."""
    layers = sorted({0, len(weights) - 1})
    n_head = len(weights[0])
    labels = [c if c != " " else "_" for c in chars]
    fig, axes = plt.subplots(len(layers), n_head, figsize=(4.2 * n_head, 4.4 * len(layers)), squeeze=False)
    for row, layer in enumerate(layers):
        for h in range(n_head):
            ax = axes[row, h]
            image = ax.imshow(weights[layer][h], cmap="viridis", vmin=0, vmax=1)
            ax.set_xticks(range(len(chars)), labels, fontsize=6)
            ax.set_yticks(range(len(chars)), labels, fontsize=6)
            note = (notes or {}).get((layer, h))
            ax.set_title(f"block {layer + 1}, head {h + 1}" + (f"\n{note}" if note else ""), fontsize=10)
            ax.grid(False)
        axes[row, 0].set_ylabel("query: position t")
    for ax in axes[-1]:
        ax.set_xlabel("key: position s <= t")
    fig.suptitle(f"Attention weights on {''.join(chars)!r} (upper triangle empty: no position sees the future)")
    fig.tight_layout(h_pad=2.5)
    fig.colorbar(image, ax=axes, fraction=0.02, pad=0.01, label="weight (each row sums to 1)")
    return fig


def plot_ladder(names: list[str], losses: list[float], uniform: float) -> plt.Figure:
    """Lesson 07's picture: each rung's validation loss, against a uniform guess."""
    fig, ax = plt.subplots(figsize=(9, 4))
    bars = ax.barh(range(len(names)), losses, color="tab:blue")
    ax.bar_label(bars, fmt="%.3f", padding=3)
    ax.axvline(uniform, color="k", ls="--", lw=1, label=f"uniform guess, ln {round(np.exp(uniform))}")
    ax.set(yticks=range(len(names)), yticklabels=names, xlabel="validation loss (nats per character, lower is better)",
           xlim=(0, uniform * 1.12), title="Each rung of the ladder, trained for the same number of steps")
    ax.invert_yaxis()
    ax.legend(loc="lower right")
    fig.tight_layout()
    return fig


def plot_bits_per_char(history: list[dict], learning_rates: list[float], title: str) -> plt.Figure:
    """Lesson 08's picture: train and validation bits per character at each evaluation, and below them the
    learning rate at every step."""
    steps = [h["step"] for h in history]
    fig, (ax, lr_axis) = plt.subplots(2, 1, figsize=(8, 5.5), sharex=True, height_ratios=[3, 1])
    ax.plot(steps, [h["train_bpc"] for h in history], "o-", label="train (fixed windows, eval mode)")
    ax.plot(steps, [h["val_bpc"] for h in history], "o-", label="validation (the whole last 10%)")
    best = min(history, key=lambda h: h["val_bpc"])
    ax.annotate(f"best {best['val_bpc']:.3f}", (best["step"], best["val_bpc"]), textcoords="offset points",
                xytext=(-60, 25), arrowprops={"arrowstyle": "->"})
    ax.set(ylabel="cross-entropy (bits per character)", title=title)
    ax.legend(loc="upper right")
    lr_axis.plot(range(1, len(learning_rates) + 1), learning_rates, color="grey")
    lr_axis.set(xlabel="training step", ylabel="learning rate")
    fig.tight_layout()
    return fig


def plot_history(record: dict) -> plt.Figure:
    """Lesson 03's picture: its run's train and validation loss, and validation against test accuracy."""
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(12, 4.2))
    epochs = [h["epoch"] for h in record["history"]]
    ax_loss.plot(epochs, [h["train_loss"] for h in record["history"]], marker=".", label="train")
    ax_loss.plot(epochs, [h["val_loss"] for h in record["history"]], marker=".", label="validation")
    ax_loss.set(title="Loss", xlabel="epoch", ylabel=record["loss"], yscale="log")
    ax_acc.plot(epochs, [100 * h["val_accuracy"] for h in record["history"]], marker=".", color="C1")
    ax_acc.axhline(100 * record["test_accuracy"], color="k", ls="--", lw=1,
                   label=f"test accuracy {record['test_accuracy']:.2%}")
    ax_acc.set(title="Validation accuracy", xlabel="epoch", ylabel="accuracy (%)")
    low, high = ax_acc.get_ylim()  # axhline does not widen the axis: make room for the test line
    test = 100 * record["test_accuracy"]
    ax_acc.set_ylim(min(low, test), max(high, test) + 0.05 * (high - low))
    for ax in (ax_loss, ax_acc):
        ax.legend()
    sizes = "-".join(map(str, record["layer_sizes"]))
    fig.suptitle(f"NumPy MLP {sizes} on {record['dataset']} ({record['activation']} + {record['loss']})")
    fig.tight_layout()
    return fig


def compare_with_other_runs(record: dict, json_path: Path) -> None:
    """Lesson 03's comparison: this run's validation curves beside those of its records that differ from it in
    the loss and activation alone."""
    same_setup = []
    for path in sorted(json_path.parent.glob(f"03_mlp_{record['dataset']}_*.json")):
        if path == json_path:
            continue
        try:
            other = read_record(path)
        except UserError:
            continue  # not a readable record: nothing to compare with
        if (other.get("layer_sizes"), other.get("hyperparameters")) == (record["layer_sizes"],
                                                                          record["hyperparameters"]):
            same_setup.append((path, other))
    if not same_setup:
        twin = "--loss mse --activation sigmoid" if record["loss"] == "cross_entropy" else "(default flags)"
        print(f"   tip: run again with {twin} and the same other flags to compare the two set-ups in one figure")
        return
    runs = [(json_path, record), *same_setup]
    fig, (ax_error, ax_acc) = plt.subplots(1, 2, figsize=(12, 4.2))
    print("   comparison with the runs of the same network, data, hyperparameters and seed:")
    labels = []
    for path, run_record in runs:
        label = f"{run_record['activation']} + {run_record['loss']}"
        labels.append(label)
        epochs = [h["epoch"] for h in run_record["history"]]
        # The two losses are in different units; the error rate compares them fairly.
        ax_error.plot(epochs, [100 * (1 - h["val_accuracy"]) for h in run_record["history"]], marker=".", label=label)
        ax_acc.plot(epochs, [100 * h["val_accuracy"] for h in run_record["history"]], marker=".", label=label)
        first = run_record["history"][0]["val_accuracy"]
        print(f"     {label:<28} val accuracy after epoch 1: {first:.2%}, at the end: "
              f"{run_record['history'][-1]['val_accuracy']:.2%}; test {run_record['test_accuracy']:.2%}  ({path.name})")
    ax_error.set(title="Validation error (log scale)", xlabel="epoch", ylabel="misclassified (%)", yscale="log")
    ax_acc.set(title="Validation accuracy", xlabel="epoch", ylabel="accuracy (%)")
    for ax in (ax_error, ax_acc):
        ax.legend()
    fig.suptitle(f"{record['dataset']}: " + " vs ".join(labels) + " (same network, data and settings)")
    fig.tight_layout()
    save_figure(fig, f"03_{record['dataset']}_loss_comparison")


def draw_curves(ax_loss: plt.Axes, ax_acc: plt.Axes, history: list[dict], title: str = "", log: bool = True,
                kept: int | None = None) -> None:
    """Train and validation loss and accuracy per epoch; ``kept`` marks the epoch whose weights were saved."""
    epochs = [h["epoch"] for h in history]
    ax_loss.plot(epochs, [h["train_loss"] for h in history], label="train", color="C0")
    ax_loss.plot(epochs, [h["val_loss"] for h in history], label="validation", color="C1")
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy", title=f"{title}loss", yscale="log" if log else "linear")
    if "train_accuracy" in history[0]:
        ax_acc.plot(epochs, [100 * h["train_accuracy"] for h in history], label="train", color="C0")
    ax_acc.plot(epochs, [100 * h["val_accuracy"] for h in history], label="validation", color="C1")
    ax_acc.set(xlabel="epoch", ylabel="accuracy (%)", title=f"{title}accuracy")
    for ax in (ax_loss, ax_acc):
        if kept is not None:
            ax.axvline(kept, color="k", ls=":", lw=1.2, label=f"kept: epoch {kept}")
        ax.legend(fontsize=8)


def draw_weight_pictures(panel, images: np.ndarray) -> None:
    """Weights as pictures in a square grid, on one colour scale centred on 0 (red positive, blue negative)."""
    side = int(np.ceil(np.sqrt(len(images))))
    limit = np.abs(images).max()
    for ax in panel.subplots(side, side).ravel():
        ax.axis("off")
    for ax, image in zip(panel.axes, images):
        ax.imshow(image, cmap="RdBu_r", vmin=-limit, vmax=limit)


def plot_weights(recorder, image_shape) -> plt.Figure:
    """Weight histograms at a few epochs and, for images, the first layer's weights as pictures."""
    epochs = sorted(recorder.snapshots)
    n_layers = len(recorder.snapshots[0])
    fig = plt.figure(figsize=(14, 2.9 * n_layers), layout="constrained")
    left, right = fig.subfigures(1, 2, width_ratios=[1.3, 1]) if image_shape else (fig, None)
    for layer, ax in enumerate(np.atleast_1d(left.subplots(n_layers, 1))):
        bins = int(np.clip(np.sqrt(recorder.snapshots[0][layer].size), 5, 40))  # 32 weights do not fill 40 bins
        for i, epoch in enumerate(epochs):
            ax.hist(recorder.snapshots[epoch][layer].ravel(), bins=bins, histtype="step", lw=1.8,
                    color=plt.cm.viridis(i / max(1, len(epochs) - 1)), label=f"epoch {epoch}", density=True)
        start, end = recorder.snapshots[0][layer], recorder.snapshots[epochs[-1]][layer]
        he = np.sqrt(2 / start.shape[1])  # PyTorch stores W as (fan_out, fan_in)
        ax.set(title=f"layer {layer + 1}: std {start.std():.3f} at start (He: sqrt(2/{start.shape[1]}) = {he:.3f}), "
                     f"{end.std():.3f} after epoch {epochs[-1]}", xlabel="weight", ylabel="density")
        ax.legend(fontsize=8)
    if right is not None:
        learned = recorder.snapshots[epochs[-1]][0] - recorder.snapshots[0][0]
        side = int(min(4, np.sqrt(len(learned))))
        draw_weight_pictures(right, learned[:side * side].reshape(-1, *image_shape))
        for unit, ax in enumerate(right.axes):
            ax.set_title(f"unit {unit + 1}", fontsize=8)
        right.suptitle(f"what training added to the first-layer weights of {side * side} hidden units,\n"
                       f"W(epoch {epochs[-1]}) - W(epoch 0) (red: the pixel now excites the unit more, "
                       "blue: less)", fontsize=10)
    return fig


def plot_regularisers(results: dict[str, dict], dataset: str) -> plt.Figure:
    """Lesson 05's --demo overfit: each run's loss and accuracy curves, side by side."""
    fig, axes = plt.subplots(2, len(results), figsize=(4 * len(results), 6.5), sharey="row")
    for column, (name, result) in enumerate(results.items()):
        history = result["history"]
        last, lowest = history[-1], min(h["val_loss"] for h in history)
        draw_curves(axes[0, column], axes[1, column], history, log=False)
        axes[0, column].set_ylim(0, 2.0)  # linear: the gap between the curves is a distance to read off
        gap = last["val_loss"] - last["train_loss"]
        axes[0, column].annotate("", (last["epoch"], last["val_loss"]), (last["epoch"], last["train_loss"]),
                                 arrowprops={"arrowstyle": "<->", "color": "k"})
        axes[0, column].annotate(f"gap {gap:.2f}", (last["epoch"], (last["val_loss"] + last["train_loss"]) / 2),
                                 textcoords="offset points", xytext=(-6, 0), ha="right", va="center", fontsize=9)
        axes[0, column].set_title(f"{name}, {result['n_train']} samples\nlowest val loss "
                                  f"{lowest:.3f}, final {last['val_loss']:.3f}", fontsize=10)
        axes[1, column].set_title(f"train {last['train_accuracy']:.1%}, val {last['val_accuracy']:.1%}",
                                  fontsize=10)
    fig.suptitle(f"Overfitting, regularisation and underfitting on {dataset}")
    fig.tight_layout()
    return fig
