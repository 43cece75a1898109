"""Solutions to lesson 08's exercises."""

import math

import torch


def warmup_cosine(step: int, max_lr: float, min_lr: float, warmup: int, total: int) -> float:
    if step < warmup:
        return max_lr * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return min_lr + (max_lr - min_lr) * (1 + math.cos(math.pi * progress)) / 2


def bits_per_character(nats_per_token: float, characters_per_token: float) -> float:
    return nats_per_token / math.log(2) / characters_per_token


def clip_gradients(grads: list[torch.Tensor], max_norm: float) -> list[torch.Tensor]:
    length = math.sqrt(sum(float((g * g).sum()) for g in grads))
    if length <= max_norm:
        return grads
    return [g * (max_norm / length) for g in grads]


def merge_pair(ids: list[int], pair: tuple[int, int], new: int) -> list[int]:
    out, i = [], 0
    while i < len(ids):
        if i + 1 < len(ids) and (ids[i], ids[i + 1]) == tuple(pair):
            out.append(new)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out
