"""The epoch loop: the book's per-epoch metrics, callbacks, divergence checks, clean stops.

Semantics follow d2l's `train_ch3`: per epoch, the training loss and accuracy are accumulated
over that epoch's minibatches as they are computed (before each update), then the test
accuracy is measured once (and the validation loss and accuracy, when there is a validation
split). A callback ends training early by setting `stop_training`, as in Keras. The loop's
position (epoch, step within it, the shuffling generator's state at the epoch's start, partial
sums) is explicit, so a checkpoint can capture it anywhere and a resumed run continues
bit-identically.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import DivergenceError, Interrupted
from ..records.history import EpochRecord
from .engines import Engine
from .loader import InMemorySplit, TrainSplit


class TrainingWarning(UserWarning):
    """Training goes on, but something looks wrong (e.g. a far too large learning rate)."""


@dataclass
class Position:
    """Where training stands: `epoch` epochs are complete and `step` steps of the next are done."""

    epoch: int = 0
    step: int = 0
    loss_sum: float = 0.0
    correct: int = 0
    count: int = 0
    seconds: float = 0.0
    epoch_rng: torch.Tensor | None = None  # shuffling generator state at the epoch's start


@dataclass
class Trainer:
    model: nn.Module
    engine: Engine
    train: TrainSplit
    test: InMemorySplit
    epochs: int
    batch_size: int
    generator: torch.Generator
    lr_at: Callable[[int], float] | None = None  # learning rate for a 0-based epoch
    callbacks: Sequence[object] = ()
    should_stop: Callable[[], bool] = lambda: False
    history: list[EpochRecord] = field(default_factory=list)
    position: Position = field(default_factory=Position)
    num_classes: int = 10
    val: InMemorySplit | None = None  # held out of the training set, scored after each epoch
    stop_training: bool = False  # set by a callback (early stopping) to end after this epoch
    eval_seconds: float = 0.0  # time spent measuring test accuracy, for benchmarks
    _warned: bool = False

    @property
    def optimizer(self):
        return self.engine.optimizer

    def run(self) -> list[EpochRecord]:
        self.test.keep_floats()  # evaluated after every epoch: convert it once
        if self.val is not None:
            self.val.keep_floats()
        while self.position.epoch < self.epochs and not self.stop_training:
            pos = self.position
            if pos.step == 0:
                pos.epoch_rng = self.generator.get_state()
            else:  # resuming inside an epoch: replay the same permutation
                assert pos.epoch_rng is not None
                self.generator.set_state(pos.epoch_rng)
            self._run_epoch(pos)
        return self.history

    def _run_epoch(self, pos: Position) -> None:
        if self.lr_at is not None:
            for group in self.optimizer.param_groups:
                group["lr"] = self.lr_at(pos.epoch)
        steps = self.train.num_batches(self.batch_size)
        self._emit("on_epoch_start", pos.epoch + 1, steps)
        self.model.train()
        started = time.perf_counter()
        # Looked up once: a step is a few hundred microseconds, a hook call about one.
        step_hooks = [cb.on_step for cb in self.callbacks if hasattr(cb, "on_step")]
        step = self.engine.step_rows
        for pixels, rows, y in self.train.batches(self.batch_size, self.generator, pos.step):
            loss_sum, correct = step(pixels, rows, y)
            if not math.isfinite(loss_sum):
                kept = (
                    f"the checkpoint keeps epoch {pos.epoch}'s weights"
                    if pos.epoch
                    else "no epoch was completed, so no weights are kept"
                )
                raise DivergenceError(
                    f"training diverged: non-finite loss at epoch {pos.epoch + 1} step "
                    f"{pos.step + 1} (learning rate {self._lr():g}); {kept}; try a smaller "
                    f"--lr (e.g. {self._lr() / 10:g}) or --init-std"
                )
            pos.loss_sum += loss_sum
            pos.correct += correct
            pos.count += len(y)
            pos.step += 1
            for hook in step_hooks:
                hook(pos.step, steps)
            if self.should_stop() and pos.step < steps:
                pos.seconds += time.perf_counter() - started
                self._emit("on_stop", self)
                raise Interrupted(f"stopped at epoch {pos.epoch + 1} step {pos.step}")
        eval_started = time.perf_counter()
        _, test_acc = evaluate(self.model, self.test)
        val_loss, val_acc = (
            (None, None) if self.val is None else evaluate(self.model, self.val, with_loss=True)
        )
        self.eval_seconds += time.perf_counter() - eval_started
        pos.seconds += time.perf_counter() - started
        record = EpochRecord(
            epoch=pos.epoch + 1,
            train_loss=pos.loss_sum / pos.count,
            train_acc=pos.correct / pos.count,
            test_acc=test_acc,
            seconds=pos.seconds,
            val_loss=val_loss,
            val_acc=val_acc,
        )
        self.history.append(record)
        self._warn_if_loss_exploding(record)
        self.position = pos = Position(epoch=pos.epoch + 1)
        self._emit("on_epoch_end", self, record)
        if self.should_stop() and pos.epoch < self.epochs and not self.stop_training:
            self._emit("on_stop", self)
            raise Interrupted(f"stopped after epoch {pos.epoch}")

    def _lr(self) -> float:
        return float(self.optimizer.param_groups[0]["lr"])

    def _warn_if_loss_exploding(self, record: EpochRecord) -> None:
        # An untrained model scores about ln(C); an epoch far above that means the step size
        # is throwing the weights around even though the stable loss stays finite.
        untrained = math.log(self.num_classes)
        if not self._warned and record.train_loss > 10 * untrained:
            self._warned = True
            warnings.warn(
                f"epoch {record.epoch} training loss {record.train_loss:.4g} is far above an "
                f"untrained model's ln({self.num_classes}) = {untrained:.2f}: learning rate "
                f"{self._lr():g} is probably too large; try --lr {self._lr() / 10:g}",
                TrainingWarning,
                stacklevel=2,
            )

    def _emit(self, hook: str, *args) -> None:
        for cb in self.callbacks:
            method = getattr(cb, hook, None)
            if method is not None:
                method(*args)


@torch.no_grad()
def evaluate(
    model: nn.Module, split: InMemorySplit, with_loss: bool = False, chunk: int = 10000
) -> tuple[float | None, float]:
    """(mean cross-entropy, accuracy) over `split`, in large ordered chunks without autograd;
    the loss (the stable log-sum-exp form) only `with_loss`, else None.

    For a whole test set at once, the model's own X W^T layout is the fast one here (the
    opposite of a training step's 256 rows), and it is the arithmetic `Classifier` uses."""
    was_training = model.training
    model.eval()
    loss_sum, correct = 0.0, 0
    for X, y in split.chunks(chunk):
        logits = model(X)
        if with_loss:
            loss_sum += float(F.cross_entropy(logits, y, reduction="sum"))
        correct += int((logits.argmax(dim=1) == y).sum())
    model.train(was_training)
    return (loss_sum / len(split) if with_loss else None), correct / len(split)
