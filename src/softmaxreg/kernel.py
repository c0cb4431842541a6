"""The compiled fused step (`_fused_step.c`), called through ctypes.

`pip install` builds it where a C compiler exists (setup.py); it is a plain shared library, so
neither Python headers nor a torch extension toolchain are involved, and loading it costs about
a millisecond. Where it is missing (no compiler at install time) `compiled_step()` returns None
and the fused engine runs its PyTorch form: the same maths, equal to float rounding (the tests
hold both forms and autograd to 1e-5).
"""

from __future__ import annotations

import ctypes
import functools
import importlib.machinery
from pathlib import Path

import torch

LIBRARY_STEM = "_fused_step"
ERRORS = {-1: "a batch index is outside the data set", -2: "a label is outside the classes"}


class CompiledStep:
    """One SGD step on rows of a uint8 data set, gathered by index inside the kernel."""

    def __init__(self, library: ctypes.CDLL, path: Path) -> None:
        self.path = path
        f = library.softmaxreg_fused_step
        ptr, i64, f32 = ctypes.c_void_p, ctypes.c_int64, ctypes.c_float
        f.argtypes = [ptr, i64, i64, ptr, ptr, i64, ptr, ptr, i64, f32, f32, ctypes.c_int,
                      ptr, ptr, ptr, ptr, ptr]  # fmt: skip
        f.restype = ctypes.c_int
        self._step = f
        size = library.softmaxreg_fused_step_workspace
        size.argtypes, size.restype = [i64, i64], i64
        self._workspace_size = size

    @staticmethod
    def supports(*tensors: torch.Tensor | None) -> bool:
        """Whether weights (and bias) can be updated by the kernel: float32, CPU, contiguous."""
        return all(
            t is None or (t.dtype is torch.float32 and t.is_cpu and t.is_contiguous())
            for t in tensors
        )

    def __call__(
        self,
        images: torch.Tensor,  # (n, inputs) uint8, CPU, contiguous
        index: torch.Tensor,  # (batch,) int64: the rows of this minibatch
        labels: torch.Tensor,  # (batch,) int64
        weight: torch.Tensor,  # (classes, inputs) float32, updated in place when `apply`
        bias: torch.Tensor | None,
        scale: float,  # the pixels' scale (1/255 for raw pixels)
        lr: float,
        apply: bool,  # plain SGD in place; else the gradient is left in grad_w, grad_b
        grad_w: torch.Tensor,
        grad_b: torch.Tensor,
        work: torch.Tensor,  # scratch, from workspace(inputs, classes)
    ) -> tuple[float, int]:
        """Returns the batch's summed loss and correct count."""
        for name, t, dtype in (("images", images, torch.uint8), ("index", index, torch.int64),
                               ("labels", labels, torch.int64)):  # fmt: skip
            if t.dtype is not dtype or not t.is_cpu or not t.is_contiguous():
                raise ValueError(f"fused step: {name} must be contiguous {dtype} on the CPU")
        if len(labels) != len(index) or images.dim() != 2:
            raise ValueError("fused step: one label per index and (n, inputs) images needed")
        classes, inputs = weight.shape
        if images.shape[1] != inputs:
            raise ValueError(f"fused step: images have {images.shape[1]} pixels, not {inputs}")
        # Results land in this call's own slots: the call runs without the GIL, so another
        # thread may be inside the same function at the same time.
        loss, correct = ctypes.c_double(), ctypes.c_int64()
        status = self._step(
            images.data_ptr(), len(images), inputs, index.data_ptr(), labels.data_ptr(),
            len(index), weight.data_ptr(), 0 if bias is None else bias.data_ptr(), classes,
            scale, lr, int(apply), grad_w.data_ptr(), grad_b.data_ptr(), work.data_ptr(),
            ctypes.addressof(loss), ctypes.addressof(correct),
        )  # fmt: skip
        if status:
            raise ValueError(f"fused step: {ERRORS.get(status, f'error {status}')}")
        return loss.value, correct.value

    def workspace(self, inputs: int, classes: int) -> torch.Tensor:
        """Scratch memory for one call (a few blocks of examples)."""
        return torch.empty(self._workspace_size(inputs, classes), dtype=torch.float32)


def library_path() -> Path | None:
    """The built library next to this file (its name carries the interpreter's tag)."""
    here = Path(__file__).parent
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        path = here / f"{LIBRARY_STEM}{suffix}"
        if path.exists():
            return path
    return None


@functools.cache
def compiled_step() -> CompiledStep | None:
    """The compiled step, or None where the package was installed without it."""
    path = library_path()
    if path is None:
        return None
    try:
        return CompiledStep(ctypes.CDLL(str(path)), path)
    except (OSError, AttributeError):  # built for another machine, or an older build
        return None
