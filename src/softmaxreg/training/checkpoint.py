"""The live training state as arrays, and back: the model's parameters, the optimizer's
momentum buffers and the shuffling generator's state, named as a checkpoint file holds them.

The file itself (format, checks, where it lives) belongs to softmaxreg.records.RunDir; this
module only crosses the torch line.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..errors import CheckpointError
from ..records.modelfile import CHECKPOINT_PREFIX

RNG = "rng.shuffle"


def state_arrays(model: nn.Module, optimizer, rng_state: torch.Tensor) -> dict[str, np.ndarray]:
    """The state to checkpoint, as CPU arrays (views where possible: serialise them before
    the next step changes the tensors)."""
    arrays = {CHECKPOINT_PREFIX + k: _cpu(v) for k, v in model.state_dict().items()}
    for i, p in enumerate(optimizer.param_groups[0]["params"]):
        buf = optimizer.state.get(p, {}).get("momentum_buffer")
        if buf is not None:
            arrays[momentum_buffer(i)] = _cpu(buf)
    arrays[RNG] = _cpu(rng_state)
    return arrays


def optimizer_settings(optimizer) -> list[dict]:
    """Each parameter group's hyperparameters (learning rate and the rest), for metadata."""
    return [{k: v for k, v in g.items() if k != "params"} for g in optimizer.param_groups]


def restore(
    model: nn.Module, optimizer, arrays: dict[str, np.ndarray], meta: dict, path: Path
) -> torch.Tensor:
    """Load `arrays` into `model` and `optimizer` in place (everything checked first, so a
    damaged file changes nothing and says so in one line); return the shuffling generator's
    state."""
    state = model.state_dict()
    for name, value in state.items():
        _check_fits(arrays.get(CHECKPOINT_PREFIX + name), CHECKPOINT_PREFIX + name, value, path)
    params = optimizer.param_groups[0]["params"]
    for i, p in enumerate(params):
        if momentum_buffer(i) in arrays:
            _check_fits(arrays[momentum_buffer(i)], momentum_buffer(i), p, path)
    rng = arrays.get(RNG)
    if rng is None or rng.dtype != np.uint8:
        raise CheckpointError(f"{path}: no shuffling generator state; the file is damaged")
    with torch.no_grad():
        for name, value in state.items():
            value.copy_(torch.from_numpy(np.array(arrays[CHECKPOINT_PREFIX + name])))
    for i, p in enumerate(params):
        buf = arrays.get(momentum_buffer(i))
        if buf is not None:
            tensor = torch.from_numpy(np.array(buf)).to(device=p.device, dtype=p.dtype)
            optimizer.state.setdefault(p, {})["momentum_buffer"] = tensor
    for group, saved in zip(optimizer.param_groups, meta.get("param_groups", []), strict=False):
        group.update(saved)
    return torch.from_numpy(np.array(rng))


def momentum_buffer(i: int) -> str:
    """The checkpoint's name for the momentum buffer of the optimizer's `i`-th parameter."""
    return f"optim.{i}.momentum_buffer"


def _check_fits(saved: np.ndarray | None, name: str, live: torch.Tensor, path: Path) -> None:
    """`saved` is there, and has the shape and dtype of the tensor it replaces."""
    expected = torch.empty(0, dtype=live.dtype).numpy().dtype
    if saved is None or tuple(saved.shape) != tuple(live.shape) or saved.dtype != expected:
        raise CheckpointError(
            f"{path}: tensor {name} is missing or does not fit the model (expected "
            f"{expected} {tuple(live.shape)}); the file is damaged or from another model"
        )


def _cpu(t: torch.Tensor) -> np.ndarray:
    return t.detach().to("cpu").contiguous().numpy()
