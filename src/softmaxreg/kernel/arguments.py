"""The fused step's buffers, checked before either form reads or writes any of them: the
compiled step trusts its pointers, so a wrong dtype, shape or layout must never reach it.

The checks come in two halves, so that a caller that steps many times with the same model
buffers (the training engine) checks those once (`check_model_buffers`) and each batch
(`check_batch`) every step."""

from __future__ import annotations

import numpy as np

UINT8, INT64, FLOAT32 = np.dtype(np.uint8), np.dtype(np.int64), np.dtype(np.float32)
ROW_TYPES = (UINT8, FLOAT32)


def check_step_arguments(
    images: np.ndarray,
    index: np.ndarray,
    labels: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None,
    grad_w: np.ndarray,
    grad_b: np.ndarray,
    work: np.ndarray,
    workspace_size: int,
    *,
    apply: bool,
    norm: int | None,
    sample_weight: np.ndarray | None,
) -> int:
    """Raises ValueError naming the first bad buffer; returns the loss's divisor `norm`."""
    inputs = model_inputs(weight)
    norm = check_batch(images, index, labels, inputs, norm=norm, sample_weight=sample_weight)
    check_model_buffers(weight, bias, grad_w, grad_b, work, workspace_size, apply=apply)
    return norm


def model_inputs(weight: np.ndarray) -> int:
    """The number of inputs of a (classes, inputs) weight; ValueError for anything else."""
    if not isinstance(weight, np.ndarray) or weight.ndim != 2:
        shape = getattr(weight, "shape", type(weight).__name__)
        raise ValueError(f"fused step: weight must be (classes, inputs), got {shape}")
    return weight.shape[1]


def check_batch(
    images: np.ndarray,
    index: np.ndarray,
    labels: np.ndarray,
    inputs: int,
    *,
    norm: int | None,
    sample_weight: np.ndarray | None,
) -> int:
    """What changes from one step to the next: the rows, this batch's index and labels (and
    the weights per example); returns the loss's divisor `norm`."""
    batch = len(index)
    require("images", images, ROW_TYPES, (-1, inputs))
    require("index", index, INT64, (batch,))
    require("labels", labels, INT64, (batch,))
    if sample_weight is not None:
        if images.dtype != FLOAT32:
            raise ValueError("fused step: sample_weight needs float32 rows, got uint8 images")
        require("sample_weight", sample_weight, FLOAT32, (len(images),))
    norm = batch if norm is None else norm
    if norm < 1:
        raise ValueError(f"fused step: norm must be positive, got {norm}")
    return norm


def check_model_buffers(
    weight: np.ndarray,
    bias: np.ndarray | None,
    grad_w: np.ndarray,
    grad_b: np.ndarray,
    work: np.ndarray,
    workspace_size: int,
    *,
    apply: bool,
) -> None:
    """What stays the same from step to step: the parameters (written when `apply`), the
    gradients and the scratch memory."""
    classes, inputs = weight.shape
    require("weight", weight, FLOAT32, (classes, inputs), writable=apply)
    if bias is not None:
        require("bias", bias, FLOAT32, (classes,), writable=apply)
    require("grad_w", grad_w, FLOAT32, (classes, inputs), writable=True)
    require("grad_b", grad_b, FLOAT32, (classes,), writable=True)
    require("work", work, FLOAT32, (workspace_size,), writable=True)


def require(
    name: str,
    a: np.ndarray,
    dtype: np.dtype | tuple[np.dtype, ...],
    shape: tuple[int, ...],
    writable: bool = False,
) -> None:
    """`a` is a contiguous array of `dtype` (or one of a tuple of them) and `shape` (-1: any
    length there). Called a few times per step: kept to plain comparisons."""
    dtypes = dtype if isinstance(dtype, tuple) else (dtype,)
    if not isinstance(a, np.ndarray) or a.dtype not in dtypes:
        got = a.dtype if isinstance(a, np.ndarray) else type(a).__name__
        expected = " or ".join(str(d) for d in dtypes)
        raise ValueError(f"fused step: {name} must be {expected}, got {got}")
    if a.ndim != len(shape) or any(w not in (-1, g) for w, g in zip(shape, a.shape, strict=True)):
        raise ValueError(f"fused step: {name} must have shape {shape}, got {a.shape}")
    if not a.flags.c_contiguous:
        raise ValueError(f"fused step: {name} must be contiguous")
    if writable and not a.flags.writeable:
        raise ValueError(f"fused step: {name} must be writable")
