"""The checks behind exercises/check.py: each exercise's answer against a reference the learner did not write.

A check gets the learner's module and raises Wrong with what it tried, what it expected and what it got.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from torch.nn import functional as F

from common.lessons import lesson


class Wrong(Exception):
    """An answer that does not match: the message says what was tried, expected and got."""


def expect(ok: bool, tried: str, expected, got) -> None:
    if not ok:
        raise Wrong(f"tried:    {tried}\nexpected: {expected}\ngot:      {got}")


def close(got, expected, tol: float = 1e-6) -> bool:
    got, expected = np.asarray(got, dtype=float), np.asarray(expected, dtype=float)
    return got.shape == expected.shape and bool(np.allclose(got, expected, atol=tol, rtol=tol))


def short(a) -> str:
    return np.array2string(np.asarray(a, dtype=float), precision=4, threshold=8, edgeitems=2).replace("\n", "")


@dataclass
class Exercise:
    id: str  # "03.2": lesson 03, exercise 2
    name: str  # the function or class the learner writes in exercises/exNN.py
    title: str
    hint: str
    check: Callable


EXERCISES: list[Exercise] = []


def exercise(id: str, name: str, title: str, hint: str):
    def register(check: Callable) -> Callable:
        EXERCISES.append(Exercise(id, name, title, hint, check))
        return check
    return register


# ----------------------------------------------------------------------------- 01


def check_activation(answer, reference, z: torch.Tensor, name: str) -> None:
    """An activation's values and slopes against torch's function and torch.autograd, on the points z."""
    z.requires_grad_(True)
    reference(z).sum().backward()
    values, slopes = answer(z.detach().numpy())
    points = f"linspace({z[0].item():g}, {z[-1].item():g}, {len(z)})"
    expect(close(values, reference(z).detach()), f"{name}({points})", f"torch's {name}", short(values))
    expect(close(slopes, z.grad), f"the slopes at {points}", "torch.autograd's", short(slopes))


@exercise("01.1", "softplus", "softplus and its slope",
          "log(1 + e^z) = max(z, 0) + log(1 + e^-|z|), and e^-|z| never overflows. Its slope is sigmoid(z).")
def check_softplus(m) -> None:
    check_activation(m.softplus, F.softplus, torch.linspace(-6, 6, 25, dtype=torch.float64), "softplus")
    with np.errstate(all="ignore"):
        big, big_slopes = m.softplus(np.array([-1000.0, 1000.0]))
    expect(close(big, [0, 1000]) and close(big_slopes, [0, 1]), "softplus([-1000, 1000])",
           "values [0, 1000] and slopes [0, 1], no overflow", f"{short(big)} and {short(big_slopes)}")


@exercise("01.2", "gelu", "GELU and its slope",
          "Phi = (1 + np.vectorize(math.erf)(z / math.sqrt(2))) / 2; the slope is the product rule on z * Phi(z).")
def check_gelu(m) -> None:
    check_activation(m.gelu, F.gelu, torch.linspace(-4, 4, 17, dtype=torch.float64), "gelu")


@exercise("01.3", "numerical_slope", "a slope measured by a centred nudge",
          "Nudge both ways: (f(z + h) - f(z - h)) / (2 * h). A one-sided nudge is off by about h times the curvature.")
def check_numerical_slope(m) -> None:
    z = np.array([-2.0, 0.5, 3.0])
    got = m.numerical_slope(np.exp, z, 1e-3)
    # The centred difference of exp is exp(z) * sinh(h) / h: that exact number, not only something near exp(z).
    expect(close(got, np.exp(z) * math.sinh(1e-3) / 1e-3, 1e-9), "numerical_slope(np.exp, [-2, 0.5, 3], h=1e-3)",
           "(exp(z + h) - exp(z - h)) / 2h", short(got))


# ----------------------------------------------------------------------------- 02


@exercise("02.1", "bce_gradients", "binary cross-entropy's gradient",
          "p = sigmoid(X w + b); dL/dz = (p - y) / N; dL/dw = X^T dL/dz and dL/db = the sum of dL/dz.")
def check_bce(m) -> None:
    rng = np.random.default_rng(0)
    X, y, w, b = rng.normal(size=(7, 3)), rng.integers(0, 2, 7).astype(float), rng.normal(size=3), 0.3
    wt, bt = torch.tensor(w, requires_grad=True), torch.tensor(b, requires_grad=True)
    F.binary_cross_entropy_with_logits(torch.tensor(X) @ wt + bt, torch.tensor(y)).backward()
    dw, db = m.bce_gradients(X, y, w, b)
    expect(close(dw, wt.grad) and close(db, bt.grad), "7 random examples of 3 inputs",
           f"torch.autograd's dw {short(wt.grad)}, db {float(bt.grad):.4f}", f"dw {short(dw)}, db {float(db):.4f}")


@exercise("02.2", "rosenblatt_step", "Rosenblatt's perceptron rule",
          "y_hat = 1 if w @ x + b > 0 else 0; the change is lr * (y - y_hat) * x, zero when the answer was right.")
def check_rosenblatt(m) -> None:
    w0 = np.array([0.5, -0.5])
    w, b = m.rosenblatt_step(w0, 0.1, np.array([1.0, 0.0]), 1)
    expect(close(w, w0) and close(b, 0.1), "w = [0.5, -0.5], b = 0.1, x = [1, 0], y = 1 (already right)",
           "nothing changes", f"w {short(w)}, b {b}")
    expect(close(w0, [0.5, -0.5]), "the same call, then w0", "w0 left as it was", short(w0))
    w, b = m.rosenblatt_step(np.zeros(2), 0.0, np.array([1.0, 1.0]), 0, lr=0.5)
    expect(close(w, [0, 0]) and close(b, 0), "w = 0, b = 0, x = [1, 1], y = 0: w . x + b = 0 is not > 0",
           "y_hat = 0, right, nothing changes", f"w {short(w)}, b {b}")
    X, y = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], float), [0, 0, 0, 1]
    w, b = np.zeros(2), 0.0
    for _ in range(20):
        for xi, yi in zip(X, y):
            w, b = m.rosenblatt_step(w, b, xi, yi)
    right = [int(w @ xi + b > 0) == yi for xi, yi in zip(X, y)]
    expect(all(right), "20 passes over AND", "all 4 right (the rule converges on separable data)", right)


# ----------------------------------------------------------------------------- 03


@exercise("03.1", "dense_backward", "a dense layer's backward pass",
          "dW = x^T grad_z; db = grad_z summed over the batch (axis 0); dx = grad_z W^T. Check the shapes.")
def check_dense(m) -> None:
    rng = np.random.default_rng(1)
    x, W, b, g = rng.normal(size=(5, 4)), rng.normal(size=(4, 3)), rng.normal(size=3), rng.normal(size=(5, 3))
    xt, Wt, bt = (torch.tensor(a, requires_grad=True) for a in (x, W, b))
    (xt @ Wt + bt).backward(torch.tensor(g))
    dW, db, dx = m.dense_backward(x, W, g)
    for name, got, ref in (("dW", dW, Wt.grad), ("db", db, bt.grad), ("dx", dx, xt.grad)):
        expect(close(got, ref), f"{name} for x (5, 4), W (4, 3)", f"torch.autograd's, shape {tuple(ref.shape)}",
               f"shape {np.shape(got)}: {short(got)}")


@exercise("03.2", "softmax_cross_entropy_gradient", "softmax cross-entropy's gradient",
          "(softmax(logits) - one_hot(labels)) / N. Subtract each row's max before exp, and do not forget / N.")
def check_softmax_ce(m) -> None:
    rng = np.random.default_rng(2)
    logits, labels = rng.normal(size=(6, 4)) * 3, rng.integers(0, 4, 6)
    lt = torch.tensor(logits, requires_grad=True)
    F.cross_entropy(lt, torch.tensor(labels)).backward()
    got = m.softmax_cross_entropy_gradient(logits, labels)
    expect(close(got, lt.grad), "6 rows of 4 logits", f"torch.autograd's {short(lt.grad[0])} ...",
           f"{short(np.asarray(got)[0])} ...")
    big = m.softmax_cross_entropy_gradient(np.array([[1000.0, 0.0]]), np.array([0]))
    expect(close(big, [[0, 0]]), "logits [[1000, 0]], label 0", "[[0, 0]], no overflow", short(big))


@exercise("03.3", "numerical_gradient", "a numerical gradient check",
          "Loop over np.ndindex(x.shape); nudge one entry up and down by h, restore it, divide by 2h.")
def check_numerical_gradient(m) -> None:
    x = np.array([[1.0, -2.0], [0.5, 3.0]])
    kept = x.copy()
    got = m.numerical_gradient(lambda a: float((a ** 3).sum()), x, 1e-3)
    # centred: ((x + h)^3 - (x - h)^3) / 2h = 3 x^2 + h^2 exactly; a forward difference is off by 3 x h
    expect(close(got, 3 * x ** 2 + 1e-6, 1e-8), "sum(x^3) at [[1, -2], [0.5, 3]], h = 1e-3", short(3 * x ** 2),
           short(got))
    expect(close(x, kept), "the same call, then x", "x left as it was", short(x))


# ----------------------------------------------------------------------------- 04


@exercise("04.1", "Value", "a tiny autograd",
          "Each op makes out = Value(result, (self, other)) and sets out._backward to ADD out.grad times the local "
          "slope into each input's grad (+=, not =). backward(): a depth-first visit collects the nodes, parents "
          "first; set self.grad = 1 and call _backward in reverse order.")
def check_value(m) -> None:
    a = m.Value(2.0)
    b = a + a
    b.backward()
    expect(close(a.grad, 2.0), "a = Value(2); b = a + a; b.backward()", "a.grad = 2 (gradients add up)", a.grad)
    a, c = m.Value(2.0), None
    c = a * a + a
    c.backward()
    expect(close(c.data, 6.0) and close(a.grad, 5.0), "a = Value(2); c = a * a + a", "c.data 6, a.grad 5",
           f"c.data {c.data}, a.grad {a.grad}")
    x, w = m.Value(0.7), m.Value(-1.3)
    y = ((x * w + 2).tanh() * x.exp() + 3 * w) * (x + 1)
    y.backward()
    xt, wt = torch.tensor(0.7, dtype=torch.float64, requires_grad=True), torch.tensor(-1.3, dtype=torch.float64,
                                                                                       requires_grad=True)
    yt = ((xt * wt + 2).tanh() * xt.exp() + 3 * wt) * (xt + 1)
    yt.backward()
    expect(close([y.data, x.grad, w.grad], [yt.item(), xt.grad.item(), wt.grad.item()]),
           "y = ((x w + 2).tanh() * x.exp() + 3 w) (x + 1), x = 0.7, w = -1.3",
           f"torch: y {yt.item():.5f}, dy/dx {xt.grad.item():.5f}, dy/dw {wt.grad.item():.5f}",
           f"y {y.data:.5f}, dy/dx {x.grad:.5f}, dy/dw {w.grad:.5f}")


@exercise("04.2", "train_step", "one PyTorch training step",
          "optimizer.zero_grad(); loss = F.cross_entropy(model(x), y); loss.backward(); optimizer.step(); "
          "return loss.item(). Without zero_grad, the second step adds the first one's gradient.")
def check_train_step(m) -> None:
    torch.manual_seed(0)
    x, y = torch.randn(8, 5), torch.randint(0, 3, (8,))
    ours, ref = torch.nn.Linear(5, 3), torch.nn.Linear(5, 3)
    ref.load_state_dict(ours.state_dict())
    opt, ref_opt = torch.optim.SGD(ours.parameters(), lr=0.1), torch.optim.SGD(ref.parameters(), lr=0.1)
    for step in range(2):
        ref_opt.zero_grad()
        ref_loss = F.cross_entropy(ref(x), y)
        ref_loss.backward()
        ref_opt.step()
        loss = m.train_step(ours, opt, x, y)
        expect(isinstance(loss, float) and abs(loss - ref_loss.item()) < 1e-6, f"step {step + 1} on a Linear(5, 3)",
               f"the loss {ref_loss.item():.6f}, a float", repr(loss))
        expect(torch.allclose(ours.weight, ref.weight, atol=1e-6), f"the weights after step {step + 1}",
               "the same as one zero_grad-forward-backward-step", "different weights")


@exercise("04.3", "precision_recall_f1", "precision, recall and F1 for one class",
          "Count hits (true k and predicted k), called (predicted k) and real (true k): P = hits/called, "
          "R = hits/real.")
def check_prf(m) -> None:
    from sklearn.metrics import precision_recall_fscore_support

    rng = np.random.default_rng(3)
    y_true, y_pred = rng.integers(0, 4, 60).tolist(), rng.integers(0, 4, 60).tolist()
    for k in range(4):
        p, r, f, _ = precision_recall_fscore_support(y_true, y_pred, labels=[k], zero_division=0)
        got = m.precision_recall_f1(y_true, y_pred, k)
        expect(close(got, [p[0], r[0], f[0]]), f"class {k} of 60 random labels", f"scikit-learn's "
               f"({p[0]:.4f}, {r[0]:.4f}, {f[0]:.4f})", got)
    got = m.precision_recall_f1([0, 0], [0, 0], 1)
    expect(close(got, [0, 0, 0]), "class 1, never true and never predicted", "(0, 0, 0), no division by 0", got)


# ----------------------------------------------------------------------------- 05


@exercise("05.1", "penalty_gradient", "the gradient of an L1 and an L2 penalty",
          "The slope of |w| is sign(w) (np.sign gives 0 at 0); the slope of w^2 is 2 w.")
def check_penalty(m) -> None:
    w = np.array([1.5, -0.2, 0.0, 3.0])
    wt = torch.tensor(w, requires_grad=True)
    (0.1 * wt.abs().sum() + 0.05 * (wt ** 2).sum()).backward()
    got = m.penalty_gradient(w, 0.1, 0.05)
    expect(close(got, wt.grad), "w = [1.5, -0.2, 0, 3], l1 = 0.1, l2 = 0.05", f"torch.autograd's {short(wt.grad)}",
           short(got))


@exercise("05.2", "EarlyStopping", "early stopping with patience",
          "Keep the best loss and a counter: a new low (strictly lower) resets the counter, anything else adds 1; "
          "stop when the counter reaches patience.")
def check_early_stopping(m) -> None:
    for patience, losses, wanted in ((2, [1.0, 0.9, 0.95, 0.92], [False, False, False, True]),
                                     (2, [1.0, 0.9, 0.95, 0.8, 0.85, 0.85], [False, False, False, False, False, True]),
                                     (1, [1.0, 1.0], [False, True])):
        stopper = m.EarlyStopping(patience)
        got = [stopper.step(loss) for loss in losses]
        expect(got == wanted, f"patience {patience}, losses {losses}", wanted, got)


@exercise("05.3", "inverted_dropout", "inverted dropout",
          "keep = rng.random(x.shape) >= p; return np.where(keep, x / (1 - p), 0); in eval mode return x.")
def check_dropout(m) -> None:
    x = np.full((200, 50), 2.0)
    got = m.inverted_dropout(x, 0.3, np.random.default_rng(0))
    keep = np.random.default_rng(0).random(x.shape) >= 0.3
    expect(close(got, np.where(keep, 2.0 / 0.7, 0.0)), "x = 2 everywhere (200 x 50), p = 0.3, rng seed 0",
           f"zeros where rng.random >= 0.3 fails, {2 / 0.7:.4f} elsewhere "
           f"(mean {np.where(keep, 2 / 0.7, 0).mean():.3f})",
           f"mean {np.mean(got):.3f}, zeros {np.mean(np.asarray(got) == 0):.1%}")
    same = m.inverted_dropout(x, 0.3, np.random.default_rng(0), training=False)
    expect(close(same, x), "the same, training=False", "x unchanged", f"mean {np.mean(same):.3f}")


# ----------------------------------------------------------------------------- 06


@exercise("06.1", "crop_to_ink", "cropping a picture to its ink",
          "rows, cols = np.nonzero(image > threshold); slice from the min to the max + 1 of each.")
def check_crop(m) -> None:
    image = np.zeros((6, 7))
    image[1, 2], image[4, 5], image[2, 3] = 1.0, 0.9, 0.3
    got = m.crop_to_ink(image)
    expect(np.shape(got) == (4, 4) and close(got, image[1:5, 2:6]), "a 6x7 picture, ink at (1, 2) and (4, 5)",
           "rows 1-4, columns 2-5: shape (4, 4)", f"shape {np.shape(got)}")
    edge = np.zeros((3, 3))
    edge[0, 0] = edge[2, 2] = 1.0
    expect(np.shape(m.crop_to_ink(edge)) == (3, 3), "ink in two opposite corners", "the whole 3x3 picture",
           np.shape(m.crop_to_ink(edge)))
    blank = np.zeros((4, 4))
    got = m.crop_to_ink(blank)
    expect(np.shape(got) == (4, 4), "a blank picture", "returned whole", np.shape(got))


@exercise("06.2", "dark_ink_on_light", "making the ink bright",
          "border = np.concatenate([image[0], image[-1], image[:, 0], image[:, -1]]); invert when its mean > 0.5.")
def check_polarity(m) -> None:
    ink = np.zeros((5, 5))
    ink[1:4, 2] = 1.0
    expect(close(m.dark_ink_on_light(1 - ink), ink), "a dark stroke on white paper", "inverted: a bright stroke",
           short(m.dark_ink_on_light(1 - ink)[2]) + " (middle row)")
    expect(close(m.dark_ink_on_light(ink), ink), "a bright stroke on black", "unchanged",
           short(m.dark_ink_on_light(ink)[2]) + " (middle row)")


@exercise("06.3", "centre_by_mass", "centring a digit by its centre of mass",
          "rows, cols = np.indices(image.shape); the centre of mass is ((rows * image).sum() / image.sum(), ...); "
          "shift by round(middle - centre) with slices, as lesson 03's random_shift does.")
def check_centre(m) -> None:
    image = np.zeros((9, 9))
    image[0:2, 0:3] = 1.0
    got = np.asarray(m.centre_by_mass(image))
    rows, cols = np.indices(got.shape)
    mass = got.sum()
    centre = ((rows * got).sum() / max(mass, 1e-12), (cols * got).sum() / max(mass, 1e-12))
    expect(abs(centre[0] - 4) <= 0.5 and abs(centre[1] - 4) <= 0.5 and close(mass, 6),
           "a 2x3 block of ink in the top-left corner of a 9x9 picture", "its centre of mass at (4, 4), all 6 of "
           "its ink kept", f"centre ({centre[0]:.2f}, {centre[1]:.2f}), ink {mass:.1f}")
    expect(close(m.centre_by_mass(np.zeros((4, 4))), np.zeros((4, 4))), "a blank picture", "returned as it is",
           "something else")


# ----------------------------------------------------------------------------- 07


@exercise("07.1", "inputs_and_targets", "a batch's inputs and targets",
          "x[i] = ids[s : s + block_size] and y[i] = ids[s + 1 : s + 1 + block_size]; torch.stack the rows.")
def check_windows(m) -> None:
    ids = torch.arange(100, 120)
    x, y = m.inputs_and_targets(ids, torch.tensor([0, 5, 13]), 6)
    expect(x.shape == (3, 6) and torch.equal(x[1], ids[5:11]), "ids 100..119, starts [0, 5, 13], block 6",
           "x[1] = 105..110", f"shape {tuple(x.shape)}, x[1] = {x[1].tolist()}")
    expect(torch.equal(y, x + 1), "the targets y of the same call", "y = x one token later (each y is the next token)",
           f"y[1] = {y[1].tolist()}")


@exercise("07.2", "causal_attention", "one causal attention head",
          "scores = q @ k.transpose(1, 2) / sqrt(hs); mask = torch.triu(ones(T, T), diagonal=1).bool() (the "
          "future, not the diagonal); masked_fill with -inf; softmax over the last axis; @ v.")
def check_attention(m) -> None:
    torch.manual_seed(0)
    q, k, v = (torch.randn(2, 5, 4, dtype=torch.float64) for _ in range(3))
    got = m.causal_attention(q, k, v)
    ref = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    expect(got.shape == ref.shape and torch.allclose(got, ref, atol=1e-8), "q, k, v of shape (2, 5, 4)",
           "torch's scaled_dot_product_attention(is_causal=True)",
           f"shape {tuple(got.shape)}; position 0 gives {short(got[0, 0])}, torch {short(ref[0, 0])}")


# ----------------------------------------------------------------------------- 08


@exercise("08.1", "warmup_cosine", "warm-up, then a cosine",
          "Warm-up first: step < warmup gives max_lr * (step + 1) / warmup. After it, progress runs from 0 (step = "
          "warmup) to 1 (step = total).")
def check_schedule(m) -> None:
    reference = lesson("03_multilayer_perceptron").learning_rate
    for step in (0, 1, 9, 10, 11, 60, 109, 110):
        want, got = reference(step, 1e-3, 1e-4, 10, 110), m.warmup_cosine(step, 1e-3, 1e-4, 10, 110)
        expect(abs(got - want) < 1e-12, f"step {step} (warm-up 10, total 110, 1e-3 down to 1e-4)",
               f"lesson 03's {want:.6g}", got)


@exercise("08.2", "bits_per_character", "bits per character from nats per token",
          "Divide by ln 2 (math.log(2)) to get bits, then by the characters each token holds.")
def check_bpc(m) -> None:
    for nats, cpt in ((math.log(4), 2.0), (1.5364, 1.0), (2.9837, 1.94)):
        want, got = nats / math.log(2) / cpt, m.bits_per_character(nats, cpt)
        expect(abs(got - want) < 1e-9, f"{nats:.4f} nats per token, {cpt} characters per token", f"{want:.4f}", got)


@exercise("08.3", "clip_gradients", "gradient clipping",
          "length = sqrt(sum over all tensors of (g ** 2).sum()); one length for all of them, not one per tensor.")
def check_clip(m) -> None:
    torch.manual_seed(1)
    grads = [torch.randn(3, 4), torch.randn(5)]
    params = [torch.zeros_like(g, requires_grad=True) for g in grads]
    for p, g in zip(params, grads):
        p.grad = g.clone()
    torch.nn.utils.clip_grad_norm_(params, 1.0)
    got = m.clip_gradients([g.clone() for g in grads], 1.0)
    expect(all(torch.allclose(a, p.grad, atol=1e-6) for a, p in zip(got, params)), "two gradients, max_norm 1",
           "torch.nn.utils.clip_grad_norm_'s", f"lengths {[round(float(a.norm()), 4) for a in got]}")
    small = m.clip_gradients([g * 0.01 for g in grads], 1.0)
    expect(all(torch.allclose(a, g * 0.01) for a, g in zip(small, grads)), "gradients already shorter than 1",
           "unchanged", "changed")


@exercise("08.4", "merge_pair", "one BPE merge",
          "Walk with an index i: where ids[i], ids[i + 1] is the pair, append new and jump by 2, else append ids[i].")
def check_merge(m) -> None:
    merge = lesson("08_train_llm").merge
    rng = np.random.default_rng(4)
    for ids, pair in (([5, 5, 5], (5, 5)), ([1, 2, 3, 1, 2], (1, 2)), (rng.integers(0, 3, 40).tolist(), (1, 1))):
        got = m.merge_pair(list(ids), pair, 9)
        expect(got == merge(ids, pair, 9), f"merge_pair({ids}, {pair}, 9)", merge(ids, pair, 9), got)


# ----------------------------------------------------------------------------- 09


@exercise("09.1", "top_k_probs", "top-k filtering",
          "kth = torch.topk(logits, k).values[-1]; logits below kth become -inf; then softmax.")
def check_top_k(m) -> None:
    next_token_probs = lesson("09_use_llm").next_token_probs
    logits = torch.tensor([1.0, 3.0, -2.0, 2.5, 0.0, 2.75])
    for k in (1, 3, 6):
        got, want = m.top_k_probs(logits, k), next_token_probs(logits, top_k=k)
        expect(torch.allclose(got, want, atol=1e-6), f"logits {logits.tolist()}, k = {k}", f"lesson 09's {short(want)}",
               short(got))


@exercise("09.2", "top_p_probs", "top-p (nucleus) filtering",
          "Sort descending; a token stays while the mass of the tokens BEFORE it is < p (cumsum minus itself); "
          "put the answer back in the original order, renormalise.")
def check_top_p(m) -> None:
    probs = torch.tensor([0.2, 0.5, 0.3])
    cases = ((0.7, [0.0, 0.625, 0.375]), (0.5, [0.0, 1.0, 0.0]), (0.01, [0.0, 1.0, 0.0]), (1.0, [0.2, 0.5, 0.3]))
    for p, want in cases:
        got = m.top_p_probs(probs, p)
        expect(torch.allclose(got, torch.tensor(want), atol=1e-6), f"probs [0.2, 0.5, 0.3], p = {p}", want,
               [round(float(g), 4) for g in got])


@exercise("09.3", "extend_cache", "appending to a KV cache",
          "torch.cat([cached_keys, k], dim=2): the time axis is the third (B, nh, T, hs).")
def check_cache(m) -> None:
    torch.manual_seed(2)
    k1, v1, k2, v2 = (torch.randn(1, 2, n, 4) for n in (3, 3, 1, 1))
    cache = m.extend_cache(None, k1, v1)
    keys, values = m.extend_cache(cache, k2, v2)
    expect(keys.shape == (1, 2, 4, 4) and torch.equal(keys[:, :, 3:], k2) and torch.equal(values[:, :, :3], v1),
           "3 positions cached, then 1 more", "keys and values of 4 positions, the new one last",
           f"keys of shape {tuple(keys.shape)}")


# ----------------------------------------------------------------------------- 10


@exercise("10.1", "Request", "a validated request body",
          "model_config = ConfigDict(extra='forbid', strict=True); prompt: str = Field('', max_length=500); "
          "max_new_tokens: int = Field(100, ge=1, le=300); temperature: float = Field(0.8, ge=0, le=2).")
def check_request(m) -> None:
    if not m.Request.model_fields:  # still the empty class of the exercise
        raise NotImplementedError
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    app = FastAPI()

    def generate(request) -> dict:
        return request.model_dump()
    generate.__annotations__ = {"request": m.Request}  # the body's model: FastAPI validates against it
    app.post("/generate")(generate)
    client = TestClient(app)
    ok = client.post("/generate", json={"prompt": "ROMEO:"})
    expect(ok.status_code == 200 and ok.json() == {"prompt": "ROMEO:", "max_new_tokens": 100, "temperature": 0.8},
           'POST {"prompt": "ROMEO:"}', "200 with the defaults filled in", f"{ok.status_code} {ok.text[:120]}")
    for body in ({"prompt": "x" * 501}, {"max_new_tokens": 0}, {"max_new_tokens": 301}, {"temperature": 2.5},
                 {"temperature": -1}, {"max_new_tokens": "5"}, {"colour": "red"}):
        answer = client.post("/generate", json=body)
        expect(answer.status_code == 422, f"POST {str(body)[:60]}", "422: refused", answer.status_code)


@exercise("10.2", "sse_event", "a Server-Sent Event",
          "''.join(f'data: {line}\\n' for line in text.split('\\n')) + '\\n'")
def check_sse(m) -> None:
    for text, want in (("to be", "data: to be\n\n"), ("to be\nor not", "data: to be\ndata: or not\n\n"),
                       ("", "data: \n\n")):
        got = m.sse_event(text)
        expect(got == want, f"sse_event({text!r})", repr(want), repr(got))
