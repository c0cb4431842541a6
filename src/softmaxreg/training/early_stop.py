"""Early stopping on the validation loss, keeping the best epoch's weights.

The rule is Keras' `EarlyStopping(monitor="val_loss", patience=P, restore_best_weights=True)`
with min_delta 0: an epoch is an improvement when its validation loss is strictly below every
earlier one, and training stops once P epochs in a row were not. The best epoch is therefore
`records.history.best_val_epoch(history)`, which the figure and the report mark too. The best
weights travel in every checkpoint (as ``best.weight``, ``best.bias``), so a resumed run keeps
the same ones.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from torch import nn

from ..errors import CheckpointError
from ..records.history import EpochRecord, best_val_epoch
from .model import linear_of

PREFIX = "best."


class EarlyStopping:
    """Callback: watch each epoch's validation loss, remember the best epoch's weights, and set
    `trainer.stop_training` once `patience` epochs have passed without an improvement."""

    def __init__(self, patience: int, model: nn.Module) -> None:
        linear = linear_of(model)
        if linear is None or linear.bias is None:
            raise ValueError("early stopping keeps the weights of a Flatten + Linear model")
        self.patience = patience
        self.linear = linear
        self.best_epoch: int | None = None
        self.best_loss = math.inf
        self.best_weights: dict[str, np.ndarray] = {}
        self.stopped_after: int | None = None  # the last epoch trained, when it stopped early

    def on_epoch_end(self, trainer, record: EpochRecord) -> None:
        if record.val_loss is None:
            raise ValueError("early stopping needs a validation split")
        if record.val_loss < self.best_loss:
            self.best_loss, self.best_epoch = record.val_loss, record.epoch
            self.best_weights = {
                "weight": self.linear.weight.detach().cpu().numpy().copy(),
                "bias": self.linear.bias.detach().cpu().numpy().copy(),
            }
        if self.exhausted(record.epoch):
            self.stopped_after = record.epoch
            trainer.stop_training = True

    def exhausted(self, epoch: int) -> bool:
        """Whether `patience` epochs up to `epoch` went by without an improvement."""
        return self.best_epoch is not None and epoch - self.best_epoch >= self.patience

    def arrays(self) -> dict[str, np.ndarray]:
        """The best weights so far, named as a checkpoint holds them."""
        return {PREFIX + name: value for name, value in self.best_weights.items()}

    def restore(self, history: Sequence[EpochRecord], arrays: dict[str, np.ndarray], path) -> None:
        """Take up where a checkpoint left off: the best epoch from the history, its weights
        from the checkpoint's arrays."""
        self.best_epoch = best_val_epoch(history)
        if self.best_epoch is None:
            return
        self.best_loss = float(history[self.best_epoch - 1].val_loss)  # type: ignore[arg-type]
        weights = {name: arrays.get(PREFIX + name) for name in ("weight", "bias")}
        if any(value is None for value in weights.values()):
            raise CheckpointError(
                f"{path}: no best-epoch weights for early stopping; the file is damaged or was "
                "written without early stopping"
            )
        self.best_weights = {name: np.array(value) for name, value in weights.items()}
        if history and self.exhausted(history[-1].epoch):
            self.stopped_after = history[-1].epoch
