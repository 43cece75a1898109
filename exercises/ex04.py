"""Exercises for lesson 04 (PyTorch, and what autograd does). Check with  python exercises/check.py 04"""

from __future__ import annotations

import math  # noqa: F401  (for your Value.tanh and Value.exp)

import torch


class Value:
    """04.1 - a tiny autograd: a number that remembers how it was made, and backward() fills .grad.

    This is what PyTorch's loss.backward() does, for single numbers (micrograd, Andrej Karpathy's 100-line
    autograd, is built this way). Each operation returns a new Value holding its inputs (``parents``) and a
    function ``_backward`` (a do-nothing one for a plain number) that adds to each input's grad the output's
    grad times the local slope - lesson 01's chain rule. The local slopes: for a + b, 1 for each; for a * b,
    b for a and a for b; for tanh(a), 1 - tanh(a)^2; for exp(a), exp(a). backward() sets self.grad = 1, lists
    every Value it depends on so that each comes after all it was made from (a topological order: a
    depth-first visit that appends a node after visiting its parents), and calls their _backward from the
    end of that list. Gradients ADD UP: in b = a + a, a.grad is 2.

    Needed: Value(3.0).data, .grad (0 until backward), a + b, a * b (also with plain numbers: a * 2, 2 + a),
    a.tanh(), a.exp(), and c.backward().
    Example: a = Value(2.0); c = a * a + a; c.backward()  ->  c.data == 6.0, a.grad == 5.0
    """

    def __init__(self, data: float, parents: tuple = ()):
        raise NotImplementedError

    def __add__(self, other) -> Value:
        raise NotImplementedError

    def __mul__(self, other) -> Value:
        raise NotImplementedError

    __radd__ = __add__
    __rmul__ = __mul__

    def tanh(self) -> Value:
        raise NotImplementedError

    def exp(self) -> Value:
        raise NotImplementedError

    def backward(self) -> None:
        raise NotImplementedError


def train_step(model: torch.nn.Module, optimizer: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor) -> float:
    """04.2 - one PyTorch training step on a batch: zero the gradients, forward, cross-entropy loss (mean over
    the batch), backward, step. Return the loss as a float (the loss before the step).

    x is (N, features), y (N,) class indices (not one-hot); the model returns raw scores (logits), (N, classes):
    F.cross_entropy(logits, y) applies the softmax itself, as lesson 04's training step does.
    """
    raise NotImplementedError


def precision_recall_f1(y_true: list[int], y_pred: list[int], k: int) -> tuple[float, float, float]:
    """04.3 - class k's precision (of what was called k, how much was k), recall (of the real k's, how many
    were found) and F1 (2 P R / (P + R)). Where a denominator is 0, that number is 0.

    Example: y_true = [0, 1, 1], y_pred = [1, 1, 0], k = 1 -> (0.5, 0.5, 0.5)
    """
    raise NotImplementedError

