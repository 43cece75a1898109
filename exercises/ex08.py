"""Exercises for lesson 08 (training the language model). Check with  python exercises/check.py 08"""

import torch


def warmup_cosine(step: int, max_lr: float, min_lr: float, warmup: int, total: int) -> float:
    """08.1 - the learning rate at ``step`` (counted from 0): during the first ``warmup`` steps it climbs in a
    straight line, max_lr * (step + 1) / warmup; then half a cosine from max_lr down to min_lr at step ``total``:

        min_lr + (max_lr - min_lr) * (1 + cos(pi * progress)) / 2,   progress = (step - warmup) / (total - warmup)

    Example: warmup_cosine(0, 1.0, 0.0, 10, 110) -> 0.1;  warmup_cosine(10, 1.0, 0.0, 10, 110) -> 1.0
    """
    raise NotImplementedError


def bits_per_character(nats_per_token: float, characters_per_token: float) -> float:
    """08.2 - turn a loss in nats per token into bits per character: a bit is ln 2 nats, and a token holds
    ``characters_per_token`` characters on average.

    Example: bits_per_character(1.3863, 2.0) -> 1.0 (ln 4 nats = 2 bits per token, 2 characters each)
    """
    raise NotImplementedError


def clip_gradients(grads: list[torch.Tensor], max_norm: float) -> list[torch.Tensor]:
    """08.3 - gradient clipping: if the length of all gradients together, sqrt(sum of every squared entry),
    is above max_norm, scale every gradient by max_norm / length; otherwise return them unchanged.
    """
    raise NotImplementedError


def merge_pair(ids: list[int], pair: tuple[int, int], new: int) -> list[int]:
    """08.4 - one step of byte-pair encoding (lesson 08): a text is a list of token ids, and the most frequent
    adjacent pair becomes a new token. Replace every occurrence of ``pair`` in ``ids``, left to right, by ``new``.

    Example: merge_pair([1, 2, 3, 1, 2], (1, 2), 9) -> [9, 3, 9];  merge_pair([5, 5, 5], (5, 5), 9) -> [9, 5]
    (left to right: the first two 5s merge, and the third has no partner left)
    """
    raise NotImplementedError
