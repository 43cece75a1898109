"""Lesson 04 - the same network in PyTorch, trained on real data, kept in models/ for later.

Lesson 03 wrote every step by hand. PyTorch does the calculus for us - autograd
records the forward pass and runs the chain rule backwards - so the training
loop shrinks to five lines, each the twin of something 03 did:

    optimizer.zero_grad()          # 03 overwrote dW, db in every backward; PyTorch adds to .grad, so clear it
    logits = model(x)              # 03: MLP.forward, Dense after Dense
    loss = criterion(logits, y)    # 03: softmax_cross_entropy (softmax + one-hot built in)
    loss.backward()                # 03: MLP.backward, the chain rule layer by layer
    optimizer.step()               # 03: Adam.step, p <- p - lr * update

Good practice around that loop:
* Three splits. The network learns from the training split; the validation
  split picks the best epoch (model selection); the test split is touched once,
  at the very end, so its accuracy is an honest estimate for new data.
* Inputs are standardised, x' = (x - mean) / std, with mean and std from the
  training split only, and stored in the checkpoint so lesson 06 can do the same.
* Dropout: while training, each hidden unit's output is zeroed with
  probability p, and the survivors are multiplied by 1 / (1 - p) ("inverted"
  dropout), so the expected input to the next layer is unchanged. No unit can
  rely on another being there. At evaluation (``model.eval()``) dropout is
  off and nothing is rescaled: every unit takes part.
* Weight decay, decoupled as in lesson 03 (AdamW: w <- w - lr wd w beside the
  Adam step; weights only, biases stay free). With --optimizer sgd it is the
  L2 gradient wd * w added before the momentum step.
* Early stopping: the validation loss is checked after every epoch and the
  weights of the best epoch are kept, whatever happens after it. (Training
  runs to the end here, to draw the whole curve; stopping once the validation
  loss has not improved for a few epochs would save that time.)
* Train and validation loss are measured alike: after each epoch, in eval
  mode, on the validation split and on as many training examples. (The
  running mean over the epoch's batches has dropout on and older weights.)
* Accuracy alone hides which classes fail. For each class k, with the confusion
  matrix C (row = true class, column = predicted class):
      precision_k = C[k,k] / sum_i C[i,k]   (of what we called k, how much was k)
      recall_k    = C[k,k] / sum_j C[k,j]   (of the real k's, how many we found)
      F1_k        = 2 precision_k recall_k / (precision_k + recall_k)

Run it:  python 04_neural_network_training.py                       (8x8 digits, a few seconds)
         python 04_neural_network_training.py --dataset mnist --data-dir data/mnist
"""

from __future__ import annotations

import argparse
import copy
import math
import time

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from common import MODELS_DIR, UserError
from common.cli import (
    add_mnist_arguments,
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
from common.data import Dataset, load_dataset, normalisation
from common.nets import CHECKPOINT_FORMAT, MLP, evaluate, pick_device, save_checkpoint
from common.plotting import plt, save_figure, show_or_close
from common.records import write_record

DEFAULTS = {  # per data set, chosen on validation accuracy; --help shows them, any flag overrides them
    "digits": dict(hidden=[512], epochs=30, batch_size=64, lr=2e-3, dropout=0.3, weight_decay=0.1),
    "mnist": dict(hidden=[1024, 1024], epochs=20, batch_size=128, lr=1e-3, dropout=0.3, weight_decay=0.1),
}


class Diverged(UserError):
    """The loss became NaN or infinite."""


def make_loader(X: np.ndarray, y: np.ndarray, batch_size: int, shuffle: bool, seed: int = 0):
    """Mini-batches of (inputs, labels) tensors, reshuffled every epoch when ``shuffle``.

    The sampler hands the dataset a whole batch of indices at once, so each
    batch is one tensor indexing operation rather than ``batch_size`` separate
    look-ups glued together - on small data that is most of the training time.
    """
    dataset = torch.utils.data.TensorDataset(torch.from_numpy(X), torch.from_numpy(y))
    generator = torch.Generator().manual_seed(seed)  # the shuffling order follows --seed
    order = (torch.utils.data.RandomSampler(dataset, generator=generator) if shuffle
             else torch.utils.data.SequentialSampler(dataset))
    batches = torch.utils.data.BatchSampler(order, batch_size=batch_size, drop_last=False)
    return torch.utils.data.DataLoader(dataset, sampler=batches, batch_size=None)


def train_epoch(model, loader, criterion, optimizer, scheduler, device, progress: tqdm) -> None:
    """One pass over the training data, one optimiser step per mini-batch."""
    model.train()  # dropout on
    for x, y in loader:
        x, y = x.to(device), y.to(device)
        optimizer.zero_grad()
        logits = model(x)
        loss = criterion(logits, y)
        loss.backward()
        optimizer.step()
        scheduler.step()
        value = loss.item()
        if not math.isfinite(value):
            raise Diverged(f"the loss became {value} - training stopped, nothing saved. Try a smaller --lr")
        progress.update(len(y))
        progress.set_postfix(batch_loss=f"{value:.4f}", refresh=False)


def make_optimizer(model: nn.Module, name: str, lr: float, weight_decay: float) -> torch.optim.Optimizer:
    """AdamW (decoupled decay) or SGD with momentum (L2 gradient); weight matrices decay, biases do not."""
    groups = [{"params": [p for p in model.parameters() if p.ndim > 1], "weight_decay": weight_decay},
              {"params": [p for p in model.parameters() if p.ndim <= 1], "weight_decay": 0.0}]
    if name == "adam":
        return torch.optim.AdamW(groups, lr=lr)
    return torch.optim.SGD(groups, lr=lr, momentum=0.9)


def fit(model, data: Dataset, *, optimizer: str, epochs: int, batch_size: int, lr: float, weight_decay: float,
        seed: int, device: torch.device) -> tuple[list[dict], dict, int]:
    """Train for ``epochs``; return the history, and the weights and number of the lowest-validation-loss epoch."""
    train_loader = make_loader(data.X_train, data.y_train, batch_size, shuffle=True, seed=seed)
    n_val = len(data.X_val)  # the training loss is measured on as many examples as the validation loss
    train_check = make_loader(data.X_train[:n_val], data.y_train[:n_val], 1024, shuffle=False)
    val_loader = make_loader(data.X_val, data.y_val, 1024, shuffle=False)
    criterion = nn.CrossEntropyLoss()
    opt = make_optimizer(model, optimizer, lr, weight_decay)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs * len(train_loader))
    history, best_state, best_epoch, best_loss = [], None, 0, math.inf
    start = time.perf_counter()
    for epoch in range(1, epochs + 1):
        with tqdm(total=len(data.X_train), desc=f"epoch {epoch}/{epochs}", unit="img", leave=False,
                  delay=1) as progress:
            train_epoch(model, train_loader, criterion, opt, scheduler, device, progress)
        train_loss, train_accuracy = evaluate(model, train_check, device)
        val_loss, val_accuracy = evaluate(model, val_loader, device)
        history.append({"epoch": epoch, "train_loss": train_loss, "train_accuracy": train_accuracy,
                        "val_loss": val_loss, "val_accuracy": val_accuracy, "seconds": time.perf_counter() - start})
        # Early stopping, judged on the validation split, never on the test split. The loss, not the accuracy:
        # on a small validation set accuracy moves in coarse steps and ties often.
        if val_loss < best_loss:
            best_state, best_epoch, best_loss = copy.deepcopy(model.state_dict()), epoch, val_loss
        print(f"   epoch {epoch:>3}: train loss {train_loss:.4f}  val loss {val_loss:.4f}  "
              f"val accuracy {val_accuracy:.2%}{'  *' if best_epoch == epoch else ''}")
    return history, best_state, best_epoch


# ----------------------------------------------------------------------------- metrics, written out


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """C[i, j] = how many samples of true class i were predicted as class j."""
    matrix = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(matrix, (y_true, y_pred), 1)
    return matrix


def precision_recall_f1(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-class precision, recall and F1 from a confusion matrix (0 where a class was never predicted)."""
    hits = np.diag(matrix).astype(float)
    predicted, actual = matrix.sum(axis=0), matrix.sum(axis=1)
    precision = np.divide(hits, predicted, out=np.zeros_like(hits), where=predicted > 0)
    recall = np.divide(hits, actual, out=np.zeros_like(hits), where=actual > 0)
    both = precision + recall
    f1 = np.divide(2 * precision * recall, both, out=np.zeros_like(hits), where=both > 0)
    return precision, recall, f1


def test_report(y_true: np.ndarray, y_pred: np.ndarray, class_names: tuple[str, ...]) -> dict:
    matrix = confusion_matrix(y_true, y_pred, len(class_names))
    precision, recall, f1 = precision_recall_f1(matrix)
    accuracy = float(np.trace(matrix) / matrix.sum())
    print(f"\n   test accuracy {accuracy:.2%} ({np.trace(matrix)}/{matrix.sum()})")
    print("   class  precision  recall     F1   support")
    for k, name in enumerate(class_names):
        print(f"   {name:>5}  {precision[k]:9.3f}  {recall[k]:6.3f}  {f1[k]:5.3f}  {matrix[k].sum():8d}")
    print(f"   macro  {precision.mean():9.3f}  {recall.mean():6.3f}  {f1.mean():5.3f}")
    print("   confusion matrix (rows: true class, columns: predicted):")
    width = len(str(matrix.max()))
    for name, row in zip(class_names, matrix):
        print(f"   {name:>5} " + " ".join(f"{v:>{width}}" for v in row))
    return {"accuracy": accuracy, "precision": precision.tolist(), "recall": recall.tolist(), "f1": f1.tolist(),
            "confusion_matrix": matrix.tolist()}


def plot_confusion(matrix: np.ndarray, class_names: tuple[str, ...], title: str) -> plt.Figure:
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


# ----------------------------------------------------------------------------- main


def parse_args() -> argparse.Namespace:
    parser = lesson_parser(__doc__)
    parser.add_argument("--dataset", choices=["digits", "mnist"], default="digits",
                        help="bundled 8x8 digits, or MNIST from --data-dir")
    add_mnist_arguments(parser)
    for flag, kind, text in (("--epochs", positive_int, "passes over the training data"),
                             ("--batch-size", positive_int, "mini-batch size"),
                             ("--lr", positive_float, "peak learning rate (cosine decay to 0)"),
                             ("--dropout", dropout_rate, "dropout probability after each hidden layer, in [0, 1)"),
                             ("--weight-decay", non_negative_float,
                              "weight decay: decoupled (AdamW), or an L2 gradient with sgd")):
        key = flag[2:].replace("-", "_")
        per_set = "; ".join(f"{name} {d[key]}" for name, d in DEFAULTS.items())
        parser.add_argument(flag, type=kind, help=f"{text} (default: {per_set})")
    parser.add_argument("--hidden", type=positive_int, nargs="+", help="hidden layer sizes (default: "
                        + "; ".join(f"{n} {' '.join(map(str, d['hidden']))}" for n, d in DEFAULTS.items()) + ")")
    parser.add_argument("--optimizer", choices=["adam", "sgd"], default="adam", help="AdamW, or SGD with momentum")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda", "mps"], default="auto",
                        help="where to train; auto picks an accelerator when there is one")
    parser.add_argument("--out", type=checkpoint_path, help="checkpoint path (default models/04_mlp_<dataset>.pt)")
    args = parser.parse_args()
    fill_defaults(args, DEFAULTS[args.dataset])
    args.out = args.out or MODELS_DIR / f"04_mlp_{args.dataset}.pt"
    return args


def main() -> None:
    args = parse_args()
    seed_everything(args.seed)
    device = pick_device(args.device)

    data = load_dataset(args.dataset, args.seed, args.data_dir, args.download)
    mean, std = normalisation(data.X_train)
    data.standardise(mean, std)
    sizes = [data.n_features, *args.hidden, data.n_classes]
    model = MLP(sizes, args.dropout).to(device)
    print(f"{data.describe()}\n   inputs standardised with the training split's mean {mean:.3f} and std {std:.3f}")
    print(f"   network {'-'.join(map(str, sizes))} (ReLU, dropout {args.dropout}, He initialisation), "
          f"{sum(p.numel() for p in model.parameters()):,} parameters, on {device}")
    print(f"   {args.optimizer}, lr {args.lr} with cosine decay, batch {args.batch_size}, "
          f"weight decay {args.weight_decay}, {args.epochs} epochs\n")

    try:
        history, best_state, best_epoch = fit(model, data, optimizer=args.optimizer, epochs=args.epochs,
                                              batch_size=args.batch_size, lr=args.lr,
                                              weight_decay=args.weight_decay, seed=args.seed, device=device)
    except KeyboardInterrupt:
        raise UserError(f"interrupted: nothing was saved ({args.out} is as it was)") from None
    model.load_state_dict(best_state)
    weight_norm = math.sqrt(sum(float((layer.weight ** 2).sum()) for layer in model.linear_layers()))
    print(f"\n   keeping epoch {best_epoch} of {args.epochs}, the lowest validation loss (early stopping); "
          f"{history[-1]['seconds']:.1f} s of training;\n   its weights' norm ||W|| = {weight_norm:.2f} "
          f"(all layers; weight decay {args.weight_decay} pulls it down)")

    test_loader = make_loader(data.X_test, data.y_test, 1024, shuffle=False)
    model.eval()
    with torch.no_grad():
        predictions = torch.cat([model(x.to(device)).argmax(1).cpu() for x, _ in test_loader]).numpy()
    metrics = test_report(data.y_test, predictions, data.class_names)

    hyperparameters = {key: getattr(args, key) for key in
                       ("epochs", "batch_size", "lr", "dropout", "weight_decay", "optimizer", "seed")}
    checkpoint = {
        "format": CHECKPOINT_FORMAT,
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "architecture": {"sizes": sizes, "dropout": args.dropout, "activation": "relu"},
        "normalisation": {"mean": mean, "std": std},
        "class_names": list(data.class_names), "dataset": data.name, "input_shape": list(data.image_shape),
        "hyperparameters": hyperparameters, "history": history, "best_epoch": best_epoch, "test_metrics": metrics,
    }
    try:
        save_checkpoint(args.out, checkpoint)
        write_record(args.out.with_suffix(".json"), {
            "lesson": "04", "dataset": data.name, "layer_sizes": sizes, "activation": "relu", "loss": "cross_entropy",
            "hyperparameters": hyperparameters, "normalisation": {"mean": mean, "std": std},
            "history": history, "best_epoch": best_epoch, "test_accuracy": metrics["accuracy"],
        })
    except KeyboardInterrupt:
        raise UserError("interrupted while saving: each file is either its old or its new version, "
                        "never half-written") from None
    print(f"\n   saved {args.out} (weights, architecture, normalisation, history, metrics) "
          f"and {args.out.with_suffix('.json').name}")
    matrix = np.array(metrics["confusion_matrix"])
    save_figure(plot_confusion(matrix, data.class_names, f"{data.name}: test accuracy {metrics['accuracy']:.2%}"),
                f"04_{data.name}_confusion_matrix")
    print(f"   next: python 06_neural_network_inference.py --checkpoint {args.out}")
    show_or_close(args.no_show)


if __name__ == "__main__":
    run(main)
