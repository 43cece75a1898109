"""Exercises for lesson 06 (reading your own picture). Check with  python exercises/check.py 06

Pictures are 2-D float arrays with ink near 1 and paper near 0, unless said otherwise."""

import numpy as np


def crop_to_ink(image: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """06.1 - the smallest rectangle of ``image`` that holds every pixel above ``threshold``.
    A picture with no such pixel is returned whole.

    Example: a 5x5 zero picture with ones at (1, 2) and (3, 3) -> its rows 1-3, columns 2-3: shape (3, 2)
    """
    raise NotImplementedError


def dark_ink_on_light(image: np.ndarray) -> np.ndarray:
    """06.2 - make any picture ink-bright: if its border (the outermost rows and columns) is on average
    brighter than 0.5, it is dark ink on light paper: return 1 - image; otherwise return it as it is.
    """
    raise NotImplementedError


def centre_by_mass(image: np.ndarray) -> np.ndarray:
    """06.3 - shift the picture (by whole pixels, filling with 0) so that its centre of mass - the
    ink-weighted mean row and column - lands on the middle pixel, as MNIST's digits were made.

    The middle of an H x W picture is ((H - 1) / 2, (W - 1) / 2); round the shift to whole pixels.
    Ink pushed past the edge is lost. An all-zero picture is returned as it is.
    """
    raise NotImplementedError
