"""The learning-rate schedule of every lesson that trains with one (03, 04, 07, 08): a function of the step.

Lesson 03 teaches the cosine decay (big steps while far from a minimum, small ones near it);
lesson 08 adds the warm-up before it (Adam's first moment estimates are poor). 03 and 04 use it
without warm-up and decay to 0; 07 and 08 warm up and decay to a tenth of the peak.
"""

from __future__ import annotations

import math


def learning_rate(step: int, max_lr: float, min_lr: float, warmup: int, total: int) -> float:
    """Linear warm-up to max_lr over ``warmup`` steps, then half a cosine down to min_lr at step ``total``:

        lr(t) = min_lr + (max_lr - min_lr) * (1 + cos(pi * progress)) / 2,   progress = (t - warmup) / (total - warmup)
    """
    if step < warmup:
        return max_lr * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return min_lr + (max_lr - min_lr) * (1 + math.cos(math.pi * progress)) / 2
