"""A run folder at a glance: its settings, what became of it and its results. `softmaxreg
runs`, `softmaxreg compare` and a sweep's summary.csv all read runs through `summarize`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config import PARAMS
from ..errors import SoftmaxRegError
from .history import EpochRecord, best_val_epoch
from .rundir import FAILED, FINISHED, RunDir
from .sweepdir import SweepDir

UNREADABLE = "unreadable"
TRAINING_SETTINGS = tuple(name for name, p in PARAMS.items() if not p.runtime)


@dataclass
class RunSummary:
    path: Path
    status: str  # finished, stopped, failed, running (or unreadable)
    settings: dict[str, Any] = field(default_factory=dict)  # every TrainConfig setting
    history: list[EpochRecord] = field(default_factory=list)
    kept_epoch: int | None = None  # a finished run with early stopping: the epoch it kept
    reason: str = ""  # why it failed (or cannot be read)

    @property
    def epochs_done(self) -> int:
        return len(self.history)

    @property
    def model_record(self) -> EpochRecord | None:
        """The epoch whose weights the run's model holds: the kept one, else the last."""
        if not self.history:
            return None
        return self.history[(self.kept_epoch or len(self.history)) - 1]

    @property
    def test_acc(self) -> float | None:
        """Test accuracy of the run's model (model.safetensors, or the last checkpoint)."""
        record = self.model_record
        return None if record is None else record.test_acc

    @property
    def best_test(self) -> EpochRecord | None:
        """The epoch of the highest test accuracy (the first of equals)."""
        return max(self.history, key=lambda r: r.test_acc) if self.history else None

    @property
    def seconds(self) -> float:
        """Training and evaluation time, summed over the epochs (metrics.csv's seconds)."""
        return sum(r.seconds for r in self.history)

    def results(self) -> dict[str, Any]:
        """The results as plain values, in the order summary tables show them."""
        best = self.best_test
        return {
            "status": self.status,
            "epochs": self.epochs_done,
            "final_test_acc": self.test_acc,
            "best_test_acc": best.test_acc if best else None,
            "best_epoch": best.epoch if best else None,
            "kept_epoch": self.kept_epoch,
            "seconds": round(self.seconds, 4),
            "reason": self.reason,
        }


def summarize(run: RunDir) -> RunSummary:
    """What `run` holds; a folder whose record cannot be read is UNREADABLE, with the reason."""
    try:
        status = run.status
        config = run.config()
        history = run.history()
    except (SoftmaxRegError, OSError, ValueError, KeyError) as exc:
        return RunSummary(run.path, UNREADABLE, reason=" ".join(str(exc).split()))
    kept = None
    if status == FINISHED and config.early_stop:
        kept = best_val_epoch(history)
    failure = run.failure() if status == FAILED else None
    reason = str(failure.get("reason", "")) if failure else ""
    return RunSummary(run.path, status, config.as_dict(), history, kept, reason)


def find_runs(root: str | Path) -> list[RunDir]:
    """Every run folder under `root` (itself included), searched recursively so that the runs
    of a sweep show; hidden folders are skipped. Folders come in name order, a sweep's runs
    in the order of its plan."""
    root = Path(root)
    if (root / RunDir.CONFIG).is_file():
        return [RunDir(root)]  # a run folder holds no runs
    try:
        children = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    except OSError:  # unreadable: nothing to list there
        return []
    planned = _plan_order(root)
    children.sort(key=lambda p: planned.get(p.name, len(planned)))  # stable: names otherwise
    return [run for child in children for run in find_runs(child)]


def _plan_order(folder: Path) -> dict[str, int]:
    try:
        plan = SweepDir(folder).plan()
    except SoftmaxRegError:
        return {}
    return {name: i for i, name in enumerate((plan or {}).get("runs", {}))}


def differing_settings(summaries: list[RunSummary]) -> list[str]:
    """The settings that say what to train (in TrainConfig's order) whose values are not the
    same in every run; how the runs ran (engine, device, threads) is left out."""
    readable = [s for s in summaries if s.settings]
    return [
        name
        for name in TRAINING_SETTINGS
        if len({repr(s.settings.get(name)) for s in readable}) > 1
    ]
