"""Exercises for lesson 05 (over- and underfitting, regularisation). Check with  python exercises/check.py 05"""

import numpy as np


def penalty_gradient(w: np.ndarray, l1: float, l2: float) -> np.ndarray:
    """05.1 - the gradient of  l1 * sum |w| + l2 * sum w^2  with respect to w (take the slope of |w| at 0 as 0).

    Example: penalty_gradient(np.array([2.0, -1.0]), l1=0.1, l2=0.5) -> array([2.1, -1.1])
    """
    raise NotImplementedError


class EarlyStopping:
    """05.2 - early stopping with patience: stop once the validation loss has not reached a new low for
    ``patience`` evaluations in a row. A loss equal to the best so far is no new low.

    step(val_loss) records one evaluation and returns True when training should stop.
    Example: patience 2, losses 1.0, 0.9, 0.95, 0.92 -> False, False, False, True
    """

    def __init__(self, patience: int):
        raise NotImplementedError

    def step(self, val_loss: float) -> bool:
        raise NotImplementedError


def inverted_dropout(x: np.ndarray, p: float, rng: np.random.Generator, training: bool = True) -> np.ndarray:
    """05.3 - dropout as PyTorch does it: while training, zero each entry with probability p and divide the
    rest by (1 - p), so the expected value stays x; when not training, return x unchanged.

    Draw the kept entries with rng.random(x.shape) >= p.
    """
    raise NotImplementedError
