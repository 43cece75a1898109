"""Lesson 05 - watch training from the inside: loss curves, weights on the move, over- and underfitting.

The question: a training run prints a few numbers per epoch. What is happening inside the network, and
how do you tell a run that learns from one that memorises, or one that is too small to learn at all?
Three parts, each a mode of the script and a section of this file:

PART 1 - WATCHING A NETWORK LEARN (the default). Every epoch the recorder keeps the train and validation
loss and accuracy (measured alike, as in lesson 03), each layer's weight norm ||W|| and relative update
||W_after - W_before|| / ||W_before||, and snapshots of the weights (``TrainingRecorder`` says how to read
each). Both losses falling: learning. Train falling while validation rises: overfitting - the network
memorises its training set instead of learning what generalises. Both stuck high however long it trains:
underfitting - the network is too small for the task (both high because training stopped too soon is
undertraining, which more epochs fix). With a display the dashboard updates live; without one (CI, SSH)
the same frames become an animated GIF beside the PNGs.

PART 2 - OVERFITTING AND ITS CURES (--demo overfit). Regularisation fights overfitting; each adds a term
to the loss or changes training, and so every weight's gradient (``penalty`` explains each):
    L2 penalty:  loss + lambda * sum w^2    gradient + 2 lambda w:     a pull towards 0, strong on big weights
    L1 penalty:  loss + lambda * sum |w|    gradient + lambda sign(w): the same pull on every weight
    dropout:     hidden units zeroed at random while training (lesson 04's ``MLP``)
The demo trains a large network on --subset digits (100) with and without each, and a network of 2 hidden units on
the whole training split until its loss stops falling, and says what each run did, from its own numbers.

PART 3 - LOOKING BACK AT A SAVED RUN (--checkpoint): a run of lesson 04 (or a record of 03), its curves,
and for a checkpoint the network rebuilt with its first layer drawn as pictures: for an MLP each unit's
weight for every pixel, for the CNN of ``04 --model cnn`` its small filters.

Run it:  python 05_visualize_training.py                 (digits, ~10 s, live or GIF)
         python 05_visualize_training.py --dataset moons  (decision boundary epoch by epoch)
         python 05_visualize_training.py --demo overfit   (~20 s)
         python 05_visualize_training.py --checkpoint models/04_mlp_digits.pt   (or models/04_cnn_mnist.pt)
"""

from __future__ import annotations

import argparse
import copy
import math
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn
from tqdm import tqdm

from common import FIGURES_DIR
from common.cli import (dropout_rate, given, lesson_parser, non_negative_float, positive_float, positive_int, run,
                        seed_everything)
from common.checkpoints import load_checkpoint
from common.data import Dataset, load_dataset, normalisation
from common.devices import check_fits
from common.lessons import lesson
from common.plotting import (check_figure_writable, draw_curves, draw_weight_pictures, interactive,
                             plot_decision_boundary, plot_regularisers, plot_weights, plt, save_figure, show_or_close)
from common.records import atomic_write, kept_epoch, read_record

_04 = lesson("04_neural_network_training")  # the networks this lesson watches train, and their loop's pieces
CNN, MLP, build_model, cosine_decay, evaluate, predict_proba = (_04.CNN, _04.MLP, _04.build_model, _04.cosine_decay,
                                                             _04.evaluate, _04.predict_proba)

SNAPSHOTS = 4  # how many epochs get a weight histogram / decision boundary panel
# The defaults of each mode, one dict each; any flag overrides them.
DIGITS = dict(hidden=[64], epochs=30, lr=1e-3)  # watching a run on the 8x8 digits
MOONS = dict(hidden=[16, 16], epochs=30, lr=1e-2)  # --dataset moons: a 2-D problem, its boundary drawn
OVERFIT = dict(hidden=[512, 512], epochs=150, lr=3e-3)  # --demo overfit: a large network on a small subset


# ----------------------------------------------------------------------------- the loop parts 1 and 2 train with


class TrainingRecorder:
    """Collects, epoch by epoch, everything the figures show, and how to read each:

    * the losses and accuracies: the model's vital signs (the docstring says what their shapes mean);
    * per layer, the weight norm and the relative update over the epoch. A healthy update ratio is small
      (per step around 1e-3, so per epoch a few percent); near 0 the layer has stopped learning, near 1
      the learning rate is too large and the weights are thrown around;
    * snapshots of the weights: their histograms start as the bell curve of He initialisation (lesson
      03) and widen as they learn. The first layer is drawn as pictures of what training *added*,
      W_last - W_init, since the random start would hide it.
    """

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
    """lambda_1 * sum |w| + lambda_2 * sum w^2 over the weights (biases are left free).

    L2's pull, 2 lambda w, is strong on big weights and weak on small ones; L1's, lambda sign(w), is the
    same on every weight, so many end up near 0 (a gradient step overshoots 0 rather than landing on it,
    so exactly 0 is rare). The optimizer is Adam, so this L2 penalty is not weight decay: Adam divides its
    gradient by sqrt(v_hat) like any other (lesson 03's ``Adam`` explains; lesson 04 decays decoupled).
    """
    weights = [layer.weight for layer in model.linear_layers()]
    total = 0.0
    if l1 > 0:
        total = total + l1 * sum(w.abs().sum() for w in weights)
    if l2 > 0:
        total = total + l2 * sum((w * w).sum() for w in weights)
    return total


def train_epoch(model: MLP, optimizer, scheduler, X: torch.Tensor, y: torch.Tensor, batch_size: int, l1: float,
                l2: float, generator: torch.Generator) -> None:
    """Mini-batch gradient descent on cross-entropy plus the regularisation penalty."""
    model.train()
    order = torch.randperm(len(X), generator=generator)
    for start in range(0, len(X), batch_size):
        batch = order[start:start + batch_size]
        loss = nn.functional.cross_entropy(model(X[batch]), y[batch]) + penalty(model, l1, l2)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        scheduler.step()


def fit(data: Dataset, hidden: list[int], *, epochs: int, lr: float, batch_size: int = 64,
        dropout: float = 0.0, l2: float = 0.0, l1: float = 0.0, activation: str = "relu", decay: bool = False,
        seed: int = 0, on_epoch=None, quiet: bool = False) -> TrainingRecorder:
    """Train a fresh MLP and record every epoch; ``on_epoch(recorder)`` runs after each (live plotting).

    Adam at a constant rate, or with ``decay`` lesson 03's cosine schedule down to 0, so the run ends settled.
    """
    torch.manual_seed(seed)
    model = MLP([data.n_features, *hidden, data.n_classes], dropout, activation)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    steps = epochs * -(-len(data.X_train) // batch_size)
    scheduler = cosine_decay(optimizer, steps) if decay else torch.optim.lr_scheduler.ConstantLR(optimizer, factor=1.0)
    generator = torch.Generator().manual_seed(seed)
    X_train, y_train = to_tensors(data.X_train, data.y_train)
    X_val, y_val = to_tensors(data.X_val, data.y_val)
    recorder, device = TrainingRecorder(model), torch.device("cpu")
    snapshot_epochs = set(np.linspace(1, epochs, SNAPSHOTS - 1).round().astype(int))
    start = time.perf_counter()
    for epoch in tqdm(range(1, epochs + 1), desc="training", leave=False, delay=1, disable=quiet):
        recorder.start_epoch()
        train_epoch(model, optimizer, scheduler, X_train, y_train, batch_size, l1, l2, generator)
        train_loss, train_accuracy = evaluate(model, [(X_train, y_train)], device)  # the whole split, one batch
        val_loss, val_accuracy = evaluate(model, [(X_val, y_val)], device)
        recorder.end_epoch(epoch, {"train_loss": train_loss, "train_accuracy": train_accuracy, "val_loss": val_loss,
                                   "val_accuracy": val_accuracy, "seconds": time.perf_counter() - start},
                           snapshot=epoch in snapshot_epochs)
        if on_epoch:
            on_epoch(recorder)
    return recorder


# ============================================================================= PART 1: watching a network learn


def watch_training(data: Dataset, *, hidden: list[int], epochs: int, lr: float, dropout: float, l2: float, l1: float,
                   seed: int, no_show: bool) -> None:
    live = interactive(no_show)
    states: dict[int, dict] = {}
    n_layers = len(hidden) + 1
    if live:
        plt.ion()
        dashboard = Dashboard(plt.figure(figsize=(15, 3.8)), n_layers, epochs)

    def on_epoch(recorder: TrainingRecorder) -> None:
        epoch = recorder.history[-1]["epoch"]
        if data.image_shape is None and epoch in recorder.snapshots:
            states[epoch] = copy.deepcopy(recorder.model.state_dict())
        if live:
            dashboard.update(recorder.history)
            plt.pause(0.001)

    recorder = fit(data, hidden, epochs=epochs, lr=lr, dropout=dropout, l2=l2, l1=l1, seed=seed, on_epoch=on_epoch)
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

    final = Dashboard(plt.figure(figsize=(15, 3.8)), n_layers, epochs)
    final.update(recorder.history)
    final.fig.tight_layout()
    save_figure(final.fig, "05_training_curves")
    save_figure(plot_weights(recorder, data.image_shape), "05_weights")
    if data.image_shape is None:
        save_figure(plot_boundaries(recorder.model, states, data), "05_decision_boundaries")
    if not live:
        save_gif(recorder, epochs)


# ============================================================================= PART 2: overfitting and its cures


REGULARISERS = {  # name: (dropout, L2 lambda, L1 lambda), each on the large network and the small subset
    "no regularisation": (0.0, 0.0, 0.0),
    "dropout 0.5": (0.5, 0.0, 0.0),
    "L2 penalty 3e-3": (0.0, 3e-3, 0.0),
    "L1 penalty 1e-4": (0.0, 0.0, 1e-4),
}
# Two tanh units on the whole training split, trained until its loss has flattened: the full split in every step and
# a cosine decay to 0, for long. tanh, because a ReLU unit this few can die (never fire again): a smaller network
# still, not the small network we mean to show.
TOO_SMALL = dict(hidden=[2], activation="tanh", lr=3e-2, batch_size=100_000, epochs=3000, decay=True)
MEMORISED = 0.1  # a final validation loss this far (or more) above the training loss: the run memorised
FLAT = 0.01  # a training loss that changed by less than 1% over the last quarter of training has flattened
NEAR_ZERO = 1e-3  # |w| below this counts as "near zero"


def near_zero_fraction(model: MLP) -> tuple[float, float]:
    """Fractions of all weights with |w| < NEAR_ZERO, and exactly 0."""
    weights = torch.cat([layer.weight.detach().ravel() for layer in model.linear_layers()])
    return (weights.abs() < NEAR_ZERO).float().mean().item(), (weights == 0).float().mean().item()


def compare_regularisers(data: Dataset, *, subset: int, hidden: list[int], epochs: int, lr: float,
                         seed: int) -> dict[str, dict]:
    """Train the large network on ``subset`` samples with each regulariser, and the too-small one on all of them.

    Returns, per run, its history, the training-set size and the near-zero weight fractions.
    """
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(data.X_train), size=min(subset, len(data.X_train)), replace=False)
    small = copy.copy(data)
    small.X_train, small.y_train = data.X_train[chosen], data.y_train[chosen]
    plans = {name: (small, dict(hidden=hidden, lr=lr, dropout=dropout, l2=l2, l1=l1))
             for name, (dropout, l2, l1) in REGULARISERS.items()}
    plans[f"{TOO_SMALL['hidden'][0]} hidden units"] = (data, TOO_SMALL)  # with its own, long training
    results = {}
    for name, (train_data, settings) in tqdm(plans.items(), desc="runs", leave=False, delay=1):
        recorder = fit(train_data, **{"epochs": epochs, **settings}, seed=seed, quiet=True)
        near_zero, exactly_zero = near_zero_fraction(recorder.model)
        stuck = None
        if settings.get("activation") == "tanh":  # a tanh unit stuck at -1 or +1 on every training image is dead
            with torch.no_grad():
                outputs = recorder.model.net[:2](torch.from_numpy(data.X_train))  # (samples, units)
            stuck = int((outputs.abs() > 0.99).all(dim=0).sum())
        right = predict_proba(recorder.model, data.X_val).argmax(1) == data.y_val  # per validation image
        results[name] = {"history": recorder.history, "n_train": len(train_data.X_train),
                         "near_zero": near_zero, "exactly_zero": exactly_zero, "right": right, "stuck": stuck}
    return results


def summarise(history: list[dict]) -> dict:
    last = history[-1]
    lowest = min(history, key=lambda h: h["val_loss"])
    return {**last, "lowest_val_loss": lowest["val_loss"], "lowest_epoch": lowest["epoch"],
            "gap": last["val_loss"] - last["train_loss"]}


def memorised(summary: dict) -> bool:
    """It fits its training samples (nearly) perfectly, and new ones clearly worse."""
    return summary["train_loss"] < 0.01 and summary["gap"] > MEMORISED


def sign_test(better: int, worse: int) -> float:
    """The chance that fair coin tosses, one per differing image, split at least as unevenly as better : worse."""
    n, k = better + worse, min(better, worse)
    return min(1.0, 2 * sum(math.comb(n, i) for i in range(k + 1)) / 2**n) if n else 1.0


def explain_regularisers(results: dict[str, dict], n_val: int) -> None:
    """Say what each run did, from its own numbers."""
    names = list(results)
    base, too_small = summarise(results[names[0]]["history"]), results[names[-1]]
    history = results[names[0]]["history"]
    after = max(history[base["lowest_epoch"] - 1:], key=lambda h: h["val_loss"])  # the highest from the lowest on
    print(f"\n   {names[0]}: train loss fell to {base['train_loss']:.4f} ({base['train_accuracy']:.0%} of its "
          f"{results[names[0]]['n_train']} samples right);\n   validation loss was lowest at epoch "
          f"{base['lowest_epoch']} ({base['lowest_val_loss']:.3f}), highest after that at epoch {after['epoch']} "
          f"({after['val_loss']:.3f}), and ended at {base['val_loss']:.3f},\n   {base['gap']:.3f} above the train loss "
          "(the gap in the figure): " + ("it fits its own samples far better than new ones - it memorised them: "
                                          "overfitting." if memorised(base) else "no sign of memorising."))
    for name in names[1:-1]:
        summary = summarise(results[name]["history"])
        final = "lower" if summary["val_loss"] < base["val_loss"] else "higher"
        lowest = "lower" if summary["lowest_val_loss"] < base["lowest_val_loss"] else "higher"
        gap = "smaller" if summary["gap"] < base["gap"] else "larger"
        print(f"   {name}: final validation loss {summary['val_loss']:.3f} ({final}), "
              f"lowest {summary['lowest_val_loss']:.3f} "
              f"({lowest}), gap {summary['gap']:+.3f} ({gap}) than without regularisation.")
    l1_name = next(name for name in names if name.startswith("L1"))
    l1, free = results[l1_name], results[names[0]]
    print(f"   {l1_name}: {l1['near_zero']:.0%} of the weights are within {NEAR_ZERO:g} of 0 "
          f"(without regularisation {free['near_zero']:.0%}); exactly 0: {l1['exactly_zero']:.1%}.")
    # Two runs' accuracies differ only on the images one gets right and the other wrong. Were the runs equally good,
    # each would be a coin toss: the sign test's p is the chance of a split at least as lopsided as the one seen.
    print(f"   Validation accuracy against the unregularised run, on the same {n_val} images (a sign test on the "
          "images where they differ):")
    for name in names[1:-1]:
        better = int((results[name]["right"] & ~results[names[0]]["right"]).sum())
        worse = int((~results[name]["right"] & results[names[0]]["right"]).sum())
        p = sign_test(better, worse)
        print(f"     {name}: {100 * (better - worse) / n_val:+.1f} points ({better} images better, {worse} worse): "
              f"p = {p:.2f}, " + ("beyond what chance explains (p < 0.05)" if p < 0.05 else
                                  "within what chance explains"))
    print("   The loss, which sees how confident each answer is, tells more.")
    history = too_small["history"]
    quarter, last = history[-len(history) // 4 - 1], history[-1]
    change = (last["train_loss"] - quarter["train_loss"]) / quarter["train_loss"]  # negative: it fell
    flat = abs(change) < FLAT
    print(f"   {names[-1]}, trained on all {too_small['n_train']} training samples for {last['epoch']} epochs: train "
          f"accuracy {last['train_accuracy']:.1%}, validation {last['val_accuracy']:.1%};\n   its train loss went "
          f"from {quarter['train_loss']:.4f} (epoch {quarter['epoch']}) to {last['train_loss']:.4f} over the last "
          f"quarter ({change:+.2%}): {'it has flattened' if flat else 'still moving'}.\n   Hidden units stuck at "
          f"-1 or +1 on every training image: {too_small['stuck']}. The large network on its "
          f"{results[names[0]]['n_train']} samples reached a "
          f"train loss of {base['train_loss']:.4f}.")
    if flat and too_small["stuck"] == 0 and last["train_accuracy"] < 0.9:
        print("   Trained to the end, every unit working, it still cannot fit its training data: underfitting.\n"
              "   Too small a network, not too short a training.")
    elif not flat:
        print("   Its loss was still changing: it may only be undertrained; more epochs would tell.")
    else:
        print("   It fits its training data well enough, or a unit stopped working: no clean underfitting here.")


def overfit_demo(data: Dataset, *, subset: int, hidden: list[int], epochs: int, lr: float, seed: int) -> None:
    print(f"Overfitting demo: a {'-'.join(map(str, hidden))} network on {min(subset, len(data.X_train))} training "
          f"samples (of {len(data.X_train)}), {len(data.X_val)} validation samples, {epochs} epochs each")
    results = compare_regularisers(data, subset=subset, hidden=hidden, epochs=epochs, lr=lr, seed=seed)
    print(f"   {'run':<22} {'samples':>7} {'train loss':>10} {'val loss':>8} {'lowest':>7} {'gap':>7} "
          f"{'train acc':>9} {'val acc':>7}")
    summaries = {name: summarise(result["history"]) for name, result in results.items()}
    for (name, result), summary in zip(results.items(), summaries.values()):
        print(f"   {name:<22} {result['n_train']:>7} {summary['train_loss']:10.4f} {summary['val_loss']:8.3f} "
              f"{summary['lowest_val_loss']:7.3f} {summary['gap']:+7.3f} {summary['train_accuracy']:9.1%} "
              f"{summary['val_accuracy']:7.1%}")
    print("   (gap = final validation loss - final train loss; lowest = lowest validation loss of the run)")
    explain_regularisers(results, len(data.X_val))
    save_figure(plot_regularisers(results, data.name), "05_overfitting")
    names = list(summaries)
    shorter = sum(summaries[name]["gap"] < summaries[names[0]]["gap"] for name in names[1:-1])
    print(f"   In the figure, the arrow at the right end of each loss panel is its run's gap: {shorter} of the "
          f"{len(names) - 2} regularised runs end with a shorter one than the unregularised run.")

# ============================================================================= PART 3: a saved run (--checkpoint)


def first_layer_pictures(model: MLP | CNN, input_shape: list[int]) -> tuple[np.ndarray, str]:
    """What the first layer looks for, as pictures: a CNN's filters, or an MLP unit's weight for each pixel."""
    if isinstance(model, CNN):
        filters = model.features[0][0].weight.detach()[:, 0].numpy()  # (C1, k, k): one grey input channel
        return filters[:16], (f"{min(16, len(filters))} of the CNN's first-layer filters ({len(filters)} in all, "
                              f"{model.kernel}x{model.kernel} pixels each)")
    weights = model.linear_layers()[0].weight.detach().numpy()  # (hidden, pixels)
    he = np.sqrt(2 / weights.shape[1])
    return weights[:16].reshape(-1, *input_shape), (
        f"the weights of {min(16, len(weights))} of the MLP's {len(weights)} first-layer units, one per pixel;\n"
        f"their std is {weights.std():.3f} against {he:.3f} at the random (He) start, so much of each picture is that "
        "start:\nlook for the smooth red and blue blobs among the speckle "
        "(05's own run draws only what training added)")


def plot_saved_history(path: Path) -> None:
    """Curves of an earlier run, from a 04 checkpoint or any JSON record (03 or 04); a checkpoint's first layer."""
    model = None
    if path.suffix == ".pt":
        checkpoint = load_checkpoint(path)
        model = build_model(checkpoint)  # an MLP or a CNN, whichever the checkpoint describes
        history, name = checkpoint["history"], f"{checkpoint['dataset']} "
        print(f"{path}: {model.describe()}, {sum(p.numel() for p in model.parameters()):,} parameters")
    else:
        checkpoint = read_record(path)
        history, name = checkpoint["history"], f"{checkpoint['dataset']} "
    # 04 keeps the epoch of lowest validation loss and says which; 03 keeps its last epoch.
    kept = kept_epoch(checkpoint)
    why = "the lowest validation loss" if "best_epoch" in checkpoint else "the last epoch"
    print(f"{path}: {len(history)} epochs; the saved weights are epoch {kept['epoch']}'s, {why}: validation loss "
          f"{kept['val_loss']:.4f}, accuracy {kept['val_accuracy']:.2%}; at the last epoch train loss "
          f"{history[-1]['train_loss']:.4f}, validation loss {history[-1]['val_loss']:.4f}")
    fig = plt.figure(figsize=(16 if model else 11, 4.2), layout="constrained")
    curves, pictures = fig.subfigures(1, 2, width_ratios=[2.3, 1]) if model else (fig, None)
    draw_curves(*curves.subplots(1, 2), history, title=name, kept=kept["epoch"])
    if pictures is not None:
        images, what = first_layer_pictures(model, checkpoint["input_shape"])
        draw_weight_pictures(pictures, images)
        pictures.suptitle(f"{what}\n(red: positive weight, blue: negative)", fontsize=9)
    fig.suptitle(f"History of {path.name}")
    save_figure(fig, f"05_history_{path.stem}")


# ------------------------------------------ plumbing: drawing, the command line (not the lesson)


class Dashboard:
    """Four panels - loss, accuracy, weight norm, update ratio - whose lines are updated epoch by epoch.

    The axes are built once and only the lines' data change, which is what
    makes a live view smooth and a GIF of many frames quick to render.
    """

    def __init__(self, fig: plt.Figure, n_layers: int, epochs: int):
        self.fig, self.epochs = fig, epochs
        self.axes = fig.subplots(1, 4)
        ax_loss, ax_acc, ax_norm, ax_ratio = self.axes
        dot = dict(marker=".", markersize=4)  # so the first epoch, a single point, shows too
        self.lines = {
            "train_loss": ax_loss.plot([], [], color="C0", label="train", **dot)[0],
            "val_loss": ax_loss.plot([], [], color="C1", label="validation", **dot)[0],
            "train_accuracy": ax_acc.plot([], [], color="C0", label="train", **dot)[0],
            "val_accuracy": ax_acc.plot([], [], color="C1", label="validation", **dot)[0],
            "weight_norm": [ax_norm.plot([], [], label=f"layer {i + 1}", **dot)[0] for i in range(n_layers)],
            "update_ratio": [ax_ratio.plot([], [], label=f"layer {i + 1}", **dot)[0] for i in range(n_layers)],
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
    path = FIGURES_DIR / "05_training.gif"
    atomic_write(path, lambda tmp: frames[0].save(tmp, format="GIF", save_all=True, append_images=frames[1:],
                                                  duration=250, loop=0))
    print(f"  animation saved: {path.relative_to(FIGURES_DIR.parent)} ({len(frames)} frames)")
    return path


def plot_boundaries(recorder_model: MLP, states: dict[int, dict], data: Dataset) -> plt.Figure:
    fig, axes = plt.subplots(1, len(states), figsize=(4.2 * len(states), 3.8))
    for ax, (epoch, state) in zip(np.atleast_1d(axes), sorted(states.items())):
        recorder_model.load_state_dict(state)
        plot_decision_boundary(ax, lambda grid: predict_proba(recorder_model, grid)[:, 1], data.X_val, data.y_val,
                               f"after epoch {epoch}")
    fig.suptitle("The decision boundary taking shape (validation points)")
    fig.tight_layout()
    return fig


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = lesson_parser(__doc__)
    parser.add_argument("--dataset", choices=["digits", "moons"], default="digits",
                        help="digits (images: weights shown as pictures) or moons (2-D: decision boundaries)")
    parser.add_argument("--demo", choices=["overfit"],
                        help="compare regularisers on a small subset, and a too-small network")
    parser.add_argument("--checkpoint", type=Path,
                        help="plot the history of a saved run (.pt from 04, MLP or CNN, or a .json record)")
    # The defaults shown follow --demo and --dataset: add them to --help to see the others.
    parser.add_argument("--hidden", type=positive_int, nargs="+", help="hidden layer sizes")
    parser.add_argument("--epochs", type=positive_int, help="epochs")
    parser.add_argument("--lr", type=positive_float, help="Adam learning rate")
    parser.add_argument("--dropout", type=dropout_rate, default=0.0, help="dropout probability, in [0, 1)")
    parser.add_argument("--l2", type=non_negative_float, default=0.0,
                        help="L2 penalty lambda: adds lambda * sum w^2 to the loss")
    parser.add_argument("--l1", type=non_negative_float, default=0.0,
                        help="L1 penalty lambda: adds lambda * sum |w| to the loss")
    parser.add_argument("--subset", type=positive_int, default=100, help="training samples for --demo overfit")
    mode = OVERFIT if given("--demo", argv) == "overfit" else MOONS if given("--dataset", argv) == "moons" else DIGITS
    parser.set_defaults(**mode)  # any flag overrides
    return parser.parse_args(argv)


def main() -> None:
    args = parse_args()
    seed_everything(args.seed)
    check_figure_writable("05_training_curves")

    if args.checkpoint:
        plot_saved_history(args.checkpoint)
        show_or_close(args.no_show)
        return
    data = load_dataset(args.dataset, args.seed)
    sizes = [data.n_features, *args.hidden, data.n_classes]
    check_fits(lambda: MLP(sizes), f"--hidden {' '.join(map(str, args.hidden))}")  # before building the network
    if data.image_shape is not None:
        data.standardise(*normalisation(data.X_train))
    print(data.describe())
    if args.demo == "overfit":
        overfit_demo(data, subset=args.subset, hidden=args.hidden, epochs=args.epochs, lr=args.lr, seed=args.seed)
    else:
        watch_training(data, hidden=args.hidden, epochs=args.epochs, lr=args.lr, dropout=args.dropout, l2=args.l2,
                       l1=args.l1, seed=args.seed, no_show=args.no_show)
    show_or_close(args.no_show)


if __name__ == "__main__":
    run(main)
