"""Exercises for lesson 01 (a neuron and its activations). Fill in each function; check with
python exercises/check.py 01   (and --hint 01.2 for a hint)."""

import math  # noqa: F401  (math.erf, for gelu)

import numpy as np


def softplus(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """01.1 - softplus(z) = log(1 + e^z), a smooth ReLU, and its slope, which is sigmoid(z) = 1 / (1 + e^-z).

    Return (values, slopes), both of z's shape. At z = 1000, e^z overflows: write both so that no e^(large
    positive number) is ever taken (lesson 01's section 4 shows the trick for softmax).
    Example: softplus(np.array([0.0])) -> (array([0.6931...]), array([0.5]))
    """
    raise NotImplementedError


def gelu(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """01.2 - GELU, the activation lesson 07's feed-forward layers use: gelu(z) = z * Phi(z), where
    Phi(z) = (1 + erf(z / sqrt 2)) / 2 is the chance that a standard normal number is below z.

    Return (values, slopes) of z's shape; the slope is Phi(z) + z * phi(z), phi(z) = e^(-z^2 / 2) / sqrt(2 pi).
    (math.erf works on one number; np.vectorize(math.erf) on an array.)
    Example: gelu(np.array([0.0, 1.0]))[0] -> array([0., 0.8413...])
    """
    raise NotImplementedError


def numerical_slope(f, z: np.ndarray, h: float = 1e-5) -> np.ndarray:
    """01.3 - the slope of f at every entry of z, measured with a centred nudge: (f(z + h) - f(z - h)) / (2 h).

    f maps an array to an array of the same shape, entry by entry.
    Example: numerical_slope(np.square, np.array([3.0])) -> array([6.0]) (to about 1e-10)
    """
    raise NotImplementedError
