"""The compiled fused step (`_fused_step.c`), called through ctypes on numpy arrays.

`pip install` builds it where a C compiler exists (setup.py); it is a plain shared library, so
neither Python's headers nor a torch extension toolchain are involved, and loading it costs
about a millisecond. This module needs numpy only: a CPU tensor hands its memory over through
`.numpy()`, so PyTorch code calls it without a copy, and code without torch can call it too.
Where the library is missing (no compiler at install time), stale (another ABI version) or
foreign, `load_compiled_step()` returns None and callers run their own form of the step.
"""

from __future__ import annotations

import ctypes
import functools
import sys
from pathlib import Path

import numpy as np

LIBRARY_STEM = "_fused_step"
ABI_VERSION = 2  # must equal ABI_VERSION in _fused_step.c
ERRORS = {-1: "a batch index is outside the data set", -2: "a label is outside the classes"}


class CompiledStep:
    """One SGD step on rows of a uint8 data set, gathered by index inside the kernel."""

    def __init__(self, library: ctypes.CDLL, path: Path) -> None:
        self.path = path
        f = library.softmaxreg_fused_step
        ptr, i64, f32, f64 = ctypes.c_void_p, ctypes.c_int64, ctypes.c_float, ctypes.c_double
        f.argtypes = [
            ptr,
            i64,
            i64,
            ptr,
            ptr,
            i64,
            f64,
            ptr,
            ptr,
            i64,
            f32,
            f32,
            ctypes.c_int,
            ptr,
            ptr,
            ptr,
            ptr,
            ptr,
        ]
        f.restype = ctypes.c_int
        self._step = f
        size = library.softmaxreg_fused_step_workspace
        size.argtypes, size.restype = [i64, i64], i64
        self._workspace_size = size

    def workspace(self, inputs: int, classes: int) -> np.ndarray:
        """Scratch memory for one call (a few blocks of examples)."""
        return np.empty(self._workspace_size(inputs, classes), dtype=np.float32)

    def __call__(
        self,
        images: np.ndarray,  # (n, inputs) uint8: the whole data set (or a buffer of it)
        index: np.ndarray,  # (batch,) int64: the rows of this minibatch
        labels: np.ndarray,  # (batch,) int64
        weight: np.ndarray,  # (classes, inputs) float32, updated in place when `apply`
        bias: np.ndarray | None,  # (classes,) float32
        grad_w: np.ndarray,  # (classes, inputs) float32: the gradient, unless `apply`
        grad_b: np.ndarray,  # (classes,) float32
        work: np.ndarray,  # float32 scratch, from workspace(inputs, classes)
        *,
        scale: float,  # the pixels' scale (1/255 for raw pixels)
        lr: float,
        apply: bool,  # plain SGD in place; else the gradient is left in grad_w, grad_b
        norm: int | None = None,  # the loss is averaged over norm examples (default: batch)
    ) -> tuple[float, int]:
        """Returns the batch's summed loss and correct count. Every buffer is checked first:
        a wrong one raises ValueError and nothing is read or written."""
        if weight.ndim != 2:
            raise ValueError(f"fused step: weight must be (classes, inputs), got {weight.shape}")
        classes, inputs = weight.shape
        batch = len(index)
        _require("images", images, np.uint8, (-1, inputs))
        _require("index", index, np.int64, (batch,))
        _require("labels", labels, np.int64, (batch,))
        _require("weight", weight, np.float32, (classes, inputs), writable=apply)
        if bias is not None:
            _require("bias", bias, np.float32, (classes,), writable=apply)
        _require("grad_w", grad_w, np.float32, (classes, inputs), writable=True)
        _require("grad_b", grad_b, np.float32, (classes,), writable=True)
        _require("work", work, np.float32, (self._workspace_size(inputs, classes),), writable=True)
        norm = batch if norm is None else norm
        if norm < 1:
            raise ValueError(f"fused step: norm must be positive, got {norm}")
        # Results land in this call's own slots: the call runs without the GIL, so another
        # thread may be inside the same function at the same time.
        loss, correct = ctypes.c_double(), ctypes.c_int64()
        status = self._step(
            images.ctypes.data,
            len(images),
            inputs,
            index.ctypes.data,
            labels.ctypes.data,
            batch,
            float(norm),
            weight.ctypes.data,
            None if bias is None else bias.ctypes.data,
            classes,
            scale,
            lr,
            int(apply),
            grad_w.ctypes.data,
            grad_b.ctypes.data,
            work.ctypes.data,
            ctypes.addressof(loss),
            ctypes.addressof(correct),
        )
        if status:
            raise ValueError(f"fused step: {ERRORS.get(status, f'error {status}')}")
        return loss.value, correct.value


def _require(name: str, a: np.ndarray, dtype, shape: tuple[int, ...], writable=False) -> None:
    """`a` is a contiguous array of `dtype` and `shape` (-1: any length there)."""
    if not isinstance(a, np.ndarray) or a.dtype != dtype:
        got = a.dtype if isinstance(a, np.ndarray) else type(a).__name__
        raise ValueError(f"fused step: {name} must be {np.dtype(dtype)}, got {got}")
    if a.ndim != len(shape) or any(w not in (-1, g) for w, g in zip(shape, a.shape, strict=True)):
        raise ValueError(f"fused step: {name} must have shape {shape}, got {a.shape}")
    if not a.flags.c_contiguous:
        raise ValueError(f"fused step: {name} must be contiguous")
    if writable and not a.flags.writeable:
        raise ValueError(f"fused step: {name} must be writable")


def library_name() -> str:
    """The file name setup.py gives the library on this platform."""
    suffix = {"win32": ".dll", "darwin": ".dylib"}.get(sys.platform, ".so")
    return LIBRARY_STEM + suffix


def library_path() -> Path | None:
    """The built library next to this file, if there is one."""
    path = Path(__file__).with_name(library_name())
    return path if path.exists() else None


@functools.cache
def load_compiled_step() -> CompiledStep | None:
    """The compiled step, or None where it is missing, stale or cannot be loaded here."""
    path = library_path()
    if path is None:
        return None
    try:
        library = ctypes.CDLL(str(path))
        abi = library.softmaxreg_fused_step_abi
        abi.restype, abi.argtypes = ctypes.c_int, []
        if abi() != ABI_VERSION:
            return None  # built from another version of _fused_step.c
        return CompiledStep(library, path)
    except (OSError, AttributeError):  # built for another machine, or before the ABI symbol
        return None
