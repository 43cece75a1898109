"""Exercises for lesson 03 (backpropagation by hand). Check with  python exercises/check.py 03"""

import numpy as np


def dense_backward(x: np.ndarray, W: np.ndarray, grad_z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """03.1 - the backward pass of z = x W + b for a batch.

    x (N, n_in), W (n_in, n_out), grad_z = dL/dz (N, n_out). Return (dL/dW (n_in, n_out), dL/db (n_out,),
    dL/dx (N, n_in)). Example: x = [[1, 2]], W = [[1], [1]], grad_z = [[1]] -> ([[1], [2]], [1], [[1, 1]])
    """
    raise NotImplementedError


def softmax_cross_entropy_gradient(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """03.2 - dL/dlogits for L = mean over the batch of -log softmax(logits_n)[labels_n].

    logits (N, K), labels (N,) integers in 0..K-1. Return (N, K).
    Example: logits = [[0, 0]], labels = [1] -> [[0.5, -0.5]]
    """
    raise NotImplementedError


def numerical_gradient(f, x: np.ndarray, h: float = 1e-5) -> np.ndarray:
    """03.3 - the gradient of a scalar function f at x, one centred nudge per entry: (f(x + h e_i) - f(x - h e_i)) / 2h.

    x may have any shape; return an array of that shape, and leave x as it was.
    Example: numerical_gradient(lambda a: (a ** 2).sum(), np.array([1.0, -2.0])) -> array([2., -4.])
    """
    raise NotImplementedError
