"""A trained model as a file: the linear layer's weight and bias, the class names and the
image shape, enough to predict without anything else (model.safetensors).

The tensor names are those of the book's model's `state_dict()` (``1.weight``, ``1.bias`` of
``nn.Sequential(nn.Flatten(), nn.Linear(784, 10))``), so PyTorch users can load the file into
that model with `safetensors.torch.load_file`. A checkpoint holds the same tensors under
``model.``: an unfinished run can be used as a model too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CheckpointError
from .tensorfile import read_tensors, tensor_bytes

WEIGHT, BIAS = "1.weight", "1.bias"
CHECKPOINT_PREFIX = "model."


@dataclass
class LinearWeights:
    """W (classes, inputs) and b (classes,) in float32, with what the numbers mean."""

    weight: np.ndarray
    bias: np.ndarray
    classes: tuple[str, ...]
    image_shape: tuple[int, ...]
    meta: dict[str, Any] = field(default_factory=dict)  # what the writer recorded
    path: Path | None = None


def model_bytes(weights: LinearWeights) -> bytes:
    meta = {
        "classes": list(weights.classes),
        "image_shape": list(weights.image_shape),
        **weights.meta,
    }
    return tensor_bytes({WEIGHT: weights.weight, BIAS: weights.bias}, "model", meta)


def read_model(path: str | Path) -> LinearWeights:
    """A model file, or the model inside a checkpoint file, checked before use."""
    path = Path(path)
    arrays, meta = read_tensors(path, kinds=("model", "checkpoint"))
    prefix = CHECKPOINT_PREFIX if meta["kind"] == "checkpoint" else ""
    weight, bias = arrays.get(prefix + WEIGHT), arrays.get(prefix + BIAS)
    classes = tuple(meta.get("classes") or ())
    shape = tuple(meta.get("image_shape") or ())
    _check_linear(path, weight, bias, classes, shape)
    assert weight is not None and bias is not None
    return LinearWeights(weight, bias, classes, shape, meta, path)


def _check_linear(path, weight, bias, classes, shape) -> None:
    if weight is None or bias is None:
        raise CheckpointError(f"{path}: tensors {WEIGHT} and {BIAS} are missing")
    if weight.dtype != np.float32 or bias.dtype != np.float32:
        raise CheckpointError(f"{path}: weights must be float32, found {weight.dtype}")
    if weight.ndim != 2 or bias.shape != (weight.shape[0],):
        raise CheckpointError(
            f"{path}: weight {tuple(weight.shape)} and bias {tuple(bias.shape)} do not form a "
            "linear layer"
        )
    if len(classes) != weight.shape[0]:
        raise CheckpointError(
            f"{path}: metadata lists {len(classes)} classes but the weight has {weight.shape[0]}"
        )
    if not shape or math.prod(shape) != weight.shape[1]:
        raise CheckpointError(
            f"{path}: image shape {shape} does not match the weight's {weight.shape[1]} inputs"
        )
