"""A run folder, the one owner of its file names: `RunDir` reads and writes a run's record
(config.json), metrics, checkpoint and model, and says what state the run is in.

    runs/<name>/
      config.json             written first: every setting, versions, the data's provenance
      checkpoint.safetensors  after every epoch (and on a clean stop): enough to resume
      metrics.csv, .json      after every epoch
      curves.svg, .png        the book's figure, at the end
      model.safetensors       last: its presence marks the run finished
      status.json             only while a run that failed (it diverged, say) is unfinished
      report.html, confusion.*, weights.png, predictions.png   made later by report, evaluate

Every file is written atomically (fileio), so a run killed at any moment leaves each file
whole or absent. numpy only: torch-side state is converted by softmaxreg.training.checkpoint.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from ..config import PARAMS, TrainConfig
from ..errors import CheckpointError, ConfigError
from ..fileio import atomic_write_bytes, atomic_write_json
from .history import EpochRecord, metrics_csv, metrics_json, read_metrics_csv
from .modelfile import LinearWeights, model_bytes, read_model
from .tensorfile import read_tensors, tensor_bytes

EMPTY, UNFINISHED, FINISHED = "empty", "unfinished", "finished"
# What became of a run, for people (`softmaxreg runs`): an unfinished run is stopped (Ctrl-C,
# killed, or not started yet) unless its runner recorded a failure, or it is training now.
STOPPED, FAILED, RUNNING = "stopped", "failed", "running"


class RunDir:
    CONFIG = "config.json"
    CHECKPOINT = "checkpoint.safetensors"
    METRICS_CSV = "metrics.csv"
    METRICS_JSON = "metrics.json"
    CURVES = ("curves.svg", "curves.png")
    MODEL = "model.safetensors"
    CONFUSION = ("confusion.svg", "confusion.png")
    WEIGHTS = "weights.png"
    PREDICTIONS = "predictions.png"
    PICTURES = (*CONFUSION, WEIGHTS, PREDICTIONS)
    REPORT = "report.html"
    STATUS = "status.json"
    LOCK = ".lock"

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._record: dict[str, Any] | None = None

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    def file(self, name: str) -> Path:
        return self.path / name

    def files_named(self, names: Sequence[str]) -> list[Path]:
        return [self.file(name) for name in names]

    @property
    def files(self) -> tuple[str, ...]:
        """Every file name a run folder may hold."""
        return (
            self.CONFIG,
            self.CHECKPOINT,
            self.METRICS_CSV,
            self.METRICS_JSON,
            *self.CURVES,
            self.MODEL,
            *self.PICTURES,
            self.REPORT,
            self.STATUS,
        )

    @property
    def state(self) -> str:
        """EMPTY (no record yet), UNFINISHED (trained partly, or not yet) or FINISHED."""
        if not self.file(self.CONFIG).is_file():
            return EMPTY
        return FINISHED if self.file(self.MODEL).is_file() else UNFINISHED

    @property
    def status(self) -> str:
        """FINISHED, FAILED (with `failure()` saying why), RUNNING, STOPPED, or EMPTY."""
        state = self.state
        if state != UNFINISHED:
            return state
        if self.failure() is not None:
            return FAILED
        return RUNNING if self.is_locked() else STOPPED

    # -- making and opening ------------------------------------------------------------------

    @classmethod
    def create(cls, path: str | Path, overwrite: bool = False) -> RunDir:
        """A folder for a new run: new, empty, or (with `overwrite`) a run's folder, whose
        files `clear()` removes once the folder's lock is held. Anything else is refused
        before a file is touched."""
        run = cls(path)
        if run.path.exists() and not run.path.is_dir():
            raise ConfigError(
                f"{{name}} {run.path}: exists and is not a folder; choose another {{name}}", "out"
            )
        if run.path.is_dir() and any(p.name != cls.LOCK for p in run.path.iterdir()):
            state = run.state
            if not overwrite:
                what = {FINISHED: "a finished run", UNFINISHED: "an unfinished run"}
                resume = ", {resume} to continue it" if state == UNFINISHED else ""
                raise ConfigError(
                    f"{{name}} {run.path}: already holds {what.get(state, 'other files')}; "
                    f"pass {{overwrite}} to replace it{resume}, or choose another {{name}}",
                    "out",
                    ("overwrite", "resume"),
                )
            if state == EMPTY:
                raise ConfigError(
                    f"{{name}} {run.path}: holds files that are not a softmaxreg run; choose "
                    "another {name}",
                    "out",
                )
        run.path.mkdir(parents=True, exist_ok=True)
        return run

    def clear(self) -> None:
        """Remove every run file (for --overwrite); other files stay."""
        for name in self.files:
            self.file(name).unlink(missing_ok=True)
        self._record = None

    @classmethod
    def existing(cls, path: str | Path) -> RunDir:
        """An existing run folder (finished or not), or a one-line error."""
        run = cls(path)
        if not run.path.is_dir():
            raise ConfigError(f"{run.path}: no such run folder")
        if run.state == EMPTY:
            raise ConfigError(
                f"{run.path}: not a softmaxreg run (no {cls.CONFIG}); pass a folder made by "
                "`softmaxreg train`"
            )
        return run

    @staticmethod
    def default_path(dataset: str, root: str | Path = "runs") -> Path:
        """runs/<dataset>-<date>-<time>, numbered if that exists already."""
        base = Path(root) / f"{dataset}-{time.strftime('%Y%m%d-%H%M%S')}"
        path, n = base, 1
        while path.exists():
            n += 1
            path = base.with_name(f"{base.name}-{n}")
        return path

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Held while a process trains into this folder: a second one is refused at once,
        instead of both writing the same files."""
        from filelock import FileLock, Timeout

        lock = FileLock(str(self.file(self.LOCK)), timeout=0)
        try:
            lock.acquire()
        except Timeout:
            raise ConfigError(
                f"{self.path}: another softmaxreg process is training into this run folder; "
                "wait for it to finish or stop it first"
            ) from None
        try:
            yield
        finally:
            lock.release()

    def is_locked(self) -> bool:
        """Whether a process is training into this folder now (it holds the lock). The probe
        takes the lock for an instant when it is free."""
        from filelock import FileLock, Timeout

        if not self.file(self.LOCK).exists():
            return False
        lock = FileLock(str(self.file(self.LOCK)), timeout=0)
        try:
            lock.acquire()
        except Timeout:
            return True
        except OSError:  # a folder we may only read: nobody trains into it from here
            return False
        lock.release()
        return False

    # -- what became of it: status.json ---------------------------------------------------

    def record_failure(self, reason: str, epochs_done: int) -> None:
        """Say why the run failed (one line), so that it reads as failed, not stopped, until
        it is trained again."""
        failure = {"status": FAILED, "reason": reason, "epochs_done": epochs_done}
        atomic_write_json(self.file(self.STATUS), {**failure, "time": _now()})

    def clear_failure(self) -> None:
        self.file(self.STATUS).unlink(missing_ok=True)

    def failure(self) -> dict[str, Any] | None:
        """The recorded failure of an unfinished run ({"reason": ..., ...}), or None."""
        path = self.file(self.STATUS)
        try:
            status = json.loads(path.read_text())
        except FileNotFoundError:
            return None
        except (ValueError, UnicodeDecodeError):
            return {"status": FAILED, "reason": f"{path}: unreadable"}
        return status if isinstance(status, dict) and status.get("status") == FAILED else None

    # -- the record: config.json -----------------------------------------------------------------

    def write_record(self, record: dict[str, Any]) -> None:
        atomic_write_json(self.file(self.CONFIG), record)
        self._record = record

    def record(self) -> dict[str, Any]:
        if self._record is None:
            path = self.file(self.CONFIG)
            try:
                record = json.loads(path.read_text())
                if not isinstance(record, dict) or not isinstance(record.get("config"), dict):
                    raise ValueError("no settings in it")
            except FileNotFoundError:
                raise ConfigError(f"{self.path}: not a softmaxreg run (no {self.CONFIG})") from None
            except (ValueError, UnicodeDecodeError) as exc:
                raise ConfigError(f"{path}: unreadable run record ({exc})") from None
            self._record = record
        return self._record

    def config(self) -> TrainConfig:
        """The run's settings, as recorded."""
        settings = self.record()["config"]
        try:
            return TrainConfig(**{k: v for k, v in settings.items() if k in PARAMS})
        except ConfigError as exc:
            raise ConfigError(f"{self.file(self.CONFIG)}: {exc}") from None

    def provenance(self) -> dict[str, Any]:
        """The data set the run trained on: name, folder, classes, image shape, files."""
        return dict(self.record().get("dataset") or {})

    # -- metrics ---------------------------------------------------------------------------

    def metrics_files(self, history: Sequence[EpochRecord]) -> dict[Path, bytes]:
        """metrics.csv and metrics.json for `history`: paths and their bytes."""
        return {
            self.file(self.METRICS_CSV): metrics_csv(history),
            self.file(self.METRICS_JSON): metrics_json(history),
        }

    def history(self) -> list[EpochRecord]:
        path = self.file(self.METRICS_CSV)
        return read_metrics_csv(path) if path.is_file() else []

    # -- checkpoint and model --------------------------------------------------------------

    def checkpoint_bytes(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> bytes:
        return tensor_bytes(arrays, "checkpoint", meta)

    def read_checkpoint(self) -> tuple[dict[str, np.ndarray], dict[str, Any]] | None:
        """The last checkpoint's arrays and metadata, or None before the first one."""
        path = self.file(self.CHECKPOINT)
        return read_tensors(path, kinds=("checkpoint",)) if path.is_file() else None

    def write_model(self, weights: LinearWeights) -> Path:
        return atomic_write_bytes(self.file(self.MODEL), model_bytes(weights))

    def model(self) -> LinearWeights:
        """The finished model, or an unfinished run's weights from its last checkpoint."""
        for name in (self.MODEL, self.CHECKPOINT):
            if self.file(name).is_file():
                return read_model(self.file(name))
        raise CheckpointError(
            f"{self.path}: this run has no model yet (no {self.MODEL} or {self.CHECKPOINT}); "
            "train it first, or resume it with `softmaxreg train --resume`"
        )


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def load_weights(path: str | Path) -> tuple[LinearWeights, RunDir | None]:
    """A model from a run folder (and the folder) or from a model file."""
    path = Path(path)
    if path.is_dir():
        if not (path / RunDir.CONFIG).is_file() and not (path / RunDir.MODEL).is_file():
            raise CheckpointError(
                f"{path}: not a softmaxreg run (no {RunDir.MODEL} or {RunDir.CHECKPOINT}); "
                "pass a run folder written by `softmaxreg train` or a .safetensors model"
            )
        run = RunDir(path)
        return run.model(), run if run.state != EMPTY else None
    if not path.exists():
        raise CheckpointError(f"{path}: no such file or folder; pass a run folder or model file")
    return read_model(path), None
