"""Exercises for lesson 02 (the perceptron). Check with  python exercises/check.py 02"""

import numpy as np


def bce_gradients(X: np.ndarray, y: np.ndarray, w: np.ndarray, b: float) -> tuple[np.ndarray, float]:
    """02.1 - the gradient of the mean binary cross-entropy of p = sigmoid(X w + b) against y.

    X is (N, n) inputs, y (N,) zeros and ones, w (n,) weights, b the bias. Return (dL/dw of shape (n,), dL/db).
    Example: X = [[0, 0], [1, 1]], y = [0, 1], w = [0, 0], b = 0 -> (array([-0.25, -0.25]), 0.0)
    """
    raise NotImplementedError


def rosenblatt_step(w: np.ndarray, b: float, x: np.ndarray, y: int, lr: float = 1.0) -> tuple[np.ndarray, float]:
    """02.2 - Rosenblatt's 1958 rule for one example: predict y_hat = 1 if w . x + b > 0 else 0; then
    w <- w + lr (y - y_hat) x and b <- b + lr (y - y_hat). Return the new (w, b); do not change w in place.

    Example: w = [0, 0], b = 0, x = [1, 1], y = 1 -> y_hat = 0, so (array([1., 1.]), 1.0)
    """
    raise NotImplementedError
