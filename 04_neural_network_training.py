"""Lesson 04 - the same network in PyTorch, trained on real data, kept in models/ for later.

The question: lesson 03 wrote every derivative by hand. What changes when a library does the calculus,
and what does a network built for pictures, a convolutional network (CNN), add?

PyTorch's autograd records the forward pass and runs the chain rule backwards (lesson 03's backward,
done for us), so one training step is five lines, each the twin of something 03 did:

    optimizer.zero_grad()          # 03 overwrote dW, db in every backward; PyTorch adds to .grad, so clear it
    logits = model(x)              # 03: MLP.forward, Dense after Dense
    loss = criterion(logits, y)    # 03: softmax_cross_entropy (softmax + one-hot built in)
    loss.backward()                # 03: MLP.backward, the chain rule layer by layer
    optimizer.step()               # 03: Adam.step, p <- p - lr * update

Two networks go through that loop (--model), both defined below:
* mlp (the default): lesson 03's network (``MLP``). It sees an image as a list of numbers: nothing
  tells it that pixel 300 sits next to pixel 301, so it must learn a stroke at every place separately.
* cnn: small filters slid over the image find the same local shape anywhere (``CNN``, explained there).

Lesson 03's habits stay (three splits, inputs standardised with the training split's mean and std,
decoupled weight decay, random shifts, train and validation loss measured alike: see 03). New here,
each explained beside its code: dropout (``MLP``), batch norm (``conv_block``), turns as well as shifts
(``augment``), and keeping the weights of the epoch with the lowest validation loss (``fit``).
What we want is a network that generalises: right on pictures it never saw. Lesson 05 shows what
happens when one memorises its training pictures instead (overfitting), and what each habit changes.

Accuracy alone hides which classes fail. For class k, with the confusion matrix C (row: the true
class, column: the predicted one):
    precision_k = C[k,k] / sum_i C[i,k]   (of what we called k, how much was k)
    recall_k    = C[k,k] / sum_j C[k,j]   (of the real k's, how many we found)
    F1_k        = 2 precision_k recall_k / (precision_k + recall_k)

The checkpoint in models/ holds what lessons 05 and 06 need to rebuild the network (``build_model``).

Run it:  python 04_neural_network_training.py                       (8x8 digits, about 8 s)
         python 04_neural_network_training.py --dataset mnist --data-dir data/mnist              (< 1 min)
         python 04_neural_network_training.py --dataset mnist --data-dir data/mnist --model cnn  (~3 min)
"""

from __future__ import annotations

import argparse
import copy
import math
import time
from functools import partial
from typing import Callable

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from tqdm import tqdm

from common import MODELS_DIR, Diverged, UserError
from common.cli import (add_device_argument, add_mnist_arguments, angle_degrees, checkpoint_path, dropout_rate, given,
                        lesson_parser, non_negative_float, positive_float, positive_int, run, seed_everything,
                        shift_pixels)
from common.data import Dataset, load_dataset, normalisation
from common.checkpoints import CHECKPOINT_FORMAT, CheckpointError, previous_model, save_checkpoint
from common.devices import check_fits, pick_device, use_cpu_cores
from common.lessons import lesson
from common.plotting import check_figure_writable, plot_confusion_matrix, save_figure, show_or_close
from common.records import write_record

learning_rate = lesson("03_multilayer_perceptron").learning_rate  # 03's schedule, here without warm-up

KERNEL = 5  # the CNN's filters are 5x5 pixels
# The defaults of each model and data set, one dict each, chosen on validation accuracy; any flag overrides them.
# On MNIST a batch of 512 makes each step one large matrix product, which a CPU runs far faster per picture;
# the README's numbers section gives what the shifts and turns are worth there, and on the digits MLP.
MODES = {
    ("mlp", "digits"): dict(epochs=30, batch_size=64, lr=2e-3, dropout=0.3, weight_decay=0.1, shift=0.5, rotate=15.0,
                            hidden=[512]),
    ("cnn", "digits"): dict(epochs=30, batch_size=64, lr=3e-3, dropout=0.2, weight_decay=0.01, shift=0.0, rotate=0.0,
                            hidden=[512]),
    ("mlp", "mnist"): dict(epochs=15, batch_size=512, lr=3e-3, dropout=0.2, weight_decay=0.1, shift=1.5, rotate=8.0,
                           hidden=[512, 128]),
    ("cnn", "mnist"): dict(epochs=10, batch_size=128, lr=3e-3, dropout=0.2, weight_decay=0.01, shift=2.0, rotate=10.0,
                           hidden=[512, 128]),
}
EXPLODED = 100  # a loss this many times its value before training has diverged, even if still finite


# ----------------------------------------------------------------------------- the two networks


class MLP(nn.Module):
    """Linear -> ReLU -> Dropout -> ... -> Linear: lesson 03's network, in PyTorch.

    The last layer outputs raw scores (logits); ``nn.CrossEntropyLoss`` applies the softmax, as lesson
    03's loss did. The weights start as in lesson 03: He initialisation, normal with std sqrt(2 / fan_in),
    biases at 0 (LeCun's sqrt(1 / fan_in) with ``activation="tanh"``, which lesson 05's smallest network
    uses). PyTorch's own default for ``nn.Linear`` is uniform in +-1/sqrt(fan_in).
    """

    def __init__(self, sizes: list[int], dropout: float = 0.0, activation: str = "relu"):
        super().__init__()
        layers: list[nn.Module] = []
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(nn.Linear(n_in, n_out))
            if i < len(sizes) - 2:
                layers.append({"relu": nn.ReLU, "tanh": nn.Tanh}[activation]())
                if dropout > 0:
                    # Dropout: while training, each hidden unit's output is zeroed with probability p and the
                    # survivors are multiplied by 1 / (1 - p), so the next layer's expected input is unchanged.
                    # No unit can rely on another being there. In eval mode (model.eval()) it is off.
                    layers.append(nn.Dropout(dropout))
        self.net = nn.Sequential(*layers)
        self.sizes, self.dropout, self.activation = list(sizes), dropout, activation
        for layer in self.linear_layers():
            nn.init.kaiming_normal_(layer.weight, nonlinearity="relu" if activation == "relu" else "linear")
            nn.init.zeros_(layer.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)  # (B, n_features) -> (B, n_classes) logits

    def linear_layers(self) -> list[nn.Linear]:
        return [m for m in self.net if isinstance(m, nn.Linear)]

    def architecture(self) -> dict:
        return {"kind": "mlp", "sizes": self.sizes, "dropout": self.dropout, "activation": self.activation}

    def describe(self) -> str:
        return f"MLP {'-'.join(map(str, self.sizes))}"


def conv_block(c_in: int, c_out: int, kernel: int) -> nn.Sequential:
    """Convolution -> batch norm -> ReLU -> 2x2 max pooling: (B, c_in, H, W) -> (B, c_out, H/2, W/2).

    Batch norm rescales every channel to mean 0 and variance 1 over the mini-batch, then by a learned
    scale and shift: the signal stays in range, so a larger learning rate trains it fast. In eval mode it
    uses averages kept during training instead, so one picture's answer never depends on its batch.
    Max pooling keeps the strongest response in each 2x2 square: the picture halves, and a shape moved
    by a pixel gives nearly the same output.
    """
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, kernel, padding=kernel // 2, bias=False),  # padding keeps H x W; BN has the bias
        nn.BatchNorm2d(c_out),
        nn.ReLU(),
        nn.MaxPool2d(2),
    )


class CNN(nn.Module):
    """Two convolution blocks and one linear layer: a network that looks for local shapes.

    A convolution computes, at every position of the picture, a weighted sum of a small neighbourhood
    (kernel x kernel pixels), with the same weights everywhere. One such filter finds one kind of local
    shape - an edge, a stroke's end - wherever it is, and costs 25 weights (5x5) however large the
    picture. After the first block's pooling, each of the second block's filters sees a larger patch,
    so it can respond to parts of digits built from the first block's strokes. Far fewer parameters than
    the MLP (the run prints both), but each is used at every position: more arithmetic per picture.
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


# ----------------------------------------------------------------------------- training


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


def augment(x: torch.Tensor, image_shape: tuple[int, int], max_shift: float, max_degrees: float,
            blank: float) -> torch.Tensor:
    """Move each flattened image by up to ``max_shift`` pixels and turn it by up to ``max_degrees``, at random.

    Each image gets its own matrix [[cos a, -sin a, tx], [sin a, cos a, ty]]; ``grid_sample`` reads the
    image at the coordinates it maps to, interpolating between pixels. Those coordinates run from -1 to 1
    across the image, so s pixels are 2 s / size. Pixels moved in from outside the image are ``blank``.
    """
    n, (height, width) = len(x), image_shape
    angle = torch.empty(n, device=x.device).uniform_(-max_degrees, max_degrees).deg2rad()
    tx = torch.empty(n, device=x.device).uniform_(-max_shift, max_shift) * 2 / width
    ty = torch.empty(n, device=x.device).uniform_(-max_shift, max_shift) * 2 / height
    cos, sin = angle.cos(), angle.sin()
    theta = torch.stack([torch.stack([cos, -sin, tx], 1), torch.stack([sin, cos, ty], 1)], 1)  # (B, 2, 3)
    images = x.view(n, 1, height, width) - blank  # (B, 1, H, W), blank pixels now 0: what grid_sample fills in
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)  # (B, H, W, 2) where to read
    return (F.grid_sample(images, grid, align_corners=False) + blank).view(n, -1)


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


def train_epoch(model, loader, criterion, optimizer, scheduler, device, progress: tqdm,
                augmentation: Callable[[torch.Tensor], torch.Tensor] | None = None) -> None:
    """One pass over the training data, one optimizer step per mini-batch."""
    model.train()  # dropout on; batch norm normalises with the batch's own statistics
    for x, y in loader:
        x, y = x.to(device), y.to(device)
        if augmentation:
            x = augmentation(x)
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


def decayed_weights(model: nn.Module) -> list[nn.Parameter]:
    """The weights that weight decay pulls towards 0: those of linear and convolution layers.

    Biases, normalisation scales and shifts, and embeddings (a table of vectors, not a map from
    inputs to outputs) are left free. Lessons 07 and 08 decay the GPT's weights the same way.
    """
    return [m.weight for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]


def weight_decay_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Parameter groups for an optimizer: ``decayed_weights`` with ``weight_decay``, every other parameter without."""
    decayed = {id(p) for p in decayed_weights(model)}
    return [{"params": [p for p in model.parameters() if id(p) in decayed], "weight_decay": weight_decay},
            {"params": [p for p in model.parameters() if id(p) not in decayed], "weight_decay": 0.0}]


def make_optimizer(model: nn.Module, name: str, lr: float, weight_decay: float) -> torch.optim.Optimizer:
    """AdamW (lesson 03's ``Adam``, decoupled decay) or SGD with momentum (decay as an L2 gradient).

    Momentum keeps a fading sum of gradients, v <- 0.9 v + g, and moves each weight by -lr v: steps along a
    direction the gradients keep agreeing on grow, and steps that flip sign from batch to batch cancel out.
    Only weight matrices and filters decay (``decayed_weights``, above); biases and batch
    norm's scale and shift stay free: they set offsets and scales, and pulling those to 0 helps nothing.
    """
    groups = weight_decay_groups(model, weight_decay)
    if name == "adam":
        return torch.optim.AdamW(groups, lr=lr)
    return torch.optim.SGD(groups, lr=lr, momentum=0.9)


def cosine_decay(optimizer: torch.optim.Optimizer, total: int) -> torch.optim.lr_scheduler.LambdaLR:
    """Lesson 03's cosine schedule for a PyTorch optimizer: no warm-up, from its lr down to 0."""
    return torch.optim.lr_scheduler.LambdaLR(optimizer, partial(learning_rate, max_lr=1.0, min_lr=0.0, warmup=0,
                                                                total=total))


def fit(model, data: Dataset, *, optimizer: str, epochs: int, batch_size: int, lr: float, weight_decay: float,
        seed: int, device: torch.device, augmentation: Callable[[torch.Tensor], torch.Tensor] | None = None
        ) -> tuple[list[dict], dict, int]:
    """Train for ``epochs``; return the history, and the weights and number of the lowest-validation-loss epoch."""
    train_loader = make_loader(data.X_train, data.y_train, batch_size, shuffle=True, seed=seed)
    n_val = len(data.X_val)  # the training loss is measured on as many examples as the validation loss
    train_check = make_loader(data.X_train[:n_val], data.y_train[:n_val], 1024, shuffle=False)
    val_loader = make_loader(data.X_val, data.y_val, 1024, shuffle=False)
    criterion = nn.CrossEntropyLoss()
    opt = make_optimizer(model, optimizer, lr, weight_decay)
    scheduler = cosine_decay(opt, epochs * len(train_loader))  # lesson 03's cosine: no warm-up, down to 0
    history, best_state, best_epoch, best_loss = [], None, 0, math.inf
    start_loss = evaluate(model, train_check, device)[0]  # a loss that grows far past this has diverged
    start = time.perf_counter()
    for epoch in range(1, epochs + 1):
        with tqdm(total=len(data.X_train), desc=f"epoch {epoch}/{epochs}", unit="img", leave=False,
                  delay=1) as progress:
            train_epoch(model, train_loader, criterion, opt, scheduler, device, progress, augmentation)
        train_loss, train_accuracy = evaluate(model, train_check, device)
        val_loss, val_accuracy = evaluate(model, val_loader, device)
        # NaN or inf (the epoch's last step blew the weights up), or finite but exploded: either way, diverged.
        if not math.isfinite(train_loss + val_loss) or max(train_loss, val_loss) > EXPLODED * start_loss:
            raise Diverged(f"the loss went from {start_loss:.3f} before training to {max(train_loss, val_loss):.4g} "
                           f"after epoch {epoch}: training diverged and stopped, nothing saved. Try a smaller --lr")
        history.append({"epoch": epoch, "train_loss": train_loss, "train_accuracy": train_accuracy,
                        "val_loss": val_loss, "val_accuracy": val_accuracy, "seconds": time.perf_counter() - start})
        # Keep the best epoch, judged on the validation split, never on the test split (model selection). The
        # loss, not the accuracy: on a small validation set accuracy moves in coarse steps and ties often.
        # Every epoch still runs, to draw the whole curve; early stopping would end the run once the
        # validation loss had not improved for a few epochs, and save that time.
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


def multiply_adds(model: nn.Module, n_features: int, device: torch.device) -> int:
    """Multiply-adds of one forward pass for one image: each weight is used once per output position."""
    total = 0

    def count(module: nn.Module, inputs, output: torch.Tensor) -> None:
        nonlocal total
        total += module.weight.numel() * output[0, 0].numel()  # Linear: 1 position; Conv2d: H x W of them

    hooks = [m.register_forward_hook(count) for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, n_features, device=device))
    for hook in hooks:
        hook.remove()
    return total


# ------------------------------------------ plumbing: figures, checkpoints, the command line (not the lesson)


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


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = lesson_parser(__doc__)
    parser.add_argument("--dataset", choices=["digits", "mnist"], default="digits",
                        help="bundled 8x8 digits, or MNIST from --data-dir")
    parser.add_argument("--model", choices=["mlp", "cnn"], default="mlp",
                        help="mlp (lesson 03's network) or cnn (two convolution blocks and a linear layer); the "
                             "defaults shown below follow --model and --dataset: add them to --help to see others")
    add_mnist_arguments(parser)
    parser.add_argument("--epochs", type=positive_int, help="passes over the training data")
    parser.add_argument("--batch-size", type=positive_int, help="mini-batch size")
    parser.add_argument("--lr", type=positive_float, help="peak learning rate (cosine decay to 0)")
    parser.add_argument("--dropout", type=dropout_rate,
                        help="dropout probability (MLP: after each hidden layer; CNN: before its linear layer)")
    parser.add_argument("--weight-decay", type=non_negative_float,
                        help="weight decay: decoupled (AdamW), or an L2 gradient with sgd")
    parser.add_argument("--shift", type=shift_pixels, help="augmentation: largest random shift, in pixels")
    parser.add_argument("--rotate", type=angle_degrees, help="augmentation: largest random rotation, in degrees")
    parser.add_argument("--hidden", type=positive_int, nargs="+", help="the MLP's hidden layer sizes")
    parser.add_argument("--channels", type=positive_int, nargs=2, metavar=("C1", "C2"), default=[16, 32],
                        help="the CNN's filters in its two blocks")
    parser.add_argument("--optimizer", choices=["adam", "sgd"], default="adam", help="AdamW, or SGD with momentum")
    add_device_argument(parser)
    parser.add_argument("--out", type=checkpoint_path,
                        help="checkpoint path (default models/04_<model>_<dataset>.pt)")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace --out even when the model there is better on validation, or of another data set")
    mode = (given("--model", argv, default="mlp"), given("--dataset", argv, default="digits"))
    parser.set_defaults(**MODES.get(mode, MODES["mlp", "digits"]))  # a bad name: the parse below refuses it
    args = parser.parse_args(argv)
    args.out = args.out or MODELS_DIR / f"04_{args.model}_{args.dataset}.pt"
    return args


def main() -> None:
    args = parse_args()
    seed_everything(args.seed)
    device = pick_device(args.device)
    threads = use_cpu_cores()

    previous = previous_model(args.out, args.dataset, args.overwrite)  # before any work: ours to replace?
    check_figure_writable(f"04_{args.model}_{args.dataset}_confusion_matrix")
    data = load_dataset(args.dataset, args.seed, args.data_dir, args.download)
    mean, std = normalisation(data.X_train)
    data.standardise(mean, std)
    if args.model == "cnn":
        build = partial(CNN, list(data.image_shape), data.n_classes, args.channels, KERNEL, args.dropout)
    else:
        build = partial(MLP, [data.n_features, *args.hidden, data.n_classes], args.dropout)
    check_fits(build, f"--model {args.model}")
    model = build().to(device)
    parameters = sum(p.numel() for p in model.parameters())
    print(f"{data.describe()}\n   inputs standardised with the training split's mean {mean:.3f} and std {std:.3f}")
    print(f"   network {model.describe()} (ReLU, dropout {args.dropout}, He initialisation)\n"
          f"   {parameters:,} parameters, "
          f"{multiply_adds(model, data.n_features, device):,} multiply-adds per image, "
          f"on {device}{f' ({threads} threads)' if device.type == 'cpu' else ''}")
    augmentation = None
    if args.shift or args.rotate:
        augmentation = partial(augment, image_shape=data.image_shape, max_shift=args.shift, max_degrees=args.rotate,
                               blank=-mean / std)  # an empty pixel, standardised
    print(f"   {args.optimizer}, lr {args.lr} with cosine decay, batch {args.batch_size}, "
          f"weight decay {args.weight_decay}, {args.epochs} epochs, "
          + (f"training images shifted by up to {args.shift} px and rotated by up to {args.rotate} degrees\n"
             if augmentation else "no augmentation\n"))

    try:
        history, best_state, best_epoch = fit(model, data, optimizer=args.optimizer, epochs=args.epochs,
                                              batch_size=args.batch_size, lr=args.lr,
                                              weight_decay=args.weight_decay, seed=args.seed, device=device,
                                              augmentation=augmentation)
    except KeyboardInterrupt:
        raise UserError(f"interrupted: nothing was saved ({args.out} is as it was)") from None
    kept = history[best_epoch - 1]
    if previous is not None and previous["val_loss"] <= kept["val_loss"] and not args.overwrite:
        raise UserError(f"kept {args.out}: the model there is better on validation (loss {previous['val_loss']:.4f}, "
                        f"accuracy {previous['val_accuracy']:.2%}) than this run's best epoch (loss "
                        f"{kept['val_loss']:.4f}, accuracy {kept['val_accuracy']:.2%}); --overwrite replaces it")
    model.load_state_dict(best_state)
    weight_norm = math.sqrt(sum(float((w.detach() ** 2).sum()) for w in decayed_weights(model)))
    pull = f"weight decay {args.weight_decay} pulls it down" if args.weight_decay else "no weight decay"
    print(f"\n   keeping epoch {best_epoch} of {args.epochs}, the lowest validation loss; "
          f"{history[-1]['seconds']:.1f} s of training;\n   its weights' norm ||W|| = {weight_norm:.2f} "
          f"(all layers; {pull})")

    test_loader = make_loader(data.X_test, data.y_test, 1024, shuffle=False)
    model.eval()
    with torch.no_grad():
        predictions = torch.cat([model(x.to(device)).argmax(1).cpu() for x, _ in test_loader]).numpy()
    metrics = test_report(data.y_test, predictions, data.class_names)

    hyperparameters = {key: getattr(args, key) for key in ("model", "hidden" if args.model == "mlp" else "channels",
                       "epochs", "batch_size", "lr", "dropout", "weight_decay", "shift", "rotate", "optimizer", "seed")}
    checkpoint = {
        "format": CHECKPOINT_FORMAT,
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "architecture": model.architecture(),
        "normalisation": {"mean": mean, "std": std},
        "class_names": list(data.class_names), "dataset": data.name, "input_shape": list(data.image_shape),
        "hyperparameters": hyperparameters, "history": history, "best_epoch": best_epoch, "test_metrics": metrics,
    }
    # Written to a temporary file, then renamed onto --out: a rename is atomic, so a crash or Ctrl-C mid-save
    # leaves the old file or the new one, never half of each (common/records.py).
    try:
        save_checkpoint(args.out, checkpoint)
        write_record(args.out.with_suffix(".json"), {
            "lesson": "04", "dataset": data.name, "architecture": model.architecture(), "parameters": parameters,
            "loss": "cross_entropy", "hyperparameters": hyperparameters, "normalisation": {"mean": mean, "std": std},
            "history": history, "best_epoch": best_epoch, "test_accuracy": metrics["accuracy"],
        })
    except KeyboardInterrupt:
        raise UserError("interrupted while saving: each file is either its old or its new version, "
                        "never half-written") from None
    print(f"\n   saved {args.out} (weights, architecture, normalisation, history, metrics) "
          f"and {args.out.with_suffix('.json').name}")
    matrix = np.array(metrics["confusion_matrix"])
    title = f"{data.name}, {args.model.upper()}: test accuracy {metrics['accuracy']:.2%}"
    save_figure(plot_confusion_matrix(matrix, data.class_names, title), f"04_{args.model}_{data.name}_confusion_matrix")
    print(f"   next: python 06_neural_network_inference.py --checkpoint {args.out}")
    if previous is not None and kept["val_loss"] > previous["val_loss"]:
        print(f"   note: --overwrite replaced a model that was better on validation (loss {previous['val_loss']:.4f}, "
              f"accuracy {previous['val_accuracy']:.2%}) than this one (loss {kept['val_loss']:.4f}, "
              f"accuracy {kept['val_accuracy']:.2%})")
    show_or_close(args.no_show)


if __name__ == "__main__":
    run(main)
