"""Solutions to lesson 09's exercises."""

import torch


def top_k_probs(logits: torch.Tensor, k: int) -> torch.Tensor:
    kth = torch.topk(logits, min(k, logits.numel())).values[-1]
    return torch.softmax(logits.masked_fill(logits < kth, float("-inf")), dim=-1)


def top_p_probs(probs: torch.Tensor, p: float) -> torch.Tensor:
    sorted_probs, order = probs.sort(descending=True)
    before = sorted_probs.cumsum(0) - sorted_probs  # the mass of the likelier tokens
    keep = torch.zeros_like(probs, dtype=torch.bool)
    keep[order] = before < p  # a token stays while the likelier ones hold less than p
    kept = torch.where(keep, probs, torch.zeros_like(probs))
    return kept / kept.sum()


def extend_cache(cache: tuple[torch.Tensor, torch.Tensor] | None, k: torch.Tensor,
                 v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    if cache is None:
        return k, v
    return torch.cat([cache[0], k], dim=2), torch.cat([cache[1], v], dim=2)
