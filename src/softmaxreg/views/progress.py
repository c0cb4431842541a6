"""Training progress for people: a tqdm bar per epoch on a terminal (tqdm.auto, so notebooks
get widgets), one plain line per epoch otherwise, nothing with quiet."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TextIO

# A setting's value for people (0.1, 1e-05, true, none); compare and the sweep's picture take
# it from here too.
from ..config import format_setting


def format_epoch(record, epochs: int) -> str:
    width = len(str(epochs))
    val = ""
    if record.val_loss is not None:
        val = f"val loss {record.val_loss:.4f}  val acc {record.val_acc:.4f}  "
    return (
        f"epoch {record.epoch:>{width}}/{epochs}  train loss {record.train_loss:.4f}  "
        f"train acc {record.train_acc:.4f}  test acc {record.test_acc:.4f}  {val}"
        f"{record.seconds:.2f} s"
    )


def format_kept(result) -> str:
    """What early stopping did, for a finished run's `RunResult`."""
    kept = result.history[result.kept_epoch - 1]
    done = len(result.history)
    if result.stopped_early:
        what = (
            f"early stop after epoch {done}: the validation loss has not improved for "
            f"{done - kept.epoch} epochs"
        )
    else:
        what = f"early stopping did not stop the {done} epochs; the best was epoch {kept.epoch}"
    return (
        f"{what}; model.safetensors holds epoch {kept.epoch}'s weights (val loss "
        f"{kept.val_loss:.4f}, test acc {kept.test_acc:.4f})"
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


class SweepBar:
    """A sweep's progress: one tqdm bar over every epoch of every run on a terminal (stderr),
    one line per finished run otherwise; failures are always said, in one line each."""

    def __init__(self, stream: TextIO | None = None, bar: bool | None = None) -> None:
        self.stream = stream or sys.stdout
        self.bar_enabled = sys.stderr.isatty() if bar is None else bar
        self._bar = None
        self.planned: dict[str, int] = {}
        self.reported: dict[str, int] = {}
        self.finished = 0

    def start(self, planned, done) -> None:
        self.planned = dict(planned)
        self.reported = {name: min(done.get(name, 0), n) for name, n in self.planned.items()}
        if self.bar_enabled:
            from tqdm.auto import tqdm

            self._bar = tqdm(
                total=sum(self.planned.values()),
                initial=sum(self.reported.values()),
                desc=f"sweep of {len(self.planned)} runs",
                unit="epoch",
                file=sys.stderr,
                mininterval=0.2,
            )

    def epoch_done(self, name: str, epoch: int) -> None:
        self._advance(name, epoch)

    def run_done(self, name: str, summary) -> None:
        self.finished += 1
        # A run that stopped early (or failed) will not report its remaining epochs.
        self._advance(name, self.planned.get(name, 0))
        line = format_run(name, summary)
        if self._bar is not None:
            if summary.status != "finished":
                self._bar.write(line, file=sys.stderr)
            self._bar.set_postfix_str(f"{self.finished}/{len(self.planned)} runs done")
        else:
            print(line, file=self.stream, flush=True)

    def _advance(self, name: str, epoch: int) -> None:
        step = max(0, epoch - self.reported.get(name, 0))
        self.reported[name] = max(epoch, self.reported.get(name, 0))
        if self._bar is not None and step:
            self._bar.update(step)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def format_run(name: str, summary) -> str:
    """One finished (or failed, or stopped) run of a sweep, in one line."""
    if summary.status == "failed":
        return f"{name}: failed: {summary.reason}"
    if summary.test_acc is None:
        return f"{name}: {summary.status}"
    best = summary.best_test
    kept = f", kept epoch {summary.kept_epoch}" if summary.kept_epoch else ""
    return (
        f"{name}: {summary.status} after {summary.epochs_done} epochs{kept}, test acc "
        f"{summary.test_acc:.4f} (best {best.test_acc:.4f} at epoch {best.epoch}), "
        f"{summary.seconds:.2f} s"
    )


KEY_SETTINGS = ("batch_size", "lr")  # always listed by `softmaxreg runs`, besides what differs


def runs_table(summaries, root: Path) -> str:
    """`softmaxreg runs`: one line per run folder (its path below `root`), its status, the
    key settings and those that differ between the runs, and its results; then why each
    failed run failed."""
    from ..records.summary import differing_settings

    differ = [k for k in differing_settings(list(summaries)) if k != "epochs"]
    shown = [*KEY_SETTINGS, *(k for k in differ if k not in KEY_SETTINGS)]
    header = ["run", "status", "epochs", *shown, "test acc", "best (epoch)", "seconds"]
    rows = []
    for s in summaries:
        best = s.best_test
        planned = s.settings.get("epochs", "?")
        rows.append(
            [
                _below(s.path, root),
                s.status,
                f"{s.epochs_done}/{planned}" + (f" kept {s.kept_epoch}" if s.kept_epoch else ""),
                *(format_setting(s.settings.get(k)) if s.settings else "-" for k in shown),
                "-" if s.test_acc is None else f"{s.test_acc:.4f}",
                "-" if best is None else f"{best.test_acc:.4f} ({best.epoch})",
                f"{s.seconds:.2f}",
            ]
        )
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
        for r in [header, *rows]
    ]
    for s in summaries:
        if s.reason:
            lines.append(f"{_below(s.path, root)}: {s.status}: {s.reason}")
    return "\n".join(lines)


def _below(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root)) if path != root else str(path)
    except ValueError:
        return str(path)
