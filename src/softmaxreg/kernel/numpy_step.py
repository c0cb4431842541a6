"""The fused step written in numpy: what runs where the compiled library is missing (an
install without a C compiler). Same arguments, same checks, same maths as `_fused_step.c`:
logits = scale * (W x) + b, the stable log-sum-exp of section 7.2 (shift by each row's maximum,
so every exponent is <= 0), the gradient weight * (softmax - onehot) / norm, and plain SGD in
place when `apply`. The sums run in BLAS's order instead of the kernel's, so the two forms
agree to float32 rounding, not bit for bit (tests/test_kernel_float.py holds them together).
"""

from __future__ import annotations

import numpy as np

from .arguments import check_step_arguments


class NumpyStep:
    """One SGD step on rows of a data set (uint8 pixels or float32 features), in numpy."""

    def workspace(self, inputs: int, classes: int) -> np.ndarray:
        """No scratch is needed here; an empty one keeps the calls the same for both forms."""
        return np.empty(0, dtype=np.float32)

    def __call__(
        self,
        images: np.ndarray,
        index: np.ndarray,
        labels: np.ndarray,
        weight: np.ndarray,
        bias: np.ndarray | None,
        grad_w: np.ndarray,
        grad_b: np.ndarray,
        work: np.ndarray,
        *,
        scale: float,
        lr: float,
        apply: bool,
        norm: int | None = None,
        sample_weight: np.ndarray | None = None,
    ) -> tuple[float, int]:
        """Returns the batch's summed (weighted) loss and correct count (see CompiledStep)."""
        norm = check_step_arguments(
            images,
            index,
            labels,
            weight,
            bias,
            grad_w,
            grad_b,
            work,
            0,
            apply=apply,
            norm=norm,
            sample_weight=sample_weight,
        )
        classes = weight.shape[0]
        # numpy would wrap a negative index and raise IndexError for a large one: refuse both
        # as the compiled step does, before anything is written.
        if len(index) and (index.min() < 0 or index.max() >= len(images)):
            raise ValueError("fused step: a batch index is outside the data set")
        if len(labels) and (labels.min() < 0 or labels.max() >= classes):
            raise ValueError("fused step: a label is outside the classes")
        rows = np.arange(len(index))
        x = images[index].astype(np.float32, copy=False)  # the batch, unscaled
        z = x @ weight.T
        z *= np.float32(scale)
        if bias is not None:
            z += bias
        z -= z.max(axis=1, keepdims=True)  # a NaN propagates through max
        shifted_true = z[rows, labels]
        correct = int(np.count_nonzero(shifted_true == 0))  # the true class holds the maximum
        np.exp(z, out=z)
        total = z.sum(axis=1)
        example_loss = np.log(total) - shifted_true
        inv_n = np.float32(1.0 / norm)
        if sample_weight is None:
            sw_inv_n = np.full(len(index), inv_n, dtype=np.float32)
            loss = float(example_loss.sum(dtype=np.float64))
        else:
            sw = sample_weight[index]
            sw_inv_n = sw * inv_n
            loss = float(np.dot(sw.astype(np.float64), example_loss.astype(np.float64)))
        z *= (sw_inv_n / total)[:, None]  # softmax / n, from the same exponentials
        z[rows, labels] -= sw_inv_n
        np.sum(z, axis=0, out=grad_b)
        np.matmul(z.T, x, out=grad_w)
        if apply:
            weight -= np.float32(lr * scale) * grad_w
            if bias is not None:
                bias -= np.float32(lr) * grad_b
        else:
            grad_w *= np.float32(scale)
        return loss, correct
