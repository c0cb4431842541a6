"""The fused SGD step of softmax regression on numpy arrays, in two forms.

`CompiledStep` calls the compiled library (`_fused_step.c`) through ctypes. `pip install`
builds it where a C compiler exists (setup.py); it is a plain shared library, so neither
Python's headers nor a torch extension toolchain are involved, and loading it costs about a
millisecond. `NumpyStep` is the same step written in numpy, for installs without a compiler.
Both take the same arguments and need numpy only: a CPU tensor hands its memory over through
`.numpy()`, so PyTorch code calls the step without a copy, and code without torch (the
scikit-learn estimator) can call it too. The rows are uint8 pixels (scaled by `scale` inside
the step) or float32 features (which may also carry a weight per example).

`CompiledStep` checks every buffer on every call. A caller that steps many times on the same
model buffers (the training engine) binds them once (`CompiledStep.bind`, checked then) and
its steps check only their batch: about 5 µs less per step, of a step of 150-200 µs.

Where the library is missing (no compiler at install time), stale (another ABI version) or
foreign, `load_compiled_step()` returns None; `load_step()` then gives the numpy form.
"""

from __future__ import annotations

import ctypes
import functools
import sys
from pathlib import Path

import numpy as np

from .arguments import check_batch, check_model_buffers, check_step_arguments, model_inputs
from .numpy_step import NumpyStep

LIBRARY_STEM = "_fused_step"
ABI_VERSION = 3  # must equal ABI_VERSION in _fused_step.c
ERRORS = {-1: "a batch index is outside the data set", -2: "a label is outside the classes"}
# What stays the same from step to step: weight, bias (or None), grad_w, grad_b, work.
ModelBuffers = tuple[np.ndarray, np.ndarray | None, np.ndarray, np.ndarray, np.ndarray]

__all__ = ["BoundStep", "CompiledStep", "NumpyStep", "load_compiled_step", "load_step"]


class CompiledStep:
    """One SGD step on rows of a data set (uint8 pixels or float32 features), gathered by
    index inside the compiled kernel."""

    def __init__(self, library: ctypes.CDLL) -> None:
        ptr, i64, f32, f64 = ctypes.c_void_p, ctypes.c_int64, ctypes.c_float, ctypes.c_double
        # After the rows' arguments, both entry points take the same ones.
        model = [f64, ptr, ptr, i64, f32, f32, ctypes.c_int, ptr, ptr, ptr, ptr, ptr]
        self._steps = {}
        for dtype, name, rows in (
            (np.uint8, "softmaxreg_fused_step", [ptr, i64, i64, ptr, ptr, i64]),
            (np.float32, "softmaxreg_fused_step_f32", [ptr, i64, i64, ptr, ptr, ptr, i64]),
        ):
            f = getattr(library, name)
            f.argtypes, f.restype = rows + model, ctypes.c_int
            self._steps[np.dtype(dtype)] = f
        size = library.softmaxreg_fused_step_workspace
        size.argtypes, size.restype = [i64, i64], i64
        self._workspace_size = size
        self._workspace_sizes: dict[tuple[int, int], int] = {}

    def workspace_size(self, inputs: int, classes: int) -> int:
        """Float32 values of scratch a call needs (asked of the library once per shape)."""
        key = (inputs, classes)
        if key not in self._workspace_sizes:
            self._workspace_sizes[key] = self._workspace_size(inputs, classes)
        return self._workspace_sizes[key]

    def workspace(self, inputs: int, classes: int) -> np.ndarray:
        """Scratch memory for one call (a few blocks of examples)."""
        return np.empty(self.workspace_size(inputs, classes), dtype=np.float32)

    def __call__(
        self,
        images: np.ndarray,  # (n, inputs) uint8 pixels or float32 features: the whole data set
        index: np.ndarray,  # (batch,) int64: the rows of this minibatch
        labels: np.ndarray,  # (batch,) int64
        weight: np.ndarray,  # (classes, inputs) float32, updated in place when `apply`
        bias: np.ndarray | None,  # (classes,) float32
        grad_w: np.ndarray,  # (classes, inputs) float32: the gradient, unless `apply`
        grad_b: np.ndarray,  # (classes,) float32
        work: np.ndarray,  # float32 scratch, from workspace(inputs, classes)
        *,
        scale: float,  # the inputs' scale (1/255 for raw pixels, 1 for features)
        lr: float,
        apply: bool,  # plain SGD in place; else the gradient is left in grad_w, grad_b
        norm: int | None = None,  # the loss is averaged over norm examples (default: batch)
        sample_weight: np.ndarray | None = None,  # (n,) float32, one per row; float32 rows only
    ) -> tuple[float, int]:
        """Returns the batch's summed (weighted) loss and correct count. Every buffer is
        checked first: a wrong one raises ValueError and nothing is read or written."""
        norm = check_step_arguments(
            images,
            index,
            labels,
            weight,
            bias,
            grad_w,
            grad_b,
            work,
            self.workspace_size(*weight.shape[::-1]) if getattr(weight, "ndim", 0) == 2 else 0,
            apply=apply,
            norm=norm,
            sample_weight=sample_weight,
        )
        model = (weight, bias, grad_w, grad_b, work)
        return self._run(images, index, labels, model, norm, scale, lr, apply, sample_weight)

    def bind(
        self,
        weight: np.ndarray,
        bias: np.ndarray | None,
        grad_w: np.ndarray,
        grad_b: np.ndarray,
        work: np.ndarray,
    ) -> BoundStep:
        """The step on these model buffers, checked now (all writable, since a step may
        apply the update): each call then checks only its batch. For a caller that steps
        many times on the same buffers, as the training engine does."""
        inputs = model_inputs(weight)
        size = self.workspace_size(inputs, weight.shape[0])
        check_model_buffers(weight, bias, grad_w, grad_b, work, size, apply=True)
        return BoundStep(self, (weight, bias, grad_w, grad_b, work))

    def _run(
        self,
        images: np.ndarray,
        index: np.ndarray,
        labels: np.ndarray,
        model: ModelBuffers,
        norm: int,
        scale: float,
        lr: float,
        apply: bool,
        sample_weight: np.ndarray | None,
    ) -> tuple[float, int]:
        """The library's call, on buffers already checked."""
        weight, bias, grad_w, grad_b, work = model
        # Results land in this call's own slots: the call runs without the GIL, so another
        # thread may be inside the same function at the same time.
        loss, correct = ctypes.c_double(), ctypes.c_int64()
        rows = [
            images.ctypes.data,
            len(images),
            weight.shape[1],
            index.ctypes.data,
            labels.ctypes.data,
        ]
        if images.dtype == np.float32:  # the float32 entry point also takes the weights
            rows.append(None if sample_weight is None else sample_weight.ctypes.data)
        status = self._steps[images.dtype](
            *rows,
            len(index),
            float(norm),
            weight.ctypes.data,
            None if bias is None else bias.ctypes.data,
            weight.shape[0],
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


class BoundStep:
    """`CompiledStep` on model buffers checked once (`CompiledStep.bind`): a call takes the
    batch and checks only it, which is what changes from one step to the next."""

    def __init__(self, step: CompiledStep, model: ModelBuffers) -> None:
        self._step = step
        self._model = model
        self._inputs = model[0].shape[1]

    def __call__(
        self,
        images: np.ndarray,
        index: np.ndarray,
        labels: np.ndarray,
        *,
        scale: float,
        lr: float,
        apply: bool,
        norm: int | None = None,
        sample_weight: np.ndarray | None = None,
    ) -> tuple[float, int]:
        """As `CompiledStep.__call__`, on the bound buffers."""
        norm = check_batch(
            images, index, labels, self._inputs, norm=norm, sample_weight=sample_weight
        )
        return self._step._run(
            images, index, labels, self._model, norm, scale, lr, apply, sample_weight
        )


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
        return CompiledStep(library)
    except (OSError, AttributeError):  # built for another machine, or before the ABI symbol
        return None


def load_step() -> CompiledStep | NumpyStep:
    """The compiled step where the library is built and current, else its numpy form."""
    return load_compiled_step() or NumpyStep()
