"""Exercises for lesson 09 (sampling and the KV cache). Check with  python exercises/check.py 09"""

import torch


def top_k_probs(logits: torch.Tensor, k: int) -> torch.Tensor:
    """09.1 - softmax over the k largest logits only; every other token gets probability 0.

    logits (vocab,) -> probabilities (vocab,). Ties at the k-th value may all be kept.
    Example: logits [1, 3, 2], k = 2 -> softmax of [-inf, 3, 2] = [0, 0.731, 0.269]
    """
    raise NotImplementedError


def top_p_probs(probs: torch.Tensor, p: float) -> torch.Tensor:
    """09.2 - nucleus sampling's cut: keep the smallest set of likeliest tokens whose probabilities add up to
    at least p, zero the rest, renormalise. The likeliest token is always kept.

    probs (vocab,), in the tokens' own order (not sorted) -> (vocab,), each token still at its own place.
    Example: probs [0.2, 0.5, 0.3], p = 0.7 -> [0.0, 0.625, 0.375]  (0.5 alone is not enough; 0.5 + 0.3 is)
    """
    raise NotImplementedError


def extend_cache(cache: tuple[torch.Tensor, torch.Tensor] | None, k: torch.Tensor,
                 v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """09.3 - a KV cache's step: append the new keys and values (B, nh, T_new, hs) after the cached ones
    along the time axis, and return the whole (keys, values). ``cache`` is None before the first step.
    """
    raise NotImplementedError
