"""Lesson 01 - one neuron: a weighted sum of inputs, pushed through an activation function.

A neuron takes inputs x_1 ... x_n and does two things:

1. The weighted sum (also called the pre-activation):

       z = w_1 x_1 + w_2 x_2 + ... + w_n x_n + b  =  w . x + b

   Each weight w_i says how much input i matters, and with which sign; the
   bias b shifts the result, so the neuron can fire even when every input is 0.

2. The activation:  a = f(z).

   Without f, stacking neurons would only ever give another weighted sum: a
   straight line (or plane) however deep the network. A non-linear f is what
   lets networks bend. The usual choices:

       sigmoid(z)    = 1 / (1 + e^-z)            range (0, 1)     f' = s (1 - s)
       tanh(z)       = (e^z - e^-z)/(e^z + e^-z)  range (-1, 1)    f' = 1 - tanh^2
       relu(z)       = max(0, z)                  range [0, inf)   f' = 1 if z > 0 else 0
       leaky_relu(z) = z if z > 0 else 0.01 z     range (-inf, inf) f' = 1 or 0.01
       softmax(z)_k  = e^z_k / sum_j e^z_j        turns a vector of scores into probabilities

   The derivative f'(z) (the column f') is the slope of f at z: how much a
   changes per unit change of z, for a small nudge. Training (lessons 02-03)
   needs such slopes, and ``explain_slopes`` works one out by hand: slopes and
   the chain rule, the one piece of calculus the whole series uses. Sigmoid's
   f' is at most 0.25 and nearly 0 for |z| > 5 - the "vanishing gradient",
   slopes too small to learn from - which is why hidden layers today mostly use ReLU.

Run it:  python 01_neuron_activation.py [--inputs 0.5 -1.2 3.0] [--activation relu]
"""

from __future__ import annotations

import numpy as np

from common.activations import ACTIVATIONS, log_softmax, softmax, softmax_jacobian
from common.cli import finite_float, lesson_parser, run, seed_everything
from common.plotting import check_figure_writable, plt, save_figure, show_or_close

RANGES = {"sigmoid": "(0, 1)", "tanh": "(-1, 1)", "relu": "[0, inf)", "leaky_relu": "(-inf, inf)"}


def weighted_sum(x: np.ndarray, w: np.ndarray, b: float) -> float:
    """z = w . x + b: how strongly the inputs, each scaled by its weight, push the neuron."""
    return float(np.dot(w, x) + b)


def neuron(x: np.ndarray, w: np.ndarray, b: float, activation: str) -> tuple[float, float]:
    """Return the neuron's pre-activation z and its output a = f(z)."""
    z = weighted_sum(x, w, b)
    f, _ = ACTIVATIONS[activation]
    return z, float(f(np.array(z)))


def explain_neuron(x: np.ndarray, w: np.ndarray, b: float, activation: str) -> None:
    print("1. One neuron, term by term")
    for i, (xi, wi) in enumerate(zip(x, w), start=1):
        print(f"   w{i} * x{i} = {wi:+.3f} * {xi:+.3f} = {wi * xi:+.4f}")
    z, a = neuron(x, w, b, activation)
    print(f"   bias b                  = {b:+.4f}")
    print(f"   z = w . x + b           = {z:+.4f}")
    print(f"   {'a = ' + activation + '(z)':<23} = {a:+.4f}")
    print("   The same z through every activation:")
    for name, (f, df) in ACTIVATIONS.items():
        print(f"     {name:<10}  f(z) = {float(f(np.array(z))):+.4f}   f'(z) = {float(df(np.array(z))):+.4f}")


def explain_slopes(x: np.ndarray, w: np.ndarray, b: float, activation: str, h: float = 1e-3) -> None:
    """Slopes and the chain rule, worked on this neuron: how much does its output move when w_1 moves?

    A slope can be measured: nudge w_1 by a small h, and divide the change in a by h. It can also be
    computed. a = f(z) and z = w_1 x_1 + ... + b form a chain, w_1 -> z -> a, and the chain rule says
    that the slope of a chain is the product of its links' slopes:

        da/dw_1 = da/dz * dz/dw_1 = f'(z) * x_1

    (dz/dw_1 = x_1: raising w_1 by 1 raises z by x_1.) Lessons 02 and 03 do exactly this, link by link,
    from the loss - a number saying how wrong the network is - back to every weight: dLoss/dw, the
    slope that tells each weight which way is downhill. That is backpropagation.
    """
    print("\n2. Slopes and the chain rule: how much does the output a move when w1 moves?")
    z, a = neuron(x, w, b, activation)
    nudged = w.copy()
    nudged[0] += h
    measured = (neuron(x, nudged, b, activation)[1] - a) / h
    _, df = ACTIVATIONS[activation]
    slope = float(df(np.array(z)))
    print(f"   measured: nudge w1 by {h:g}: a moves by {measured * h:+.6f}, a slope of {measured:+.4f}")
    print(f"   computed, the chain rule: da/dw1 = f'(z) * dz/dw1 = f'(z) * x1 = {slope:+.4f} * {x[0]:+.3f} "
          f"= {slope * x[0]:+.4f}")
    gap = abs(measured - slope * x[0])
    print(f"   They agree to {gap:.1e}, the nudge's own small error: the links' slopes, multiplied along the chain."
          if gap < 0.01 * abs(slope * x[0]) + 1e-4 else
          f"   They differ by {gap:.2g}: the nudge crossed a point where f's slope jumps (relu's, at z = 0).")


def explain_softmax(scores: np.ndarray) -> None:
    print("\n3. Softmax: scores for several classes -> probabilities that sum to 1")
    p = softmax(scores)
    print(f"   scores  z = {np.array2string(scores, precision=2)}")
    print(f"   softmax z = {np.array2string(p, precision=4)}  (sum = {p.sum():.6f})")
    # Written in one formula, s_i (delta_ij - s_j), where delta_ij is 1 if i = j and 0 otherwise.
    print("   Its derivative is a table: entry (i, j) is the slope of p_i as score z_j moves,")
    print("   s_i (1 - s_i) when i = j, -s_i s_j when not; each row sums to 0 (the p's always add up to 1):")
    print("   " + np.array2string(softmax_jacobian(scores), precision=3).replace("\n", "\n   "))


def explain_stability() -> None:
    print("\n4. Numerical stability: inputs of +-1000")
    scores = np.array([1000.0, 1000.0, -1000.0])
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):  # the naive formulas overflow: the point
        naive_softmax = np.exp(scores) / np.exp(scores).sum()
        naive_log_sigmoid = np.log(1 / (1 + np.exp(1000.0)))
    print(f"   naive softmax([1000, 1000, -1000]) = exp(z) / sum exp(z) = {naive_softmax}: exp(1000) overflows "
          "to inf, and inf / inf is nan")
    print(f"   stable softmax, exp(z - max z) / sum exp(z - max z) = {softmax(scores)}")
    print(f"   naive log sigmoid(-1000) = log(1 / (1 + exp(1000))) = {naive_log_sigmoid}: the loss of lesson 02 "
          "would be infinite")
    # sigmoid(z) = e^z / (e^z + e^0) is softmax([z, 0])[0], so its log is log_softmax([z, 0])[0], which
    # subtracts the largest score before exponentiating and never overflows.
    print("   sigmoid(z) = e^z / (e^z + e^0) is the first entry of softmax([z, 0]), so:")
    print(f"   stable log sigmoid(-1000) = log_softmax([-1000, 0])[0] = {log_softmax(np.array([-1000.0, 0.0]))[0]}")
    sigmoid, _ = ACTIVATIONS["sigmoid"]
    print(f"   stable sigmoid([-1000, 0, 1000]) = {sigmoid(np.array([-1000.0, 0.0, 1000.0]))}")


def plot_activations() -> plt.Figure:
    z = np.linspace(-5, 5, 401)
    names = list(ACTIVATIONS)
    fig, axes = plt.subplots(2, len(names) + 1, figsize=(17, 6.5), sharex=True)
    for col, name in enumerate(names):
        f, df = ACTIVATIONS[name]
        top, bottom = axes[0, col], axes[1, col]
        top.plot(z, f(z), color="C0", lw=2)
        top.set_title(f"{name}(z),  range {RANGES[name]}")
        bottom.plot(z, df(z), color="C1", lw=2)
        bottom.set_title(f"{name}'(z)")
        bottom.set_xlabel("z")
        for ax in (top, bottom):
            ax.axhline(0, color="k", lw=0.6)
            ax.axvline(0, color="k", lw=0.6)
    # Softmax needs a vector: show p_1 for scores (z, 0, -1) as the first score z varies.
    scores = np.stack([z, np.zeros_like(z), -np.ones_like(z)], axis=1)
    p = softmax(scores)
    top, bottom = axes[0, -1], axes[1, -1]
    for k in range(3):
        top.plot(z, p[:, k], lw=2, label=f"p{k + 1}")
    top.legend(fontsize=8)
    top.set_title("softmax(z, 0, -1),  each p in (0, 1)")
    bottom.plot(z, p[:, 0] * (1 - p[:, 0]), color="C1", lw=2)
    bottom.set_title("dp1/dz = p1 (1 - p1)")
    bottom.set_xlabel("z (first score)")
    axes[0, 0].set_ylabel("activation a = f(z)")
    axes[1, 0].set_ylabel("derivative f'(z)")
    fig.suptitle("Activation functions (top) and their derivatives (bottom)", fontsize=13)
    fig.tight_layout()
    return fig


def main() -> None:
    parser = lesson_parser(__doc__)
    parser.add_argument("--inputs", type=finite_float, nargs="+", default=[0.5, -1.2, 3.0],
                        help="the neuron's inputs x")
    parser.add_argument("--weights", type=finite_float, nargs="+", help="its weights w (default: random, from --seed)")
    parser.add_argument("--bias", type=finite_float, default=0.1, help="its bias b")
    parser.add_argument("--activation", choices=sorted(ACTIVATIONS), default="sigmoid", help="the activation f")
    args = parser.parse_args()
    rng = seed_everything(args.seed)
    check_figure_writable("01_activations")

    x = np.array(args.inputs)
    w = np.array(args.weights) if args.weights else np.round(rng.normal(0, 1, size=len(x)), 3)
    if len(w) != len(x):
        parser.error(f"--weights needs one value per input: got {len(w)} weights for {len(x)} inputs")

    explain_neuron(x, w, args.bias, args.activation)
    explain_slopes(x, w, args.bias, args.activation)
    explain_softmax(np.array([2.0, 1.0, 0.1]))
    explain_stability()
    print("\n5. The curves")
    save_figure(plot_activations(), "01_activations")
    show_or_close(args.no_show)


if __name__ == "__main__":
    run(main)
