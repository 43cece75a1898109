"""Lesson 03 - a multilayer perceptron from scratch in NumPy: forward, loss, backpropagation.

The question: lesson 02's perceptron drew one straight line, and XOR needs a bent one. Put a layer of
neurons in between (a "hidden" layer) and the network can bend its boundary - but how does each weight
learn what to do? The file follows the lesson's two parts.

PART 1 - BACKPROPAGATION (section 1 of a run). A network is a chain of small pieces, each with a
forward and a backward pass:

    Dense:       z = x W + b          (a whole layer of lesson-01 neurons at once)
    Activation:  a = f(z)             (elementwise: relu, tanh, sigmoid, ...)

Forward, the input flows through the chain to the output. The loss measures how wrong it is:

    mean squared error       L = 1/N sum_n 1/2 ||y_hat_n - y_n||^2     (regression)
    softmax cross-entropy    L = -1/N sum_n log softmax(z_n)[y_n]      (classification)

For classification the label is one-hot encoded: class 3 of 10 becomes (0,0,0,1,0,0,0,0,0,0), to be
compared entry by entry with the network's 10 probabilities. Backward (backpropagation) is lesson 01's
chain rule - the slope of a chain of functions is the product of its links' slopes, dL/dx = dL/dz * dz/dx -
applied from the loss back to the input: each piece receives dL/d(its output), returns dL/d(its input),
and keeps its own parameters' gradients on the way:

    Dense:       dL/dW = x^T dL/dz     dL/db = sum_n dL/dz     dL/dx = dL/dz W^T
    Activation:  dL/dz = dL/da * f'(z)
    softmax + cross-entropy together:  dL/dz = (softmax(z) - one_hot(y)) / N

(x^T is x transposed: rows become columns, so each weight W[i, j] collects input i times the gradient
at output j, summed over the batch.) A numerical gradient check - (L(p + h) - L(p - h)) / 2h for every
parameter p - confirms the hand-written backward pass; trust it only once that agrees.

PART 2 - TRAINING (sections 2-5: three problems a straight line cannot solve, then real data). The recipe
every later lesson keeps, each piece explained beside its code: three splits (``train_on_dataset``),
mini-batches (``train_epoch``), He initialisation (``MLP``), Adam and weight decay (``Adam``), a cosine
schedule (``learning_rate``), random shifts on MNIST (``random_shift``), train and validation loss measured
alike (``fit``).

Run it:  python 03_multilayer_perceptron.py   (gradient check, XOR, a sine, moons, digits)
         python 03_multilayer_perceptron.py --dataset mnist --data-dir data/mnist
         python 03_multilayer_perceptron.py --loss mse --activation sigmoid   (the classic set-up)
"""

from __future__ import annotations

import argparse
import math
import time
from functools import partial
from typing import Callable

import numpy as np
from tqdm import tqdm

from common import MODELS_DIR, Diverged
from common.activations import ACTIVATIONS, log_softmax, softmax
from common.cli import (add_mnist_arguments, check_memory, given, lesson_parser, non_negative_float, non_negative_int,
                        positive_float, positive_int, run, seed_everything)
from common.data import Dataset, load_dataset, load_moons, logic_gate, noisy_sine, normalisation
from common.plotting import (check_figure_writable, compare_with_other_runs, plot_decision_boundary, plot_history,
                             plot_regression, plt, save_figure, show_or_close)
from common.records import check_replaceable, save_npz

# The defaults of section 5 for each data set, one dict each, chosen on validation accuracy; any flag overrides them.
DIGITS = dict(hidden=[128], epochs=40, batch_size=32, lr=2e-3, augment=0)
MNIST = dict(hidden=[512, 128], epochs=10, batch_size=512, lr=3e-3, augment=1)

# ============================================================================= PART 1: backpropagation
# Section 1 of a run: the pieces and their backward passes, and the gradient check that proves them.

# ----------------------------------------------------------------------------- the pieces


class Dense:
    """A fully connected layer: z = x W + b, for a whole mini-batch x of shape (N, n_in).

    One matrix product per layer instead of a Python loop over samples: NumPy hands it to an optimised library.
    """

    def __init__(self, n_in: int, n_out: int, std: float, rng: np.random.Generator, dtype=np.float32,
                 input_grad: bool = True):
        self.W = (rng.standard_normal((n_in, n_out)) * std).astype(dtype)
        self.b = np.zeros(n_out, dtype=dtype)
        # The first layer's input is the data itself: nobody needs dL/dx, so skip that matmul.
        self.input_grad = input_grad

    def forward(self, x: np.ndarray) -> np.ndarray:
        self.x = x  # kept for the backward pass
        z = x @ self.W
        z += self.b  # in place: one pass over z instead of a second array
        return z

    def backward(self, grad_z: np.ndarray) -> np.ndarray | None:
        self.dW = self.x.T @ grad_z
        self.db = grad_z.sum(axis=0)
        return grad_z @ self.W.T if self.input_grad else None


class Activation:
    """a = f(z) elementwise; backward multiplies by f'(z)."""

    def __init__(self, name: str):
        self.name, (self.f, self.df) = name, ACTIVATIONS[name]

    def forward(self, z: np.ndarray) -> np.ndarray:
        self.z = z
        return self.f(z)

    def backward(self, grad_a: np.ndarray) -> np.ndarray:
        return grad_a * self.df(self.z)


def softmax_cross_entropy(logits: np.ndarray, Y: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean cross-entropy of softmax(logits) against one-hot targets Y, and dL/dlogits."""
    n = len(logits)
    loss = -float((log_softmax(logits) * Y).sum()) / n
    return loss, (softmax(logits) - Y) / n


def mean_squared_error(output: np.ndarray, Y: np.ndarray) -> tuple[float, np.ndarray]:
    """L = 1/N sum_n 1/2 ||output_n - Y_n||^2, and dL/doutput = (output - Y) / N."""
    n = len(output)
    diff = output - Y
    return 0.5 * float((diff * diff).sum()) / n, diff / n


def one_hot(y: np.ndarray, n_classes: int, dtype=np.float32) -> np.ndarray:
    """Class k becomes a row of zeros with a single 1 at column k, comparable with the network's outputs."""
    encoded = np.zeros((len(y), n_classes), dtype=dtype)
    encoded[np.arange(len(y)), y] = 1
    return encoded


LOSSES = {"cross_entropy": softmax_cross_entropy, "mse": mean_squared_error}


class MLP:
    """Dense -> Activation -> ... -> Dense. With cross-entropy the last Dense outputs raw scores (logits) and the
    softmax lives in the loss; with MSE on classes (the classic set-up) a sigmoid squashes each output into (0, 1).

    The weights start random, with a spread that keeps the signal from exploding or dying as it goes deeper:
    He initialisation, std sqrt(2 / fan_in) for ReLU, LeCun's sqrt(1 / fan_in) for sigmoid and tanh, where
    fan_in is the number of inputs each neuron of the layer adds up.
    """

    def __init__(self, sizes: list[int], activation: str, rng: np.random.Generator,
                 output_sigmoid: bool = False, dtype=np.float32):
        self.sizes, self.activation, self.output_sigmoid = list(sizes), activation, output_sigmoid
        gain = 2.0 if activation in ("relu", "leaky_relu") else 1.0  # He vs LeCun
        self.layers: list = []
        for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            self.layers.append(Dense(n_in, n_out, np.sqrt(gain / n_in), rng, dtype, input_grad=i > 0))
            if i < len(sizes) - 2:
                self.layers.append(Activation(activation))
        if output_sigmoid:
            self.layers.append(Activation("sigmoid"))

    def forward(self, x: np.ndarray) -> np.ndarray:
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def backward(self, grad: np.ndarray) -> None:
        for layer in reversed(self.layers):
            grad = layer.backward(grad)

    def parameters(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """(parameter, gradient) pairs, valid after a backward pass."""
        return [pair for layer in self.layers if isinstance(layer, Dense)
                for pair in ((layer.W, layer.dW), (layer.b, layer.db))]

    def arrays(self) -> list[np.ndarray]:
        """Every parameter array, W and b of each layer (what the optimizer keeps state for)."""
        return [p for layer in self.layers if isinstance(layer, Dense) for p in (layer.W, layer.b)]

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        out = self.forward(x)
        return out if self.output_sigmoid else softmax(out)


def loss_and_gradients(model: MLP, loss_fn, X: np.ndarray, Y: np.ndarray) -> float:
    """Forward, loss, backward: afterwards every layer holds its gradients."""
    loss, grad = loss_fn(model.forward(X), Y)
    model.backward(grad)
    return loss


# ----------------------------------------------------------------------------- gradient check


def gradient_check(model: MLP, loss_fn, X: np.ndarray, Y: np.ndarray, h: float = 1e-5) -> float:
    """Largest relative error between backprop's gradients and centred differences, over all parameters.
    Needs float64: in float32 the difference L(p + h) - L(p - h) drowns in rounding."""
    loss_and_gradients(model, loss_fn, X, Y)
    analytic = [grad.copy() for _, grad in model.parameters()]
    worst = 0.0
    for (param, _), grad in zip(model.parameters(), analytic):
        numeric = np.zeros_like(param)
        for i in np.ndindex(param.shape):
            saved = param[i]
            param[i] = saved + h
            plus = loss_fn(model.forward(X), Y)[0]
            param[i] = saved - h
            minus = loss_fn(model.forward(X), Y)[0]
            param[i] = saved
            numeric[i] = (plus - minus) / (2 * h)
        # Relative error of the whole array: elementwise it blows up on gradients that are ~0.
        error = np.linalg.norm(grad - numeric) / max(np.linalg.norm(grad) + np.linalg.norm(numeric), 1e-12)
        worst = max(worst, float(error))
    return worst


KINK_MARGIN = 1e-3  # 100 times the nudge h: no ReLU input of the check may lie closer to its kink than this


def kink_margin(model: MLP, X: np.ndarray) -> float:
    """The smallest |z| entering a ReLU-type activation on X: how far the check's point is from a kink."""
    model.forward(X)
    return min((float(np.abs(layer.z).min()) for layer in model.layers
                if isinstance(layer, Activation) and layer.name in ("relu", "leaky_relu")), default=math.inf)


def network_to_check(sizes: list[int], activation: str, loss: str, X: np.ndarray, rng: np.random.Generator) -> MLP:
    """A float64 network for the gradient check, at a point where every derivative exists.

    ReLU's slope jumps from 0 to 1 at z = 0. If an input z lies within a nudge of 0, (L(p + h) - L(p - h)) / 2h
    straddles that corner and measures the average of the two slopes, while backward() uses one of them: the
    check fails although backward() is right. Zero biases put inputs exactly on the kink whenever a layer is
    switched off, so the check draws small random biases (again, rarely needed) until every ReLU input is at
    least KINK_MARGIN away from 0.
    """
    model = MLP(sizes, activation, rng, output_sigmoid=loss == "mse", dtype=np.float64)
    dense = [layer for layer in model.layers if isinstance(layer, Dense)]
    while True:
        for layer in dense:
            layer.b = rng.normal(0.0, 0.1, size=layer.b.shape)
        if kink_margin(model, X) >= KINK_MARGIN:
            return model


def run_gradient_checks(rng: np.random.Generator) -> dict[str, float]:
    print("1. Gradient check: backpropagation vs centred differences, float64, network 4-5-3-3")
    X = rng.normal(size=(6, 4))
    Y = one_hot(rng.integers(0, 3, size=6), 3, np.float64)
    errors = {}
    for activation in ACTIVATIONS:
        for loss in LOSSES:
            model = network_to_check([4, 5, 3, 3], activation, loss, X, rng)
            errors[f"{activation}+{loss}"] = error = gradient_check(model, LOSSES[loss], X, Y)
            margin = kink_margin(model, X)
            kink = f"  (nearest kink: |z| = {margin:.1e})" if math.isfinite(margin) else ""
            print(f"   {activation:<10} + {loss:<13}  largest relative error {error:.1e}"
                  f"  {'ok' if error < 1e-7 else 'TOO LARGE'}{kink}")
    print("   (below 1e-7 means backward() computes the true derivative; the check's biases are random, so that\n"
          "    no ReLU input sits on the kink at 0, where the slope has no single value to check)")
    return errors


# ============================================================================= PART 2: training, fast
# The recipe (an optimizer, a schedule, weight decay, augmentation) and the training loop; then sections 2-4
# of a run, small problems a straight line cannot solve, and section 5, real data.

# ----------------------------------------------------------------------------- the optimizer and the loop


class Adam:
    """Adam with decoupled weight decay (AdamW), written the way the equations read.

    For every parameter p with gradient g, at step t:

        m     = b1 m + (1 - b1) g          running mean of gradients: the direction
        v     = b2 v + (1 - b2) g^2        running mean of squared gradients: the scale
        m_hat = m / (1 - b1^t)             m and v start at 0, so early averages are too
        v_hat = v / (1 - b2^t)             small; dividing by (1 - b^t) corrects that
        p     = p - lr wd p                decoupled weight decay (weights only, not biases)
        p     = p - lr m_hat / (sqrt(v_hat) + eps)

    Each weight's step is its averaged gradient divided by that gradient's typical size, so weights with small
    gradients still move.

    Weight decay keeps weights small, and two things share the name. An L2 penalty adds lambda * sum w^2 to the
    loss, so each weight's gradient gains 2 lambda w (an L1 penalty, lambda * sum |w|, adds lambda * sign(w)).
    Decoupled weight decay shrinks each weight directly, beside the step (p - lr wd p above). With plain
    gradient descent the two are the same (wd = 2 lambda); with Adam the penalty's gradient would be divided by
    sqrt(v_hat) like every other, so a weight with large gradients would barely be pulled in. AdamW (Loshchilov
    & Hutter) decouples the decay, as here; lesson 05 trains with the L1 and L2 penalties to compare.
    """

    def __init__(self, params: list[np.ndarray], weight_decay: float = 0.0, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8):
        self.weight_decay, self.betas, self.eps, self.t = weight_decay, betas, eps, 0
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]

    def step(self, pairs: list[tuple[np.ndarray, np.ndarray]], lr: float) -> None:
        self.t += 1
        b1, b2 = self.betas
        for (p, g), m, v in zip(pairs, self.m, self.v):
            m[...] = b1 * m + (1 - b1) * g
            v[...] = b2 * v + (1 - b2) * g * g
            m_hat = m / (1 - b1**self.t)
            v_hat = v / (1 - b2**self.t)
            if p.ndim > 1:
                p -= lr * self.weight_decay * p
            p -= lr * m_hat / (np.sqrt(v_hat) + self.eps)


def evaluate(model: MLP, loss_fn, X: np.ndarray, Y: np.ndarray, batch_size: int = 4096) -> tuple[float, float]:
    """Mean loss and accuracy over a whole split, in large batches (no backward pass needed)."""
    total_loss, correct = 0.0, 0
    for start in range(0, len(X), batch_size):
        out = model.forward(X[start:start + batch_size])
        target = Y[start:start + batch_size]
        total_loss += loss_fn(out, target)[0] * len(out)
        correct += int((out.argmax(1) == target.argmax(1)).sum())
    return total_loss / len(X), correct / len(X)


def random_shift(images: np.ndarray, shape: tuple[int, int], max_shift: int, rng: np.random.Generator,
                 fill: float) -> np.ndarray:
    """Move a whole batch of flattened images by up to ``max_shift`` pixels, filling the gap with ``fill``.

    Data augmentation: the network seldom sees a digit at exactly the same pixels twice, so it cannot
    memorise positions and must learn shapes.
    """
    dy, dx = rng.integers(-max_shift, max_shift + 1, size=2)
    h, w = shape
    source = images.reshape(-1, h, w)
    shifted = np.full_like(source, fill)
    shifted[:, max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = \
        source[:, max(-dy, 0):h + min(-dy, 0), max(-dx, 0):w + min(-dx, 0)]
    return shifted.reshape(len(images), -1)


def train_epoch(model: MLP, loss_fn, optimizer, X: np.ndarray, Y: np.ndarray, batch_size: int,
                rng: np.random.Generator, lr_at: Callable[[int], float], step: int, progress: tqdm | None = None,
                augment=None) -> int:
    """One pass (an epoch) over the shuffled training set, one step per mini-batch; returns the step count.

    The gradient over a mini-batch of, say, 32 examples is a noisy estimate of the whole training set's (right on
    average; its noise shrinks like 1/sqrt(batch)): small batches give many cheap, noisy steps, large ones few.
    """
    order = rng.permutation(len(X))
    for start in range(0, len(X), batch_size):
        batch = order[start:start + batch_size]
        inputs = augment(X[batch]) if augment else X[batch]
        loss = loss_and_gradients(model, loss_fn, inputs, Y[batch])
        optimizer.step(model.parameters(), lr_at(step))
        step += 1
        if progress is not None:
            progress.update(len(batch))
            progress.set_postfix(batch_loss=f"{loss:.4f}", refresh=False)
    return step


def learning_rate(step: int, max_lr: float, min_lr: float, warmup: int, total: int) -> float:
    """The schedule: half a cosine from max_lr down to min_lr at step ``total``, after ``warmup`` rising steps.

        lr(t) = min_lr + (max_lr - min_lr) * (1 + cos(pi * progress)) / 2,   progress = (t - warmup) / (total - warmup)

    Big steps while far from a minimum, small ones to settle into it. 03 and 04 use no warm-up; 07 and 08 let the
    rate climb in a straight line first, because Adam's running averages start from nothing.
    """
    if step < warmup:
        return max_lr * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return min_lr + (max_lr - min_lr) * (1 + math.cos(math.pi * progress)) / 2


def fit(model: MLP, loss_fn, X_train, Y_train, X_val, Y_val, *, epochs: int, batch_size: int, lr: float,
        rng: np.random.Generator, weight_decay: float = 0.0, verbose: bool = False, augment=None) -> list[dict]:
    """Train for ``epochs`` epochs; return the per-epoch history (train/val loss, val accuracy, seconds).

    The training loss is measured like the validation loss: after the epoch, with the weights as they then are, on
    as many examples; the running average over the epoch's batches (the bar's) would mix in worse early weights.
    """
    opt = Adam(model.arrays(), weight_decay)
    total_steps = epochs * -(-len(X_train) // batch_size)  # ceil: a last, smaller batch is a step too
    lr_at = partial(learning_rate, max_lr=lr, min_lr=0.0, warmup=0, total=total_steps)  # the cosine, down to 0
    X_check, Y_check = X_train[:len(X_val)], Y_train[:len(X_val)]
    step, history, start = 0, [], time.perf_counter()
    # Bars appear only for work that lasts: after 1 s (delay), so quick runs stay quiet.
    for epoch in tqdm(range(1, epochs + 1), desc="epochs", leave=False, disable=verbose, delay=1):
        bar = tqdm(total=len(X_train), desc=f"epoch {epoch}/{epochs}", unit="img", leave=False,
                   disable=not verbose, delay=1)
        step = train_epoch(model, loss_fn, opt, X_train, Y_train, batch_size, rng, lr_at, step, bar, augment)
        bar.close()
        train_loss, train_acc = evaluate(model, loss_fn, X_check, Y_check)
        val_loss, val_acc = evaluate(model, loss_fn, X_val, Y_val)
        if not np.isfinite(train_loss + val_loss):  # the steps overshot until the numbers overflowed
            raise Diverged(f"the loss became {val_loss} in epoch {epoch}: the weights blew up, training stopped "
                           "and nothing was saved. Try a smaller --lr")
        history.append({"epoch": epoch, "train_loss": train_loss, "train_accuracy": train_acc, "val_loss": val_loss,
                        "val_accuracy": val_acc, "seconds": time.perf_counter() - start})
        if verbose and (epoch == 1 or epoch % max(1, epochs // 10) == 0):
            print(f"   epoch {epoch:>3}: train loss {train_loss:.4f}  val loss {val_loss:.4f}  "
                  f"val accuracy {val_acc:.2%}  ({history[-1]['seconds']:.1f} s)")
    return history


# ----------------------------------------------------------------------------- the toy problems


def solve_xor(rng: np.random.Generator, ax: plt.Axes) -> int:
    print("\n2. XOR, which lesson 02's perceptron could not learn: network 2-4-2, tanh")
    X, y = logic_gate("XOR")
    y = y.astype(int)
    model = MLP([2, 4, 2], "tanh", rng, dtype=np.float64)
    Y = one_hot(y, 2, np.float64)
    fit(model, softmax_cross_entropy, X, Y, X, Y, epochs=300, batch_size=4, lr=0.05, rng=rng)
    p = model.predict_proba(X)[:, 1]
    correct = int(((p > 0.5) == y).sum())
    for (x1, x2), target, prob in zip(X.astype(int), y, p):
        print(f"   {x1} XOR {x2} = {target}   network says p(1) = {prob:.3f}")
    print(f"   {correct}/4 correct: " + ("the hidden layer bends the boundary into a band" if correct == 4 else
                                     "not solved in this run; the hidden layer can bend the boundary, but did not"))
    plot_decision_boundary(ax, lambda g: model.predict_proba(g)[:, 1], X, y, f"XOR: {correct}/4 correct", margin=0.4)
    return correct


def fit_sine(rng: np.random.Generator, ax: plt.Axes) -> float:
    print("\n3. Regression: a network is a function. Fit y = sin(x) + noise with MSE: network 1-32-32-1, tanh")
    X, y = noisy_sine(200, 0.1, seed=int(rng.integers(1 << 31)))
    model = MLP([1, 32, 32, 1], "tanh", rng, dtype=np.float64)
    history = fit(model, mean_squared_error, X, y, X, y, epochs=400, batch_size=32, lr=0.01, rng=rng)
    grid = np.linspace(-np.pi, np.pi, 300)[:, None]
    fitted = model.forward(grid)
    rms_to_truth = float(np.sqrt(np.mean((fitted - np.sin(grid)) ** 2)))
    print(f"   final training MSE {2 * history[-1]['train_loss']:.4f} (the noise alone gives 0.1^2 = 0.0100); "
          f"RMS distance to the true sin(x): {rms_to_truth:.3f}")
    plot_regression(ax, X, y, grid, {"true sin(x)": np.sin(grid), "network": fitted})
    return rms_to_truth


def classify_moons(rng: np.random.Generator, seed: int, ax: plt.Axes) -> float:
    print("\n4. Two half-moons (scikit-learn make_moons, 1000 points, noise 0.2): network 2-16-16-2, relu")
    data = load_moons(seed)
    model = MLP([2, 16, 16, 2], "relu", rng, dtype=np.float64)
    Y = lambda y: one_hot(y, 2, np.float64)  # noqa: E731
    fit(model, softmax_cross_entropy, data.X_train, Y(data.y_train), data.X_val, Y(data.y_val), epochs=200,
        batch_size=32, lr=0.01, rng=rng)
    _, accuracy = evaluate(model, softmax_cross_entropy, data.X_test, Y(data.y_test))
    print(f"   test accuracy {accuracy:.1%} on {len(data.X_test)} points the network never saw")
    plot_decision_boundary(ax, lambda g: model.predict_proba(g)[:, 1], data.X_test, data.y_test,
                           f"moons: test accuracy {accuracy:.1%}", margin=0.3)
    return accuracy


# ----------------------------------------------------------------------------- real data


def train_on_dataset(data: Dataset, *, hidden: list[int], activation: str, loss: str, epochs: int,
                     batch_size: int, lr: float, weight_decay: float, augment: int, seed: int,
                     rng: np.random.Generator) -> tuple[MLP, dict]:
    """Train on a real data set and score it, the way every later lesson does.

    It is split three ways: the network learns from the training split; the validation split, never
    trained on, shows how it does on new examples and is where settings are chosen (the defaults at the
    top were chosen on it); the test split is scored once, at the end, as the honest estimate for new data.
    """
    mean, std = normalisation(data.X_train)
    data.standardise(mean, std)
    X_train, X_val, X_test = data.X_train, data.X_val, data.X_test
    Y_train, Y_val, Y_test = (one_hot(y, data.n_classes) for y in (data.y_train, data.y_val, data.y_test))
    sizes = [data.n_features, *hidden, data.n_classes]
    loss_fn = LOSSES[loss]
    model = MLP(sizes, activation, rng, output_sigmoid=loss == "mse")
    print(f"   network {'-'.join(map(str, sizes))}, {activation}, {loss}; Adam, lr {lr} (cosine to 0), "
          f"batch {batch_size}, decoupled weight decay {weight_decay}, {epochs} epochs, "
          f"{f'random shifts of up to {augment} px' if augment else 'no augmentation'};\n"
          f"   inputs standardised with mean {mean:.3f}, std {std:.3f} (training split)")
    empty = -mean / std  # an empty pixel, 0, in standardised units: what a shift fills the gap with
    shift = partial(random_shift, shape=data.image_shape, max_shift=augment, rng=rng, fill=empty) if augment else None
    history = fit(model, loss_fn, X_train, Y_train, X_val, Y_val, epochs=epochs, batch_size=batch_size, lr=lr,
                  weight_decay=weight_decay, rng=rng, verbose=True, augment=shift)
    weight_norm = float(np.sqrt(sum(float((W * W).sum()) for W in model.arrays()[::2])))
    _, test_accuracy = evaluate(model, loss_fn, X_test, Y_test)
    seconds = history[-1]["seconds"]
    print(f"   final weights' norm ||W|| = {weight_norm:.2f} (all layers; "
          f"{f'weight decay {weight_decay} pulls it down' if weight_decay else 'no weight decay'})")
    print(f"   test accuracy {test_accuracy:.2%} on {len(X_test)} test images, scored once; training took "
          f"{seconds:.1f} s ({epochs * len(X_train) / seconds:,.0f} images/s)")
    record = {"lesson": "03", "dataset": data.name, "layer_sizes": sizes, "activation": activation, "loss": loss,
              "hyperparameters": {"epochs": epochs, "batch_size": batch_size, "lr": lr, "weight_decay": weight_decay,
                                  "augment": augment, "seed": seed},
              "normalisation": {"mean": mean, "std": std}, "history": history, "weight_norm": weight_norm,
              "test_accuracy": test_accuracy}
    return model, record


# ------------------------------------------ plumbing: saving, figures, the command line (not the lesson)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = lesson_parser(__doc__)
    parser.add_argument("--dataset", choices=["digits", "mnist"], default="digits",
                        help="section 5's data: bundled 8x8 digits, or MNIST from --data-dir (--dataset mnist --help "
                             "shows MNIST's defaults)")
    add_mnist_arguments(parser)
    parser.add_argument("--skip-toys", action="store_true", help="skip sections 1-4 and train on --dataset only")
    parser.add_argument("--hidden", type=positive_int, nargs="+", help="hidden layer sizes")
    parser.add_argument("--activation", choices=sorted(ACTIVATIONS), default="relu", help="hidden activation")
    parser.add_argument("--loss", choices=sorted(LOSSES), default="cross_entropy",
                        help="cross_entropy (softmax output) or mse (sigmoid outputs vs one-hot targets)")
    parser.add_argument("--epochs", type=positive_int, help="passes over the training data")
    parser.add_argument("--batch-size", type=positive_int, help="mini-batch size")
    parser.add_argument("--lr", type=positive_float, help="peak learning rate")
    parser.add_argument("--weight-decay", type=non_negative_float, default=0.1, help="Adam's decoupled weight decay")
    parser.add_argument("--augment", type=non_negative_int, help="shift each training batch by up to this many pixels")
    parser.set_defaults(**(MNIST if given("--dataset", argv) == "mnist" else DIGITS))  # any flag overrides
    return parser.parse_args(argv)


def main() -> None:
    args = parse_args()
    rng = seed_everything(args.seed)
    np.seterr(over="ignore", invalid="ignore")  # an overflow ends in inf/NaN, which fit() reports in one line
    run_name = f"{args.dataset}_{args.loss}_{args.activation}"
    json_path = MODELS_DIR / f"03_mlp_{run_name}.json"
    check_replaceable(json_path.with_suffix(".npz"), "03")  # before any training: can the results be saved?
    check_figure_writable(f"03_{run_name}_training")
    data = load_dataset(args.dataset, args.seed, args.data_dir, args.download)  # a missing MNIST: say so now
    sizes = [data.n_features, *args.hidden, data.n_classes]
    parameters = sum((n_in + 1) * n_out for n_in, n_out in zip(sizes[:-1], sizes[1:]))
    # float32 weights, their gradients and Adam's two moments: 16 bytes per parameter, before anything is allocated
    check_memory(16 * parameters, f"--hidden {' '.join(map(str, args.hidden))}: {parameters:,} parameters need")

    if not args.skip_toys:
        run_gradient_checks(rng)
        fig, axes = plt.subplots(1, 3, figsize=(16, 4.5))
        solve_xor(rng, axes[0])
        fit_sine(rng, axes[1])
        classify_moons(rng, args.seed, axes[2])
        fig.suptitle("What a hidden layer buys: a bent boundary (XOR, moons) and a curved function (sine)")
        fig.tight_layout()
        save_figure(fig, "03_toy_problems")

    rng = seed_everything(args.seed)  # afresh: the same seed gives the same network with or without --skip-toys
    print(f"\n5. Real data: {args.dataset}\n   {data.describe()}")
    model, record = train_on_dataset(data, hidden=args.hidden, activation=args.activation, loss=args.loss,
                                     epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                                     weight_decay=args.weight_decay, augment=args.augment, seed=args.seed, rng=rng)
    arrays = {f"{'Wb'[i % 2]}{i // 2}": p for i, p in enumerate(model.arrays())}  # W0, b0, W1, b1, ...
    save_npz(json_path, arrays, record)
    save_figure(plot_history(record), f"03_{run_name}_training")
    compare_with_other_runs(record, json_path)
    show_or_close(args.no_show)


if __name__ == "__main__":
    run(main)
