"""Exercises for lesson 04 (PyTorch, and what autograd does). Check with  python exercises/check.py 04"""

from __future__ import annotations

import math  # noqa: F401  (for your Value.tanh and Value.exp)

import torch


class Value:
    """04.1 - a tiny autograd: a number that remembers how it was made, and backward() fills .grad.

    Build it micrograd's way: each operation returns a new Value holding its inputs and a small function
    that adds its inputs' gradients (the chain rule: the output's grad times the local slope). backward()
    sets self.grad = 1, sorts every Value it depends on so that each comes after all it was made from
    (a topological order), and calls those functions from the end. Gradients ADD UP: in b = a + a, a.grad is 2.

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
    the batch), backward, step. Return the loss as a float (before the step).
    """
    raise NotImplementedError


def precision_recall_f1(y_true: list[int], y_pred: list[int], k: int) -> tuple[float, float, float]:
    """04.3 - class k's precision (of what was called k, how much was k), recall (of the real k's, how many
    were found) and F1 (2 P R / (P + R)). Where a denominator is 0, that number is 0.

    Example: y_true = [0, 1, 1], y_pred = [1, 1, 0], k = 1 -> (0.5, 0.5, 0.5)
    """
    raise NotImplementedError

