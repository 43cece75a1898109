"""Solutions to lesson 07's exercises."""

import math

import torch


def inputs_and_targets(ids: torch.Tensor, starts: torch.Tensor,
                       block_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.stack([ids[s:s + block_size] for s in starts.tolist()])
    y = torch.stack([ids[s + 1:s + 1 + block_size] for s in starts.tolist()])
    return x, y


def causal_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    T = q.size(1)
    scores = q @ k.transpose(1, 2) / math.sqrt(q.size(-1))  # (B, T, T)
    later = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)  # True above the diagonal: the future
    return torch.softmax(scores.masked_fill(later, float("-inf")), dim=-1) @ v

