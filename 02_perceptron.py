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

Gradient descent then repeats  w <- w - lr * dL/dw,  b <- b - lr * dL/db,
each time on all four examples at once. One pass over all the training data
is called an epoch; here each epoch is a single step (later lessons split the
data into mini-batches and take many steps per epoch).
The learning rate lr sets the step: too small and the loss barely moves in
the time we have; too large and a step overshoots the bottom of the valley.
How much that hurts depends on where the bottom is. On AND the loss keeps
falling as the weights grow (the best weights lie infinitely far out), so a
large step overshoots once and then only gets there sooner. On XOR the best
weights are finite (w = 0, below), and near them the loss is a bowl of
curvature c: a step larger than 2 / c jumps across the bottom every time, and
the loss bounces instead of settling. The script trains both with the same
rates and computes c.

(Sigmoid + cross-entropy + gradient descent is what statisticians call
logistic regression. Rosenblatt's original perceptron of 1958 used a hard
step, output 1 if w . x + b > 0 else 0, and a different rule: on each
misclassified example, w <- w + lr (y - y_hat) x. It stops changing once
every example is right, and never settles on XOR. The smooth version is the
one that grows into the networks of lesson 03.)

Why XOR fails: the perceptron predicts 1 exactly where w . x + b > 0, one side
of a straight line. AND and OR each put their 1s on one side of some line. XOR
wants (0,1) and (1,0) on one side and (0,0) and (1,1) on the other, and no
straight line does that: XOR is not linearly separable. (It is sometimes
claimed that a single perceptron can learn XOR; it cannot, whatever the
training.) What gradient descent finds is telling: w = 0, b = 0, so p = 0.5
for every input - no decision at all, and no line to draw. By symmetry the
gradient there is exactly zero: (1,0) pulls w1 up as hard as (1,1) pushes it
down, (0,1) and (1,1) do the same to w2, and the two 1s and the two 0s cancel
on b. Cross-entropy of a sigmoid is convex, so that
flat point is the best any line can do, and the loss stays at ln 2 = 0.693.
Lesson 03 adds a hidden layer, which bends the boundary, and solves it.

Run it:  python 02_perceptron.py [--lr 1.0] [--epochs 2000]
"""

from __future__ import annotations

import numpy as np

from common.activations import sigmoid
from common.cli import lesson_parser, positive_float, positive_int, run, seed_everything
from common.data import LOGIC_GATES, logic_gate
from common.plotting import check_figure_writable, plot_decision_boundary, plt, save_figure, show_or_close


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


def decide(p: np.ndarray, tolerance: float = 1e-3) -> list[int | None]:
    """1 where p > 0.5, 0 where p < 0.5, None where p is 0.5 within ``tolerance``: no decision."""
    return [None if abs(q - 0.5) < tolerance else int(q > 0.5) for q in p]


def report(gate: str, X: np.ndarray, y: np.ndarray, w: np.ndarray, b: float, losses: list[float]) -> int:
    p = predict_proba(X, w, b)
    decisions = decide(p)
    correct = sum(d == target for d, target in zip(decisions, y))
    print(f"\n{gate}: learned w = [{w[0]:+.3g}, {w[1]:+.3g}], b = {b:+.3g}; final loss {losses[-1]:.4f}")
    print("   x1  x2 | target  p(1)    prediction")
    for (x1, x2), target, prob, decision in zip(X.astype(int), y.astype(int), p, decisions):
        shown = "none (p = 0.5)" if decision is None else f"{decision}{'' if decision == target else '   <- wrong'}"
        print(f"   {x1}   {x2}  |   {target}     {prob:.3f}   {shown}")
    undecided = decisions.count(None)
    print(f"   {correct}/4 correct" + (f", {undecided} undecided" if undecided else ""))
    return correct


def explain_xor(X: np.ndarray, y: np.ndarray, w: np.ndarray, b: float) -> bool:
    """Why gradient descent heads for w = 0, b = 0 on XOR; returns whether p is 0.5 for every input."""
    p = predict_proba(X, w, b)
    undecided = all(d is None for d in decide(p))
    dw, db = gradients(X, y, np.zeros(2), 0.0)
    print(f"   p(1) lies between {p.min():.4f} and {p.max():.4f} for all four inputs"
          + (":\n   the perceptron does not decide at all, and there is no boundary line to draw." if undecided else "."))
    print(f"   At w = 0, b = 0 the gradient is dL/dw = [{dw[0]:+.1f}, {dw[1]:+.1f}], dL/db = {db:+.1f}, by symmetry:")
    print("   (1,0) pulls w1 up exactly as hard as (1,1) pushes it down (and (0,1) and (1,1) do the same to w2),")
    print("   and the two 1s pull b up as hard as the two 0s push it down. Cross-entropy of a sigmoid is")
    print(f"   convex, so this flat point is the best any line can do: loss ln 2 = "
          f"{binary_cross_entropy(np.full(4, 0.5), y):.4f}.")
    return undecided


LOWEST_LOSS = {"AND": 0.0, "XOR": float(np.log(2))}  # AND is separable; XOR's best line is no line (above)


def xor_curvature(X: np.ndarray) -> float:
    """The largest curvature of XOR's loss at w = 0, b = 0: the Hessian is sigmoid'(0) * mean(x x^T) = X^T X / 16."""
    X1 = np.c_[X, np.ones(len(X))]  # the bias as a third weight on a constant input 1
    return float(np.linalg.eigvalsh(0.25 * X1.T @ X1 / len(X)).max())


def compare_learning_rates(rates: list[float], epochs: int, rng: np.random.Generator, axes: dict) -> None:
    """Train AND and XOR with each learning rate: too small, and too large where the best weights are finite."""
    print(f"\nThe learning rate ({epochs} steps each). Lowest possible loss: AND 0, XOR ln 2 = {np.log(2):.3f}.")
    c = xor_curvature(logic_gate("XOR")[0])
    print(f"   On XOR the loss near w = 0 curves by c = {c:.3f}: steps with lr above 2 / c = {2 / c:.1f} overshoot "
          "its bottom.")
    steps = [s for s in (1, 2, 10, 100) if s < epochs] + [epochs]
    print("   loss at step          " + "".join(f"{s:>8}" for s in steps) + "  highest")
    for gate, ax in axes.items():
        X, y = logic_gate(gate)
        for lr in rates:
            losses = np.array(train(X, y, lr, epochs, rng)[2])
            late = np.diff(losses[len(losses) // 2:])
            rises, above = int((late > 0).sum()), max(0.0, losses[-1] - LOWEST_LOSS[gate])  # ln 2 is rounded too
            if rises > len(late) // 4:
                verdict = (f"bounces across the bottom (the loss rose on {rises} of the last {len(late)} steps) "
                           f"and stays {above:.2f} above the lowest possible loss: too large")
            elif above > 0.1:
                verdict = f"still {above:.2f} above the lowest possible loss: steps too small"
            elif losses.max() > losses[0]:
                verdict = f"overshot to {losses.max():.2f} at first, then settled within {above:.1e} of the lowest"
            else:
                verdict = f"steady descent, within {above:.1e} of the lowest"
            shown = "".join(f"{losses[s - 1]:8.3f}" for s in steps)
            print(f"   {gate} lr {lr:<12g}{shown}{losses.max():9.2f}   {verdict}")
            ax.plot(range(1, epochs + 1), losses, lw=1.5, label=f"lr {lr:g}")
        if LOWEST_LOSS[gate] > 0:  # AND's lowest, 0, lies off a log axis
            ax.axhline(LOWEST_LOSS[gate], color="k", ls="--", lw=1, label="lowest possible")
        ax.set(title=f"{gate}: the same learning rates (lowest possible loss {LOWEST_LOSS[gate]:.3g})",
               xlabel="gradient-descent step", ylabel="binary cross-entropy", xscale="log",
               yscale="log" if LOWEST_LOSS[gate] == 0 else "linear")  # a log axis shows the fall towards 0
        ax.legend(fontsize=8)


def main() -> None:
    parser = lesson_parser(__doc__)
    parser.add_argument("--lr", type=positive_float, default=1.0, help="learning rate of gradient descent")
    parser.add_argument("--epochs", type=positive_int, default=2000, help="gradient-descent steps (full batch)")
    parser.add_argument("--compare-lr", type=positive_float, nargs="+", default=[0.01, 1.0, 10.0],
                        help="learning rates to compare on AND and on XOR")
    args = parser.parse_args()
    rng = seed_everything(args.seed)
    check_figure_writable("02_perceptron_gates")

    print(f"Training one perceptron per gate: {args.epochs} steps of gradient descent, learning rate {args.lr}")
    fig, panels = plt.subplot_mosaic([[*LOGIC_GATES, "loss"], ["lr AND", "lr AND", "lr XOR", "lr XOR"]],
                                      figsize=(17, 8.6))
    scores = {}
    for gate in LOGIC_GATES:
        ax = panels[gate]
        X, y = logic_gate(gate)
        w, b, losses = train(X, y, args.lr, args.epochs, rng)
        scores[gate] = report(gate, X, y, w, b, losses)
        title = f"{gate}: {scores[gate]}/4 correct"
        if gate == "XOR":
            xor_undecided = explain_xor(X, y, w, b)
            title = f"{gate}: p = 0.5 everywhere, no boundary" if xor_undecided else title
        plot_decision_boundary(ax, lambda grid: predict_proba(grid, w, b), X, y, title, margin=0.4)
        ax.set_xlabel("x1")
        ax.set_ylabel("x2")
        panels["loss"].plot(losses, label=gate, lw=2)
    panels["loss"].axhline(np.log(2), color="k", ls="--", lw=1, label="ln 2 (always 0.5)")
    panels["loss"].set(title="Training loss", xlabel="gradient-descent step", ylabel="binary cross-entropy")
    panels["loss"].set_yscale("log")
    panels["loss"].legend()
    compare_learning_rates(args.compare_lr, args.epochs, rng, {"AND": panels["lr AND"], "XOR": panels["lr XOR"]})
    xor_result = "p = 0.5 everywhere, no line at all" if xor_undecided else f"{scores['XOR']}/4"
    fig.suptitle(f"A perceptron draws one straight line (black, p = 0.5): AND {scores['AND']}/4, "
                 f"OR {scores['OR']}/4; XOR {xor_result}")
    fig.tight_layout()
    print(f"\nAND {scores['AND']}/4, OR {scores['OR']}/4, XOR {scores['XOR']}/4 correct. Lesson 03 adds a hidden "
          "layer and solves XOR.")
    save_figure(fig, "02_perceptron_gates")
    show_or_close(args.no_show)


if __name__ == "__main__":
    run(main)
