"""Exercises for lesson 07 (tokens and attention). Check with  python exercises/check.py 07"""

import torch


def windows(ids: torch.Tensor, starts: torch.Tensor, block_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """07.1 - the inputs and targets of a batch: for each start s, x is ids[s : s + block_size] and y the same
    window one token later, ids[s + 1 : s + 1 + block_size] (at every position, the token that comes next).

    ids (N,), starts (B,) -> x and y, both (B, block_size).
    Example: ids = [10, 11, 12, 13], starts = [0, 1], block_size 2 -> x [[10, 11], [11, 12]], y [[11, 12], [12, 13]]
    """
    raise NotImplementedError


def causal_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """07.2 - one causal self-attention head: softmax(q k^T / sqrt(hs)) v, where position t may look at
    positions 0..t only (itself included), never at later ones.

    q, k, v: (B, T, hs) -> (B, T, hs). Mask with -inf before the softmax.
    """
    raise NotImplementedError


def merge_pair(ids: list[int], pair: tuple[int, int], new: int) -> list[int]:
    """07.3 - one BPE merge: every occurrence of ``pair`` in ``ids``, left to right, replaced by ``new``.

    Example: merge_pair([1, 2, 3, 1, 2], (1, 2), 9) -> [9, 3, 9];  in [5, 5, 5], (5, 5) merges once: [9, 5]
    """
    raise NotImplementedError
