"""Lesson 02 - a perceptron learns AND and OR by gradient descent, and cannot learn XOR.

The question: can lesson 01's neuron learn a logic gate from its truth table? A perceptron is that
neuron with a job: given two inputs, output the probability that the answer is 1. For the four rows
of a truth table at once (X is 4x2, one row per example; y holds the four answers, 0 or 1):

    z = X w + b            (4 weighted sums)
    p = sigmoid(z)         (4 probabilities)
    L = -mean( y log p + (1 - y) log(1 - p) )      binary cross-entropy: the loss, how wrong p is

A confident wrong answer (p near 0 when y = 1) costs a lot, because -log p grows without limit. To
learn, each weight needs the slope of L with respect to it (lesson 01: "slopes and the chain rule").
Along the chain w -> z -> p -> L the links' slopes multiply, and two of them cancel: the log's slope,
-1/p when y = 1 (1/(1 - p) when y = 0), against sigmoid's slope, p (1 - p). What is left is simple:

    dL/dz = (p - y) / N          dL/dw = X^T (p - y) / N          dL/db = sum(p - y) / N

(X^T is X transposed, rows turned into columns: dL/dw_1 adds up input 1 of each example times that
example's error p - y.) Gradient descent repeats  w <- w - lr * dL/dw,  b <- b - lr * dL/db, a small
step downhill each time, on all four examples at once. One pass over all the training data is called
an epoch: here an epoch is a single step (lesson 03 splits the data into mini-batches).

Why XOR fails: the perceptron says 1 exactly where w . x + b > 0, one side of a straight line. AND
and OR each put their 1s on one side of some line; XOR wants (0,1) and (1,0) on one side and (0,0) and
(1,1) on the other, and no straight line does that: XOR is not linearly separable. Gradient descent
(at the default lr) ends at w = 0, b = 0, p = 0.5 for every input: no decision at all (``explain_xor``).
Lesson 03 adds a hidden layer, which bends the boundary, and solves it.

The learning rate lr sets the size of the steps; ``compare_learning_rates`` trains AND and XOR with
the same rates, and shows where a step too large hurts and why: on XOR at lr 10 the weights end up
jumping across the bottom of the loss and back, every step. Read ``train`` for Rosenblatt's original rule.

Run it:  python 02_perceptron.py [--lr 1.0] [--epochs 2000] [--compare-lr 0.01 1 10]
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
    """Plain gradient descent from small random weights.

    Returns the final w and b, the loss before each step, and the path: (w1, w2, b) before each step.
    (Sigmoid + cross-entropy + gradient descent is what statisticians call logistic regression.
    Rosenblatt's perceptron of 1958 used a hard step instead, output 1 if w . x + b > 0 else 0, and
    another rule: on each misclassified example, w <- w + lr (y - y_hat) x. It stops once every example
    is right, and never settles on XOR. The smooth version is the one that grows into lesson 03's networks.)
    """
    w, b = rng.normal(0, 0.1, size=X.shape[1]), 0.0
    losses, path = [], []
    for _ in range(epochs):
        losses.append(binary_cross_entropy(predict_proba(X, w, b), y))
        path.append([*w, b])
        dw, db = gradients(X, y, w, b)
        w, b = w - lr * dw, b - lr * db
    return w, b, losses, np.array(path)


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
    """Why gradient descent heads for w = 0, b = 0 on XOR; returns whether p is 0.5 for every input.

    There the gradient is exactly zero by symmetry, so the steps stop. The loss of a sigmoid neuron is
    convex - bowl-shaped, curving upwards everywhere, with no dip but the one at the bottom - so a flat
    point is the lowest point: w = 0, b = 0 is the best any straight line can do on XOR.
    """
    p = predict_proba(X, w, b)
    undecided = all(d is None for d in decide(p))
    dw, db = gradients(X, y, np.zeros(2), 0.0)
    print(f"   p(1) lies between {p.min():.4f} and {p.max():.4f} for all four inputs" + (
        ":\n   the perceptron does not decide at all, and there is no boundary line to draw." if undecided else "."))
    print(f"   At w = 0, b = 0 the gradient is dL/dw = [{dw[0]:+.1f}, {dw[1]:+.1f}], dL/db = {db:+.1f}, by symmetry:")
    print("   (1,0) pulls w1 up exactly as hard as (1,1) pushes it down (and (0,1) and (1,1) do the same to w2),")
    print("   and the two 1s pull b up as hard as the two 0s push it down. Cross-entropy of a sigmoid is")
    print(f"   convex (bowl-shaped), so this flat point is the best any line can do: loss ln 2 = "
          f"{binary_cross_entropy(np.full(4, 0.5), y):.4f}.")
    return undecided


LOWEST_LOSS = {"AND": 0.0, "XOR": float(np.log(2))}  # AND is separable; XOR's best line is no line (above)


def xor_curvature(X: np.ndarray) -> float:
    """How sharply XOR's loss curves at its bottom, w = 0, b = 0, in its steepest direction.

    Curvature is how fast the slope itself changes: near the bottom the loss is a bowl, L ~ ln 2 + c/2 t^2
    along the steepest direction t. The Hessian, the table of those second slopes for every pair of
    parameters, is sigmoid'(0) * mean(x x^T) = X^T X / 16 here (x with a 1 for the bias: entry (i, j) is the
    mean of x_i x_j, times 1/4); c, its largest eigenvalue, is the curvature along the steepest direction.
    """
    X1 = np.c_[X, np.ones(len(X))]  # the bias as a third weight on a constant input 1
    return float(np.linalg.eigvalsh(0.25 * X1.T @ X1 / len(X)).max())


def compare_learning_rates(rates: list[float], epochs: int, rng: np.random.Generator, axes: dict) -> list:
    """Train AND and XOR with each rate and say what each did, read from its own losses and weights.

    Too small, and the loss barely moves in the time there is. Too large, and a step overshoots the bottom
    of the valley; how much that hurts depends on where the bottom is. On AND the loss keeps falling as the
    weights grow (its best weights lie infinitely far out), so an early overshoot costs a few steps. On XOR
    the bottom is at w = 0, and near it the loss is a bowl of curvature c: a step multiplies the distance
    to the bottom by (1 - lr c), so with lr above 2 / c every step lands on the far side of the bottom, at
    least as far out as it started. Returns XOR's jumps: (lr, the weights before the last step, after it).
    """
    print(f"\nThe learning rate ({epochs} steps each). Lowest possible loss: AND 0, XOR ln 2 = {np.log(2):.3f}.")
    c = xor_curvature(logic_gate("XOR")[0])
    print(f"   On XOR the loss near w = 0 curves by c = {c:.3f}: steps with lr above 2 / c = {2 / c:.1f} overshoot "
          "its bottom.")
    steps = [s for s in (1, 2, 10, 100) if s < epochs] + [epochs]
    print("   loss at step          " + "".join(f"{s:>8}" for s in steps) + "  highest")
    jumps = []
    for gate, ax in axes.items():
        X, y = logic_gate(gate)
        for lr in rates:
            _, _, losses, path = train(X, y, lr, epochs, rng)
            losses = np.array(losses)
            above = max(0.0, losses[-1] - LOWEST_LOSS[gate])  # ln 2 is rounded too
            moved = float(np.linalg.norm(path[-1] - path[-2])) if epochs > 1 else 0.0  # by the last step
            rises = np.flatnonzero(np.diff(losses) > 1e-9) + 1  # steps after which the loss went up, beyond rounding
            if moved > 0.1 and above > 0.1:
                back = epochs > 2 and np.linalg.norm(path[-1] - path[-3]) < 1e-6
                verdict = (f"too large: the last step still moved the weights by {moved:.1f}"
                           + (", the one before moved them back: they jump to and fro across the bottom"
                              if back else "")
                           + f"; the loss stays {above:.2f} above the lowest")
                if gate == "XOR" and back:
                    jumps.append((lr, path[-2], path[-1]))
            elif above > 0.1:
                verdict = f"still {above:.2f} above the lowest possible loss: steps too small"
            elif len(rises):
                verdict = (f"overshot: the loss rose after {len(rises)} of the first {rises[-1]} steps, then fell to "
                           f"within {above:.1e} of the lowest")
            else:
                verdict = f"steady descent, within {above:.1e} of the lowest"
            shown = "".join(f"{losses[s - 1]:8.3f}" for s in steps)
            print(f"   {gate} lr {lr:<12g}{shown}{losses.max():9.2f}   {verdict}")
            ax.plot(range(1, epochs + 1), losses, lw=1.5, label=f"lr {lr:g}")
        if LOWEST_LOSS[gate] > 0:  # AND's lowest, 0, lies off a log axis
            ax.axhline(LOWEST_LOSS[gate], color="k", ls="--", lw=1, label="lowest possible")
        ax.set(title=f"{gate}: the same learning rates", xlabel="gradient-descent step", ylabel="binary cross-entropy",
               xscale="log", yscale="log" if LOWEST_LOSS[gate] == 0 else "linear")  # a log axis shows the fall to 0
        ax.legend(fontsize=8)
    return jumps


def plot_jump(ax: plt.Axes, jumps: list) -> list[float]:
    """XOR's loss along the straight line through the weights before and after the last step of a jumping rate;
    returns the loss at those two points."""
    if not jumps:
        ax.text(0.5, 0.5, "no rate here jumps across\nXOR's bottom (try --compare-lr 10)", ha="center", va="center")
        ax.set_axis_off()
        return []
    lr, before, after = jumps[-1]  # the largest such rate
    X, y = logic_gate("XOR")
    loss_at = lambda q: binary_cross_entropy(predict_proba(X, q[:2], q[2]), y)  # noqa: E731  q = (w1, w2, b)
    t = np.linspace(-0.6, 1.6, 200)
    line = before + t[:, None] * (after - before)  # (200, 3): points (w1, w2, b) on the line
    ax.plot(t, [loss_at(q) for q in line], color="C2")
    heights = [loss_at(before), loss_at(after)]
    for at, point, height, name, side in zip((0, 1), (before, after), heights, ("before", "after"), (-1, 1)):
        ax.plot(at, height, "o", color="k")
        ax.annotate(f"{name} the last step:\n(w1, w2, b) =\n({point[0]:+.2f}, {point[1]:+.2f}, {point[2]:+.2f})",
                    (at, height), textcoords="offset points", xytext=(10 * side, -12), fontsize=8,
                    ha="left" if side > 0 else "right", va="top")
    ax.annotate("", (1, heights[1]), (0, heights[0]),
                arrowprops={"arrowstyle": "->", "connectionstyle": "arc3,rad=-0.3"})
    ax.set(title=f"XOR, lr {lr:g}: every step jumps across the bottom", xlabel="along the line from before to after",
           ylabel="binary cross-entropy")
    return heights


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
    top = [name for name in (*LOGIC_GATES, "loss") for _ in range(2)]  # 8 columns: 2 each above, 3-2-3 below
    fig, panels = plt.subplot_mosaic([top, ["lr AND"] * 3 + ["lr XOR"] * 2 + ["jump"] * 3], figsize=(17, 8.6))
    scores = {}
    for gate in LOGIC_GATES:
        ax = panels[gate]
        X, y = logic_gate(gate)
        w, b, losses, _ = train(X, y, args.lr, args.epochs, rng)
        scores[gate] = report(gate, X, y, w, b, losses)
        title = f"{gate}: {scores[gate]}/4 correct"
        if gate == "XOR":
            xor_undecided = explain_xor(X, y, w, b)
            title = f"{gate}: p = 0.5 everywhere, no boundary" if xor_undecided else title
        plot_decision_boundary(ax, lambda grid: predict_proba(grid, w, b), X, y, title, margin=0.4)
        ax.set_xlabel("x1")
        ax.set_ylabel("x2")
        panels["loss"].plot(losses, label=gate, lw=4 if gate == "XOR" else 2)  # XOR's lies on ln 2: drawn wide
    panels["loss"].axhline(np.log(2), color="k", ls="--", lw=0.8, label="ln 2 (always 0.5)")
    panels["loss"].set(title="Training loss", xlabel="gradient-descent step", ylabel="binary cross-entropy")
    panels["loss"].set_yscale("log")
    panels["loss"].legend()
    jumps = compare_learning_rates(args.compare_lr, args.epochs, rng,
                                   {"AND": panels["lr AND"], "XOR": panels["lr XOR"]})
    heights = plot_jump(panels["jump"], jumps)
    xor_result = "p = 0.5 everywhere, no line at all" if xor_undecided else f"{scores['XOR']}/4"
    fig.suptitle(f"A perceptron draws one straight line (black, p = 0.5): AND {scores['AND']}/4, "
                 f"OR {scores['OR']}/4; XOR {xor_result}")
    fig.tight_layout()
    print(f"\nAND {scores['AND']}/4, OR {scores['OR']}/4, XOR {scores['XOR']}/4 correct. Lesson 03 adds a hidden "
          "layer and solves XOR.")
    save_figure(fig, "02_perceptron_gates")
    if jumps:
        lr = jumps[-1][0]
        level = ("at the same height, so the loss stays put while the weights do not" if abs(heights[0] - heights[1])
                 < 1e-6 else f"at heights {heights[0]:.3f} and {heights[1]:.3f}")
        print(f"   In the figure, bottom right: XOR's loss along the line through its last two weights at lr {lr:g}.\n"
              "   They sit on opposite walls of the bowl: every step jumps across the bottom and the next jumps back,"
              f"\n   {level}.")
    show_or_close(args.no_show)


if __name__ == "__main__":
    run(main)
