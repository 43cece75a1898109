"""Lesson 02 - a perceptron learns AND and OR by gradient descent, and cannot learn XOR.

A perceptron is lesson 01's neuron with a job: given two inputs, output the
probability that the answer is 1. For all four rows of a truth table at once,
in matrix form (X is 4x2, one row per example):

    z = X w + b            (4 weighted sums)
    p = sigmoid(z)         (4 probabilities)
    L = -mean( y log p + (1 - y) log(1 - p) )      binary cross-entropy

Cross-entropy punishes a confident wrong answer heavily, and its gradient is
simple, because sigmoid's derivative cancels against the log:

    dL/dz = (p - y) / N          dL/dw = X^T (p - y) / N          dL/db = sum(p - y) / N

Gradient descent then repeats  w <- w - lr * dL/dw,  b <- b - lr * dL/db.

Why XOR fails: the perceptron predicts 1 exactly where w . x + b > 0, one side
of a straight line. AND and OR each put their 1s on one side of some line. XOR
wants (0,1) and (1,0) on one side and (0,0) and (1,1) on the other, and no
straight line does that: XOR is not linearly separable. (It is sometimes
claimed that a single perceptron can learn XOR; it cannot, whatever the
training.) The loss stalls at ln 2 = 0.693, the loss of answering 0.5
everywhere. Lesson 03 adds a hidden layer, which bends the boundary, and
solves it.

Run it:  python 02_perceptron.py [--lr 1.0] [--epochs 2000]
"""

from __future__ import annotations

import numpy as np

from common.activations import sigmoid
from common.cli import lesson_parser, positive_float, positive_int, run, seed_everything
from common.data import LOGIC_GATES, logic_gate
from common.plotting import plot_decision_boundary, plt, save_figure, show_or_close


def predict_proba(X: np.ndarray, w: np.ndarray, b: float) -> np.ndarray:
    """p = sigmoid(X w + b): the perceptron's probability of output 1, for every row of X."""
    return sigmoid(X @ w + b)


def binary_cross_entropy(p: np.ndarray, y: np.ndarray) -> float:
    eps = 1e-12  # keeps log away from 0 when p is exactly 0 or 1
    return float(-np.mean(y * np.log(p + eps) + (1 - y) * np.log(1 - p + eps)))


def gradients(X: np.ndarray, y: np.ndarray, w: np.ndarray, b: float) -> tuple[np.ndarray, float]:
    """dL/dw and dL/db for the mean binary cross-entropy, all examples at once."""
    error = predict_proba(X, w, b) - y  # dL/dz times N
    return X.T @ error / len(y), float(error.mean())


def train(X: np.ndarray, y: np.ndarray, lr: float, epochs: int, rng: np.random.Generator):
    """Plain gradient descent from small random weights; returns w, b and the loss per epoch."""
    w, b = rng.normal(0, 0.1, size=X.shape[1]), 0.0
    losses = []
    for _ in range(epochs):
        losses.append(binary_cross_entropy(predict_proba(X, w, b), y))
        dw, db = gradients(X, y, w, b)
        w, b = w - lr * dw, b - lr * db
    return w, b, losses


def report(gate: str, X: np.ndarray, y: np.ndarray, w: np.ndarray, b: float, losses: list[float]) -> int:
    p = predict_proba(X, w, b)
    predictions = (p > 0.5).astype(int)
    correct = int((predictions == y).sum())
    print(f"\n{gate}: learned w = [{w[0]:+.3f}, {w[1]:+.3f}], b = {b:+.3f}; final loss {losses[-1]:.4f}")
    print("   x1  x2 | target  p(1)    prediction")
    for (x1, x2), target, prob, pred in zip(X.astype(int), y.astype(int), p, predictions):
        mark = "" if pred == target else "   <- wrong"
        print(f"   {x1}   {x2}  |   {target}     {prob:.3f}   {pred}{mark}")
    print(f"   {correct}/4 correct")
    return correct


def main() -> None:
    parser = lesson_parser(__doc__)
    parser.add_argument("--lr", type=positive_float, default=1.0, help="learning rate of gradient descent")
    parser.add_argument("--epochs", type=positive_int, default=2000, help="gradient-descent steps (full batch)")
    args = parser.parse_args()
    rng = seed_everything(args.seed)

    print(f"Training one perceptron per gate: {args.epochs} steps of gradient descent, learning rate {args.lr}")
    fig, axes = plt.subplots(1, len(LOGIC_GATES) + 1, figsize=(17, 4.2))
    scores = {}
    for ax, gate in zip(axes, LOGIC_GATES):
        X, y = logic_gate(gate)
        w, b, losses = train(X, y, args.lr, args.epochs, rng)
        scores[gate] = report(gate, X, y, w, b, losses)
        plot_decision_boundary(
            ax, lambda grid: predict_proba(grid, w, b), X, y, f"{gate}: {scores[gate]}/4 correct", margin=0.4
        )
        ax.set_xlabel("x1")
        ax.set_ylabel("x2")
        axes[-1].plot(losses, label=gate, lw=2)
    axes[-1].axhline(np.log(2), color="k", ls="--", lw=1, label="ln 2 (always 0.5)")
    axes[-1].set(title="Training loss", xlabel="gradient-descent step", ylabel="binary cross-entropy")
    axes[-1].set_yscale("log")
    axes[-1].legend()
    fig.suptitle("A perceptron draws one straight line (black, p = 0.5): enough for AND and OR, not for XOR")
    fig.tight_layout()

    print(
        f"\nAND {scores['AND']}/4, OR {scores['OR']}/4, XOR {scores['XOR']}/4."
        "\nXOR fails because no straight line puts (0,1) and (1,0) on one side and (0,0), (1,1) on the other:"
        "\nit is not linearly separable. Any line gets at most 3 of 4 right, and cross-entropy prefers"
        "\nhedging at p = 0.5 everywhere to being confidently wrong on one point"
        f" (XOR loss {binary_cross_entropy(np.full(4, 0.5), logic_gate('XOR')[1]):.3f} at p = 0.5)."
        "\nLesson 03 adds a hidden layer and solves it."
    )
    save_figure(fig, "02_perceptron_gates")
    show_or_close(args.no_show)


if __name__ == "__main__":
    run(main)
