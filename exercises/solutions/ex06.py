"""Solutions to lesson 06's exercises."""

import numpy as np


def crop_to_ink(image: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    rows, cols = np.nonzero(image > threshold)
    if len(rows) == 0:
        return image
    return image[rows.min():rows.max() + 1, cols.min():cols.max() + 1]


def dark_ink_on_light(image: np.ndarray) -> np.ndarray:
    border = np.concatenate([image[0], image[-1], image[:, 0], image[:, -1]])
    return 1 - image if border.mean() > 0.5 else image


def centre_by_mass(image: np.ndarray) -> np.ndarray:
    total = image.sum()
    if total == 0:
        return image
    H, W = image.shape
    rows, cols = np.indices(image.shape)
    dy = int(round((H - 1) / 2 - (rows * image).sum() / total))
    dx = int(round((W - 1) / 2 - (cols * image).sum() / total))
    shifted = np.zeros_like(image)
    shifted[max(dy, 0):H + min(dy, 0), max(dx, 0):W + min(dx, 0)] = \
        image[max(-dy, 0):H + min(-dy, 0), max(-dx, 0):W + min(-dx, 0)]
    return shifted
