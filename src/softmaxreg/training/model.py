"""The seed's model: Flatten then one Linear layer, weights from N(0, std^2).

The bias keeps PyTorch's default distribution (uniform in +-1/sqrt(fan_in)), but it is drawn
from the run's own generator, so that one seed fixes every random number of a run.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def build_model(
    num_inputs: int = 784,
    num_outputs: int = 10,
    init_std: float = 0.01,
    generator: torch.Generator | None = None,
) -> nn.Sequential:
    """`nn.Sequential(nn.Flatten(), nn.Linear(num_inputs, num_outputs))`, initialised."""
    linear = nn.Linear(num_inputs, num_outputs)
    init_linear(linear, init_std, generator)
    return nn.Sequential(nn.Flatten(), linear)


@torch.no_grad()
def init_linear(
    layer: nn.Linear, init_std: float = 0.01, generator: torch.Generator | None = None
) -> None:
    layer.weight.normal_(0.0, init_std, generator=generator)
    if layer.bias is not None:
        bound = 1.0 / math.sqrt(layer.in_features)
        layer.bias.uniform_(-bound, bound, generator=generator)


def linear_of(model: nn.Module) -> nn.Linear | None:
    """The Linear layer if `model` is exactly Flatten + Linear (the seed's model), else None."""
    if isinstance(model, nn.Linear):
        return model
    if (
        isinstance(model, nn.Sequential)
        and len(model) == 2
        and isinstance(model[0], nn.Flatten)
        and isinstance(model[1], nn.Linear)
        and model[0].start_dim == 1
        and model[0].end_dim == -1
    ):
        return model[1]
    return None
