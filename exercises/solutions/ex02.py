"""Solutions to lesson 02's exercises."""

import numpy as np


def bce_gradients(X: np.ndarray, y: np.ndarray, w: np.ndarray, b: float) -> tuple[np.ndarray, float]:
    p = 1 / (1 + np.exp(-(X @ w + b)))
    error = (p - y) / len(y)  # dL/dz: the log's slope and sigmoid's cancel (lesson 02)
    return X.T @ error, float(error.sum())


def rosenblatt_step(w: np.ndarray, b: float, x: np.ndarray, y: int, lr: float = 1.0) -> tuple[np.ndarray, float]:
    y_hat = 1 if float(w @ x + b) > 0 else 0
    return w + lr * (y - y_hat) * x, b + lr * (y - y_hat)
