"""Training progress for people: a tqdm bar per epoch on a terminal (tqdm.auto, so notebooks
get widgets), one plain line per epoch otherwise, nothing with quiet."""

from __future__ import annotations

import sys
from typing import TextIO


def format_epoch(record, epochs: int) -> str:
    width = len(str(epochs))
    return (
        f"epoch {record.epoch:>{width}}/{epochs}  train loss {record.train_loss:.4f}  "
        f"train acc {record.train_acc:.4f}  test acc {record.test_acc:.4f}  "
        f"{record.seconds:.2f} s"
    )


class EpochPrinter:
    """One line per finished epoch (epoch, train loss, train acc, test acc, seconds)."""

    def __init__(self, epochs: int, stream: TextIO | None = None, bar: bool | None = None):
        self.epochs = epochs
        self.stream = stream or sys.stdout
        self.bar_enabled = self.stream.isatty() if bar is None else bar
        self._bar = None

    def on_epoch_start(self, epoch: int, steps: int) -> None:
        if self.bar_enabled:
            from tqdm.auto import tqdm

            self._bar = tqdm(
                total=steps,
                desc=f"epoch {epoch}/{self.epochs}",
                leave=False,
                file=sys.stderr,
                unit="batch",
                mininterval=0.1,
            )

    def on_step(self, step: int, steps: int) -> None:
        if self._bar is not None:
            self._bar.update(step - self._bar.n)

    def on_epoch_end(self, trainer, record) -> None:
        self._close()
        print(format_epoch(record, self.epochs), file=self.stream, flush=True)

    def on_stop(self, trainer) -> None:
        self._close()

    def _close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
