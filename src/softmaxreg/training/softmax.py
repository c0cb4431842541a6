"""Section 7.2 of the seed chapter, written out: softmax and cross-entropy, naive and stable.

The naive softmax exponentiates the logits directly: exp(1000) overflows to inf (inf/inf = nan)
and exp(-1000) underflows to 0, whose log is -inf. Subtracting each row's maximum changes
nothing mathematically (the factor exp(max) cancels) but keeps every exponent <= 0. Fusing log
with softmax goes further: log(softmax(o))_j = (o_j - max o) - log(sum_k exp(o_k - max o)), so
no exp is ever followed by a log and no probability of 0 is ever logged.
"""

from __future__ import annotations

import torch


def naive_softmax(logits: torch.Tensor) -> torch.Tensor:
    """exp(o) / sum exp(o), as first written: overflows and underflows (kept for teaching)."""
    e = torch.exp(logits)
    return e / e.sum(dim=-1, keepdim=True)


def stable_softmax(logits: torch.Tensor) -> torch.Tensor:
    """Softmax with the row maximum subtracted first: every exponent is <= 0."""
    shifted = logits - logits.max(dim=-1, keepdim=True).values
    e = torch.exp(shifted)
    return e / e.sum(dim=-1, keepdim=True)


def logsumexp(logits: torch.Tensor) -> torch.Tensor:
    """log(sum exp(o)) per row, computed as max + log(sum exp(o - max))."""
    top = logits.max(dim=-1, keepdim=True).values
    return (top + torch.log(torch.exp(logits - top).sum(dim=-1, keepdim=True))).squeeze(-1)


def log_softmax(logits: torch.Tensor) -> torch.Tensor:
    """log(softmax(o)) = o - logsumexp(o): no log of a probability is ever taken."""
    return logits - logsumexp(logits).unsqueeze(-1)


def naive_cross_entropy(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """-log(softmax(o)[y]) the naive way: inf or nan once a probability rounds to 0."""
    probs = naive_softmax(logits)
    return -torch.log(probs.gather(-1, target.unsqueeze(-1)).squeeze(-1))


def cross_entropy(
    logits: torch.Tensor, target: torch.Tensor, reduction: str = "mean"
) -> torch.Tensor:
    """Per-example -log softmax(o)[y] through log-sum-exp, like nn.CrossEntropyLoss."""
    losses = logsumexp(logits) - logits.gather(-1, target.unsqueeze(-1)).squeeze(-1)
    if reduction == "none":
        return losses
    if reduction == "sum":
        return losses.sum()
    if reduction == "mean":
        return losses.mean()
    raise ValueError(f"reduction must be 'none', 'sum' or 'mean', got {reduction!r}")


def cross_entropy_grad(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """d mean(cross_entropy) / d logits = (softmax(o) - onehot(y)) / batch size."""
    grad = stable_softmax(logits)
    grad[torch.arange(len(target), device=logits.device), target] -= 1
    return grad / len(target)
