"""Minibatch SGD for softmax regression on numpy arrays, around the fused step (softmaxreg.kernel):
the loop that the scikit-learn estimator runs, with no torch anywhere.

The step takes float32 rows as they lie and multiplies each product by `scale`, so inputs are
rescaled without a copy: the estimator passes the factor that brings the mean squared row norm
to 1, which makes one learning rate fit pixels in [0, 1], raw 0..255 values and standardised
features alike. The update is torch.optim.SGD's rule (the fused engine's): L2 decay added to the
gradient, momentum buffers started from the first gradient, Nesterov's look-ahead; where there
is neither momentum nor decay the step applies plain SGD in place itself.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..config import cosine_lr
from ..errors import DivergenceError
from ..kernel import CompiledStep, NumpyStep


@dataclass(frozen=True)
class SGDSettings:
    """The estimator's hyperparameters as the loop uses them."""

    learning_rate_init: float
    learning_rate: str  # "constant" or "cosine" (from learning_rate_init down to 1/100 of it)
    batch_size: int
    max_iter: int  # epochs
    momentum: float
    nesterovs_momentum: bool
    alpha: float  # L2 penalty on the weights in the caller's units: alpha / 2 * ||coef||^2
    shuffle: bool
    tol: float | None
    n_iter_no_change: int


@dataclass
class SGDResult:
    loss_curve: list[float]  # per epoch: mean weighted cross-entropy + the L2 penalty
    n_iter: int  # epochs run
    stopped_early: bool  # tol was met before max_iter


def lr_at(settings: SGDSettings, step: int, steps: int) -> float:
    """The learning rate of 0-based `step` out of `steps`: constant, or cosine per step."""
    lr = settings.learning_rate_init
    if settings.learning_rate == "constant":
        return lr
    return cosine_lr(lr, step, steps)  # the training runs' schedule, taken per step here


def fit_sgd(
    step: CompiledStep | NumpyStep,
    rows: np.ndarray,  # (n, features) float32, C-contiguous
    labels: np.ndarray,  # (n,) int64 class indices
    sample_weight: np.ndarray | None,  # (n,) float32, or None (every example weighs 1)
    weight: np.ndarray,  # (classes, features) float32, trained in place (scaled units)
    bias: np.ndarray,  # (classes,) float32, trained in place
    scale: float,  # logits = scale * weight @ x + bias
    settings: SGDSettings,
    rng: np.random.RandomState,
    report: Callable[[int, float], None] | None = None,  # called with (epoch, loss) per epoch
) -> SGDResult:
    """Runs up to `settings.max_iter` epochs; raises DivergenceError on a non-finite loss."""
    n = len(rows)
    batch = min(settings.batch_size, n)
    steps_per_epoch = -(-n // batch)
    total_steps = settings.max_iter * steps_per_epoch
    grad_w, grad_b = np.empty_like(weight), np.empty_like(bias)
    work = step.workspace(weight.shape[1], weight.shape[0])
    update = MomentumUpdate(settings, scale)
    order = np.arange(n, dtype=np.int64)
    best, stale, curve = math.inf, 0, []
    for epoch in range(settings.max_iter):
        if settings.shuffle:
            rng.shuffle(order)
        epoch_labels = labels[order]  # one gather per epoch; each batch is then a view
        loss_sum = 0.0
        for s, start in enumerate(range(0, n, batch)):
            lr = lr_at(settings, epoch * steps_per_epoch + s, total_steps)
            index, y = order[start : start + batch], epoch_labels[start : start + batch]
            plain = update.is_plain
            loss, _ = step(
                rows,
                index,
                y,
                weight,
                bias,
                grad_w,
                grad_b,
                work,
                scale=scale,
                lr=lr,
                apply=plain,
                sample_weight=sample_weight,
            )
            loss_sum += loss
            if not plain:
                update(weight, bias, grad_w, grad_b, lr)
        epoch_loss = loss_sum / n + penalty(weight, settings.alpha * scale**2)
        if not math.isfinite(epoch_loss):
            raise DivergenceError(
                f"training diverged in epoch {epoch + 1} (the loss is not finite): lower "
                f"learning_rate_init (now {settings.learning_rate_init:g}), or scale the "
                "features (a StandardScaler in a Pipeline)"
            )
        curve.append(epoch_loss)
        if report is not None:
            report(epoch + 1, epoch_loss)
        if settings.tol is not None:
            stale = stale + 1 if epoch_loss > best - settings.tol else 0
            best = min(best, epoch_loss)
            if stale >= settings.n_iter_no_change:
                return SGDResult(curve, epoch + 1, stopped_early=True)
    return SGDResult(curve, settings.max_iter, stopped_early=False)


def penalty(weight: np.ndarray, decay: float) -> float:
    """decay / 2 * ||weight||^2 (inf when the weights overflowed: the caller reports it)."""
    if not decay:
        return 0.0
    with np.errstate(over="ignore", invalid="ignore"):
        return 0.5 * decay * float(np.dot(weight.ravel(), weight.ravel()))


class MomentumUpdate:
    """torch.optim.SGD's update (dampening 0) for the weight and the bias, in numpy: the step
    leaves the gradient, this adds decay and momentum and moves the parameters."""

    def __init__(self, settings: SGDSettings, scale: float) -> None:
        self.momentum = settings.momentum
        self.nesterov = settings.nesterovs_momentum
        # The penalty alpha/2 ||scale * weight||^2 on the caller's coefficients, as a decay of
        # the scaled weight: its gradient is alpha * scale^2 * weight.
        self.decay = settings.alpha * scale**2
        self.is_plain = not self.momentum and not self.decay
        self._buffers: dict[str, np.ndarray] = {}

    def __call__(
        self,
        weight: np.ndarray,
        bias: np.ndarray,
        grad_w: np.ndarray,
        grad_b: np.ndarray,
        lr: float,
    ) -> None:
        if self.decay:
            grad_w += np.float32(self.decay) * weight
        for name, param, grad in (("weight", weight, grad_w), ("bias", bias, grad_b)):
            if self.momentum:
                buf = self._buffers.get(name)
                if buf is None:
                    buf = self._buffers[name] = grad.copy()
                else:
                    buf *= np.float32(self.momentum)
                    buf += grad
                if self.nesterov:
                    grad += np.float32(self.momentum) * buf
                else:
                    grad = buf
            param -= np.float32(lr) * grad
