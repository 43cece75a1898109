"""Activation functions and their derivatives, in NumPy. Taught in lesson 01; used by 02 and 03.

Every function takes the pre-activation ``z`` (any shape) and works elementwise,
except softmax and log-softmax, which work along the last axis. The derivatives
are written as functions of ``z`` too, because that is what backpropagation
has at hand: ``dL/dz = dL/da * f'(z)``.

Numerical stability matters: ``exp(1000)`` overflows, so sigmoid and softmax
are written so that ``exp`` is only ever called on numbers <= 0.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

LEAKY_SLOPE = 0.01


def sigmoid(z: np.ndarray) -> np.ndarray:
    """1 / (1 + e^-z), squashing any number into (0, 1)."""
    # exp(-|z|) is in (0, 1]: it cannot overflow, whichever side z is on.
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def sigmoid_derivative(z: np.ndarray) -> np.ndarray:
    s = sigmoid(z)
    return s * (1.0 - s)


def tanh(z: np.ndarray) -> np.ndarray:
    """(e^z - e^-z) / (e^z + e^-z): like sigmoid, but centred on 0, range (-1, 1)."""
    return np.tanh(z)


def tanh_derivative(z: np.ndarray) -> np.ndarray:
    return 1.0 - np.tanh(z) ** 2


def relu(z: np.ndarray) -> np.ndarray:
    """max(0, z): cheap, and its gradient does not vanish for z > 0."""
    return np.maximum(z, 0)


def relu_derivative(z: np.ndarray) -> np.ndarray:
    # The kink at 0 has no derivative; using 0 there is the usual convention.
    return (z > 0).astype(z.dtype)


def leaky_relu(z: np.ndarray, slope: float = LEAKY_SLOPE) -> np.ndarray:
    """z for z > 0, slope*z otherwise: a ReLU whose negative side still learns."""
    return np.where(z > 0, z, slope * z)


def leaky_relu_derivative(z: np.ndarray, slope: float = LEAKY_SLOPE) -> np.ndarray:
    return np.where(z > 0, 1.0, slope).astype(z.dtype)


def _exp_shifted(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """z - max(z) along the last axis, and its exponential, which is then at most 1.

    Subtracting the max changes nothing mathematically (it cancels in softmax)
    but keeps exp from overflowing.
    """
    shifted = z - z.max(axis=-1, keepdims=True)
    return shifted, np.exp(shifted)


def softmax(z: np.ndarray) -> np.ndarray:
    """e^z_k / sum_j e^z_j along the last axis: turns scores into probabilities."""
    _, e = _exp_shifted(z)
    return e / e.sum(axis=-1, keepdims=True)


def log_softmax(z: np.ndarray) -> np.ndarray:
    """log(softmax(z)) = z - max - log(sum e^(z - max)), computed without ever taking the log of 0."""
    shifted, e = _exp_shifted(z)
    return shifted - np.log(e.sum(axis=-1, keepdims=True))


def softmax_jacobian(z: np.ndarray) -> np.ndarray:
    """d softmax_i / d z_j = s_i (delta_ij - s_j) for a single vector z.

    Softmax mixes its inputs, so its derivative is a matrix, not a vector.
    In practice it is never built: paired with cross-entropy it collapses
    to ``softmax(z) - one_hot(y)`` (lesson 03).
    """
    s = softmax(z)
    return np.diag(s) - np.outer(s, s)


ActivationPair = tuple[Callable[[np.ndarray], np.ndarray], Callable[[np.ndarray], np.ndarray]]

#: The elementwise activations by name, each with its derivative.
ACTIVATIONS: dict[str, ActivationPair] = {
    "sigmoid": (sigmoid, sigmoid_derivative),
    "tanh": (tanh, tanh_derivative),
    "relu": (relu, relu_derivative),
    "leaky_relu": (leaky_relu, leaky_relu_derivative),
}
