"""Exercises for lesson 07 (tokens and attention). Check with  python exercises/check.py 07"""

import torch


def inputs_and_targets(ids: torch.Tensor, starts: torch.Tensor,
                       block_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """07.1 - the inputs and targets of a batch (what lesson 07's get_batch returns): for each start s, x is
    ids[s : s + block_size] and y the same window one token later, ids[s + 1 : s + 1 + block_size] (at every
    position, the token that comes next).

    ids (N,), starts (B,) -> x and y, both (B, block_size).
    Example: ids = [10, 11, 12, 13], starts = [0, 1], block_size 2 -> x [[10, 11], [11, 12]], y [[11, 12], [12, 13]]
    """
    raise NotImplementedError


def causal_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """07.2 - one causal self-attention head: softmax(q k^T / sqrt(hs)) v, where position t may look at
    positions 0..t only (itself included), never at later ones.

    q, k, v: (B, T, hs) -> (B, T, hs). k^T here swaps the last two axes only: k.transpose(-2, -1), (B, hs, T),
    so the scores are (B, T, T). Set the scores of later positions to -inf, then softmax over the last axis.
    """
    raise NotImplementedError

